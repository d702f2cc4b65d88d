"""Prometheus metrics, one registry per app so two instances can live in one test process."""
from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.intake = Counter("hotline_intake_total", "Requests taken in, by channel and outcome", ["channel", "outcome"], registry=self.registry)
        self.delivery_attempts = Counter("hotline_delivery_attempts_total", "Outbox delivery attempts", ["hop", "outcome"], registry=self.registry)
        self.dead_letters = Counter("hotline_delivery_failures_total", "Deliveries moved to the dead-letter stream", ["hop"], registry=self.registry)
        # Set by whichever process serves /metrics; "livemostrecent" keeps one value in multiprocess mode.
        self.outbox_lag = Gauge("hotline_outbox_lag", "Deliveries waiting or in flight", registry=self.registry, multiprocess_mode="livemostrecent")
        self.dead_letter_depth = Gauge("hotline_dead_letters", "Entries in the dead-letter stream", registry=self.registry, multiprocess_mode="livemostrecent")
        self.http_latency = Histogram(
            "hotline_http_request_duration_seconds", "HTTP request latency", ["method", "route", "status"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self._http_children: dict[tuple[str, str, int], Any] = {}
        self.phone_calls = Counter("hotline_phone_calls_total", "Inbound calls seen on AMI, by outcome", ["outcome"], registry=self.registry)
        self.audio_streams = Counter("hotline_audiosocket_streams_total", "AudioSocket streams, by how they ended", ["reason"], registry=self.registry)
        self.speech_legs = Counter("hotline_speech_legs_total", "Call legs offered to the speech nodes, by leg and outcome (admitted, full, no_node)",
                                   ["leg", "outcome"], registry=self.registry)
        self.speech_failovers = Counter("hotline_speech_failovers_total", "Legs moved to another speech node, by why their node (or the phone leader) went (node_lost, node_stopped, leader_lost)",
                                        ["reason"], registry=self.registry)
        self.speech_lag = Gauge("hotline_speech_lag_seconds", "Worst decoding lag over live legs", registry=self.registry, multiprocess_mode="livemax")
        self.screen_pop = Histogram("hotline_screen_pop_seconds", "AgentCalled received to screen pop published", registry=self.registry,
                                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1))
        self.websockets = Gauge("hotline_agent_websockets", "Connected agent desktops", registry=self.registry, multiprocess_mode="livesum")

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        # labels() costs a lock and a tuple build per call; the set of children is small.
        child = self._http_children.get((method, route, status))
        if child is None:
            child = self._http_children[(method, route, status)] = self.http_latency.labels(method, route, str(status))
        child.observe(seconds)

    def exposition(self) -> bytes:
        """This process's metrics, or all processes' when they share a multiprocess directory."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
