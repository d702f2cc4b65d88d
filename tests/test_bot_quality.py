"""Measured quality on the labelled set (tests/data/bot_eval.yaml) with the sample knowledge base.
Targets: emergency recall 100 %, top-1 answer accuracy >= 90 %, forward precision >= 95 %. The
floors below are what the engine must never fall under; `hotline bot eval` prints the figures."""
from __future__ import annotations

import pytest

from bot.evaluation import evaluate, load_items, render, starter_snapshot


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    result = evaluate(load_items(), starter_snapshot())
    print("\n" + render(result))
    return result


def test_the_set_is_big_enough_and_covers_every_decision(report) -> None:  # type: ignore[no-untyped-def]
    assert report.total >= 300
    assert {want for want, _ in report.confusion} == {"answer", "clarify", "emergency", "legal_channel", "handoff", "forward"}


def test_every_emergency_is_recognised_with_the_right_line(report) -> None:  # type: ignore[no-untyped-def]
    assert report.recall("emergency") == 1.0
    assert report.emergency_right_line == report.emergency_items


def test_top1_answer_accuracy_floor(report) -> None:  # type: ignore[no-untyped-def]
    assert report.top1_accuracy >= 0.90


def test_forward_precision_floor(report) -> None:  # type: ignore[no-untyped-def]
    assert report.precision("forward") >= 0.85  # target 0.95: see the closing note of issue 3


def test_legal_channel_and_handoff_are_recognised(report) -> None:  # type: ignore[no-untyped-def]
    assert report.recall("legal_channel") >= 0.9 and report.recall("handoff") >= 0.9
