"""The phone channel: AMI call tracking to tickets, screen pops, per-leg transcription, and the
agent's live assistance.

AMI events are applied strictly in arrival order by one consumer task (the tracker is not
safe to reorder), and everything slow (originating a spy, waiting for a leg's last words) runs
beside it. Live state for desks is pushed through the gateway's pub/sub channel with an
audience (the agents concerned; supervisors see everything) and mirrored in a Redis hash, so a
desk that reloads mid-call, on any instance, finds the call again.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from redis.asyncio import Redis

from channels.phone import adapter, assist
from channels.phone import keys as phone_keys
from channels.phone.agents import AgentDirectory
from channels.phone.ami import AmiClient, AmiConfig, AmiError
from channels.phone.calls import Call, CallTracker, CallUpdate
from channels.phone.commands import serve_commands
from channels.phone.legs import LegTranscriber
from channels.phone.nodes import Admission, SpeechNodes, new_assignment
from channels.phone.settings import PhoneSettings
from channels.phone.speech_relay import SpeechRelay
from channels.phone.takeover import Orphan, call_start, find_orphans
from gateway import clock, keys
from gateway.intake import Intake
from gateway.live_events import publish_to_desks
from gateway.metrics import Metrics
from gateway.phone_numbers import InvalidPhone, mask, to_e164
from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, describe, stop_if_cancelled
from gateway.redis_values import text
from gateway.settings import Settings
from gateway.summaries import summary
from gateway.ticket import (
    Abandoned,
    HistoryEvent,
    Location,
    Provenance,
    Status,
    Ticket,
    TranscriptSegment,
)
from gateway.tickets import Tickets
from knowledge_base.live import LiveKnowledge
from speech.recognizer import Segment

if TYPE_CHECKING:
    from channels.phone.node import SpeechNode

log = logging.getLogger(__name__)

LIVE_CALLS = keys.LIVE_CALLS
LEADER_KEY = phone_keys.LEADER
LEADER_TTL_MS = 15_000  # a dead leader's calls are taken over within this
LEASE_RENEW_SECONDS = LEADER_TTL_MS / 3000  # the leader renews (and stand-bys try) this often
LEASE_RETRY_SECONDS = 1.0  # after a failed renewal, or while re-acquiring after an outage
LEASE_MARGIN_SECONDS = 1.0
LEG_DRAIN_TIMEOUT = 30.0  # after hangup, how long the last words may take to arrive and decode
REPEAT_CALLER_LIMIT = 10
FAILOVER_RETRY_SECONDS = 1.0  # a leg being moved tries again this often while no node has room
TRANSFER_CONTEXT = "transfer"  # deploy/asterisk/extensions.conf [transfer]


@dataclass(eq=False)
class CallSession:
    call: Call
    ticket_id: str
    started_at: float
    caller_e164: str | None
    earlier: list[dict[str, Any]]
    legs: list[LegTranscriber] = field(default_factory=list)
    spied: set[str] = field(default_factory=set)  # channels with a spy requested
    refused: set[str] = field(default_factory=set)  # channels not transcribed: no node had room
    limited: list[dict[str, Any]] = field(default_factory=list)  # why legs are not transcribed, for the desk
    gaps: dict[str, dict[str, Any]] = field(default_factory=dict)  # leg -> open gap (its node was lost)
    utterances: list[assist.Utterance] = field(default_factory=list)
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    prefilled: dict[str, dict[str, Any]] = field(default_factory=dict)
    prefill_scan: assist.PrefillScan = field(default_factory=assist.PrefillScan)  # over `utterances`
    lag: float = 0.0
    pop_supervisors: bool = False  # no agent mapping: supervisors' desks take the pop themselves
    # Live-view writes in order: two concurrent writes on different pool connections could
    # otherwise land the older view last.
    store_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def audience(self) -> list[str]:
        """The agents concerned; supervisors get every call event besides (live_events.py)."""
        users = {self.call.agent_user, *self.call.ringing.values()}
        return sorted(u for u in users if u)

    def leg_closed(self, leg: LegTranscriber) -> None:
        self.spied.discard(leg.channel)

    def live_view(self) -> dict[str, Any]:
        call = self.call
        return {
            "linkedid": call.linkedid, "ticket_id": self.ticket_id, "state": call.state, "queue": call.queue,
            "caller": self.caller_e164 or call.caller_number, "caller_masked": mask(self.caller_e164) or "未知号码",
            "caller_name": call.caller_name, "agent": call.agent_user, "ringing": sorted(u for u in call.ringing.values() if u),
            "answered_by": call.answered_by or None, "pop_supervisors": self.pop_supervisors,
            "started_at": datetime.fromtimestamp(self.started_at, timezone.utc).isoformat(),
            "earlier": self.earlier, "suggestions": self.suggestions, "prefill": self.prefilled,
            "legs": [leg.state() for leg in self.legs if not leg.done.is_set()], "lag": round(self.lag, 1),
            "speech_limited": self.limited, "speech_gaps": [{"leg": leg, **gap} for leg, gap in sorted(self.gaps.items())],
        }


class PhoneChannel:
    def __init__(self, settings: Settings, ami: AmiConfig, redis: Redis, intake: Intake, tickets: Tickets, knowledge: LiveKnowledge,
                 metrics: Metrics, node: SpeechNode | None) -> None:
        self.settings = settings
        self.config = config = settings.section(PhoneSettings)
        self.redis = redis
        self.intake = intake
        self.tickets = tickets
        self.knowledge = knowledge
        self.metrics = metrics
        self.node = node  # this process's own speech node (HOTLINE_SPEECH_LOCAL_NODE), if any
        self.nodes = SpeechNodes(redis)
        self.directory = AgentDirectory.parse(config.phone_agents)
        self.tracker = CallTracker(self.directory.lookup, config.phone_inbound_contexts.split(","))
        self.ami = AmiClient(ami, self._on_ami_event, self._on_ami_ready)
        self.sessions: dict[str, CallSession] = {}
        self._queue: asyncio.Queue[tuple[str, Any, float]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._consumer: asyncio.Task[None] | None = None
        self._leader: asyncio.Task[None] | None = None
        self._commands: asyncio.Task[None] | None = None
        self.leading = asyncio.Event()
        # Nodes are checked four times per heartbeat lifetime: a dead one is noticed within 1.25 TTL.
        self.relay = SpeechRelay(redis, self.nodes, self.leading, check_seconds=config.speech_node_ttl_seconds / 4)
        self._relay_tasks: list[asyncio.Task[None]] = []
        self._orphans: dict[str, list[Orphan]] = {}  # linkedid -> legs a previous leader left on the nodes (see resync)
        self.lease_state = "standby"  # leader | standby | lost | stopped (see lease())
        self.lease_error = ""
        self._lease_until = 0.0  # monotonic time by which the leader must have renewed or stepped down
        self._lease_outage = OutageLog(log, "phone leadership")

    @property
    def advertised_audiosocket(self) -> str | None:
        """This process's own node's AudioSocket address (None: it serves none)."""
        return self.node.address if self.node is not None else None

    @property
    def transcription(self) -> str:
        """"on", "off: <reason> (run: make model)" for the local node; without one, the nodes elsewhere decode."""
        return self.node.engine.transcription if self.node is not None else "speech nodes only (HOTLINE_SPEECH_LOCAL_NODE=0)"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self.node is not None:
            await self.node.start()
        self._relay_tasks = [asyncio.create_task(self.relay.run(), name="speech-relay"),
                             asyncio.create_task(self.relay.watch(), name="speech-nodes-watch")]
        self._consumer = asyncio.create_task(self._consume(), name="ami-events")
        self._leader = asyncio.create_task(self._lead(), name="phone-leader")
        self._commands = asyncio.create_task(serve_commands(self.redis, self.leading, self._run_command), name="phone-commands")
        log.info("phone channel started", extra={"ami": f"{self.config.ami_host}:{self.config.ami_port}", "audiosocket": self.advertised_audiosocket})

    async def stop(self) -> None:
        for task in (self._leader, self._commands, *self._relay_tasks):
            if task is not None:
                task.cancel()
        self.leading.clear()
        self.lease_state = "stopped"
        await self.ami.stop()
        try:
            await self.redis.eval(_RELEASE_LUA, 1, LEADER_KEY, self.settings.instance_id)
        except REDIS_UNREACHABLE as exc:  # the lease then runs out by itself
            log.warning("could not release the phone lease", extra={"error": describe(exc)})
        if self._consumer is not None:
            self._consumer.cancel()
        if self.node is not None:
            await self.node.stop()  # deregisters, then closes its streams: each leg flushes its last words
        for task in list(self._tasks):
            task.cancel()
        for leg in list(self.relay.legs.values()):
            leg.cancel()

    async def _lead(self) -> None:
        """One instance talks to Asterisk at a time, or every call would pop up once per
        instance. The others stand by and take over when the leader's lease runs out.

        Never two leaders, Redis outages included: the leader counts its lease from the moment
        it *sent* its last successful renewal, and steps down (disconnects from AMI) before that
        lease could have run out in Redis, even if the newest renewal was lost in a Redis crash
        (AOF fsyncs every second). Once Redis answers again it re-acquires the lease (its own
        lease if it is still there, a free one otherwise) or stands by for the instance that
        holds it."""
        me = self.settings.instance_id
        while True:
            stop_if_cancelled()
            now = time.monotonic()
            try:
                if self.leading.is_set():
                    # A Redis that hangs instead of refusing must not keep us past the deadline.
                    renew = self.redis.eval(_RENEW_LUA, 1, LEADER_KEY, me, LEADER_TTL_MS)
                    still = await asyncio.wait_for(renew, timeout=max(0.1, self._lease_until - now))
                    if still:
                        self._lease_renewed(now)
                    else:
                        log.warning("phone leadership lost; disconnecting from AMI")
                        await self._step_down("lost")
                else:
                    # Timing out here is safe: a lease that still reached Redis is ours to re-acquire.
                    acquire = self.redis.eval(_ACQUIRE_LUA, 1, LEADER_KEY, me, LEADER_TTL_MS)
                    acquired = await asyncio.wait_for(acquire, timeout=LEASE_RENEW_SECONDS)
                    self.lease_error = ""
                    if acquired:
                        self._lease_renewed(now)
                        self.leading.set()
                        self.lease_state = "leader"
                        log.info("phone leadership acquired; connecting to AMI")
                        self.ami.start()
                    else:
                        self.lease_state = "standby"  # Redis answers and another instance holds the lease
            except REDIS_UNREACHABLE as exc:  # includes the wait_for timeouts (TimeoutError is an OSError)
                self._lease_outage.failed(exc)
                self.lease_error = describe(exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever went wrong, the lease rule below still holds
                log.exception("phone leadership check failed")
                self.lease_error = describe(exc)
            else:
                self._lease_outage.ok()
            if self.leading.is_set() and time.monotonic() >= self._lease_until:
                log.warning("phone lease could not be renewed in time; disconnecting from AMI until Redis answers",
                            extra={"error": self.lease_error})
                await self._step_down("lost")
            await asyncio.sleep(self._lease_pause())

    def _lease_renewed(self, sent_at: float) -> None:
        # The newest renewal may be lost if Redis crashes; the one before it (one interval
        # earlier) is on disk. Stop leading before even that one runs out, with a margin.
        self._lease_until = sent_at + (LEADER_TTL_MS / 1000) - LEASE_RENEW_SECONDS - LEASE_MARGIN_SECONDS
        self.lease_state = "leader"
        self.lease_error = ""

    async def _step_down(self, state: str) -> None:
        self.leading.clear()
        self.lease_state = state
        await self.ami.stop()

    def _lease_pause(self) -> float:
        if self.leading.is_set():
            if self.lease_error:  # renewal failing: retry soon, but never sleep past the deadline
                return max(0.05, min(LEASE_RETRY_SECONDS, self._lease_until - time.monotonic()))
            return LEASE_RENEW_SECONDS
        return LEASE_RETRY_SECONDS if self.lease_state == "lost" else LEASE_RENEW_SECONDS

    async def lease_holder(self) -> str | None:
        """The instance Redis names as phone leader (None: nobody)."""
        holder = await self.redis.get(LEADER_KEY)
        return text(holder) if holder is not None else None

    def lease(self) -> dict[str, Any]:
        """For /readyz: `state` leader | standby | lost (stepped down because the lease could
        not be renewed; re-acquiring once Redis answers) | stopped | dead (the lease task ended)."""
        alive = self._leader is not None and not self._leader.done()
        info: dict[str, Any] = {"state": self.lease_state if alive or self.lease_state == "stopped" else "dead",
                                "leader": self.leading.is_set(), "alive": alive}
        if self.lease_error:
            info["error"] = self.lease_error
        return info

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("phone task failed", exc_info=task.exception(), extra={"task": task.get_name()})

    # -- AMI events, in order ----------------------------------------------------------------

    def _on_ami_event(self, message: Any) -> None:
        self._queue.put_nowait(("event", message, time.perf_counter()))

    async def _on_ami_ready(self) -> None:
        """After every login: reconcile with the channels Asterisk has now."""
        channels = await self.ami.core_show_channels()
        self._queue.put_nowait(("resync", channels, time.perf_counter()))

    async def _consume(self) -> None:
        while True:
            stop_if_cancelled()
            kind, payload, received = await self._queue.get()
            try:
                orphans = await self._find_orphans(payload) if kind == "resync" else []
                updates = self.tracker.handle(payload) if kind == "event" else self.tracker.resync(payload)
                for update in updates:
                    await self._apply(update, received)
                for orphan in orphans:
                    self._spawn(self._end_orphan(orphan), f"orphan-{orphan.leg.stream_id}")
            except REDIS_UNREACHABLE as exc:
                log.warning("AMI event could not be applied: Redis unreachable",
                            extra={"event": payload.get("Event", "") if kind == "event" else "resync", "error": describe(exc)})
            except Exception:
                log.exception("AMI event could not be applied", extra={"event": payload.get("Event", "") if kind == "event" else "resync"})

    async def _find_orphans(self, channels: list[Any]) -> list[Orphan]:
        """After a (re)login: the legs the nodes hold for a previous leader. Nobody reads their
        events, so their places are freed before this resync spies the legs again (or the
        agent legs would find the node full), and they are noted per call, so the calls this
        resync adopts mark the gap (`_resume`)."""
        orphans = await find_orphans(self.nodes, channels, set(self.relay.legs))
        self._orphans.clear()
        for orphan in orphans:
            log.info("ending a leg of the previous phone leader", extra={"ticket": orphan.leg.ticket_id, "leg": orphan.leg.leg, "node": orphan.node_id})
            self._orphans.setdefault(orphan.leg.linkedid, []).append(orphan)
            await self.nodes.release(orphan.node_id, orphan.leg.stream_id)
        return orphans

    async def _end_orphan(self, orphan: Orphan) -> None:
        """End an orphan's spy: Asterisk stops sending audio and the node ends the stream."""
        if orphan.spy_channel:
            try:
                await self.ami.hangup(orphan.spy_channel)
            except AmiError as exc:  # it may have ended meanwhile
                log.info("could not hang up an orphaned spy", extra={"channel": orphan.spy_channel, "error": str(exc)})

    async def _apply(self, update: CallUpdate, received: float) -> None:
        call = update.call
        if update.kind == "call_started":
            await self._open_session(call)
            return
        session = self.sessions.get(call.linkedid)
        if session is None:
            return
        handler = getattr(self, f"_on_{update.kind}", None)
        if handler is not None:
            await handler(session, update, received)

    async def _on_queued(self, session: CallSession, update: CallUpdate, received: float) -> None:
        self._request_spy(session, "caller", session.call.caller_channel)
        await self._store_live(session)

    async def _on_agent_ringing(self, session: CallSession, update: CallUpdate, received: float) -> None:
        user = update.detail.get("user")
        pop = {"type": "call.ringing", "ticket_id": session.ticket_id, "linkedid": session.call.linkedid, "agent": user,
               "interface": update.detail.get("interface"), "call": session.live_view()}
        await self._publish(pop, [str(user)] if user else [])
        self.metrics.screen_pop.observe(time.perf_counter() - received)
        await self._store_live(session)

    async def _on_agent_ring_stopped(self, session: CallSession, update: CallUpdate, received: float) -> None:
        user = update.detail.get("user")
        if user:
            await self._publish({"type": "call.ring_stopped", "ticket_id": session.ticket_id, "linkedid": session.call.linkedid}, [str(user)])

    async def _on_agent_connected(self, session: CallSession, update: CallUpdate, received: float) -> None:
        detail = dict(update.detail)
        connected = {"agent": detail.get("user"), "how": detail.get("how")}
        if detail.get("answered_by"):
            connected["answered_by"] = detail["answered_by"]  # an outside number, no desk of ours
        await self.record(session, "call_connected", connected)
        # After a transfer the previous agent hears of it too, so their panel can let go.
        previous = [str(detail["previous"])] if detail.get("previous") else []
        await self._announce(session, {"type": "call.connected", "call": session.live_view()}, also=previous)
        self._request_spy(session, "caller", session.call.caller_channel)
        self._request_spy(session, "agent", str(detail.get("channel") or ""))

    async def _on_transferred(self, session: CallSession, update: CallUpdate, received: float) -> None:
        await self.record(session, "call_transferred", dict(update.detail))
        await self.push(session, {"type": "call.transferred", "detail": dict(update.detail)})

    async def _on_abandoned(self, session: CallSession, update: CallUpdate, received: float) -> None:
        await self.record(session, "call_abandoned_in_queue", dict(update.detail))

    async def _on_ended(self, session: CallSession, update: CallUpdate, received: float) -> None:
        self._spawn(self._finish(session, dict(update.detail)), f"finish-{session.ticket_id}")

    # -- transfers out -----------------------------------------------------------------------

    def connected_call(self, linkedid: str) -> bool:
        """The call is live on this instance, with an agent on the line."""
        session = self.sessions.get(linkedid)
        return session is not None and session.call.state == "connected" and bool(session.call.agent_channel)

    async def transfer_call(self, linkedid: str, route: str) -> None:
        """Put the caller through to `route` in the dialplan context `transfer` (a partner
        hotline): a BlindTransfer of the agent's channel, so the caller is the one moved."""
        if not self.connected_call(linkedid):
            raise AmiError("该通话已结束或尚未接通")
        session = self.sessions[linkedid]
        await self.ami.action({"Action": "BlindTransfer", "Channel": session.call.agent_channel, "Context": TRANSFER_CONTEXT, "Exten": route})
        await self.record(session, "call_transfer_requested", {"route": route, "channel": session.call.agent_channel})

    async def _run_command(self, command: dict[str, Any]) -> None:
        """A desk action sent by another instance (channels/phone/commands.py)."""
        if command.get("action") != "transfer":
            raise ValueError(f"unknown command {command.get('action')!r}")
        await self.transfer_call(str(command["linkedid"]), str(command["route"]))

    # -- tickets -----------------------------------------------------------------------------

    async def _open_session(self, call: Call) -> None:
        now = clock.now()
        try:
            phone: str | None = to_e164(call.caller_number) if call.caller_number else None
        except InvalidPhone:
            phone = None
        earlier_ids = [text(i) for i in
                       (await self.redis.zrevrange(keys.by_phone(phone), 0, REPEAT_CALLER_LIMIT) if phone else [])]
        ticket = adapter.call_ticket(call, phone, earlier_ids[:REPEAT_CALLER_LIMIT], now)
        result = await self.intake(ticket, actor="phone")
        if result.ticket_id is None:
            log.error("call could not be filed", extra={"linkedid": call.linkedid})
            return
        self.metrics.intake.labels("phone", "created" if result.created else "duplicate").inc()
        self.metrics.phone_calls.labels("started" if result.created else "resumed").inc()
        earlier = await self._summaries([i for i in earlier_ids if i != result.ticket_id][:REPEAT_CALLER_LIMIT])
        started_at = call.started_at
        if call.resynced:  # a call another leader followed keeps its clock
            started_at = call_start(await self.redis.hget(LIVE_CALLS, call.linkedid)) or started_at
        session = CallSession(call=call, ticket_id=result.ticket_id, started_at=started_at, caller_e164=phone, earlier=earlier,
                              pop_supervisors=not self.directory.by_key)
        self.sessions[call.linkedid] = session
        if call.caller_channel:
            self._spawn(self._tag_caller(call.caller_channel, result.ticket_id), f"tag-{result.ticket_id}")
        if call.resynced:
            await self.record(session, "call_resynced", {"state": call.state})
            await self._resume(session)
            self._request_spy(session, "caller", call.caller_channel)
        await self._store_live(session)

    async def _resume(self, session: CallSession) -> None:
        """A call adopted mid-way: what the caller said so far (the ticket's content and the
        suggestions build on it), and a gap for each leg a previous leader was transcribing,
        from its last stored words until this leader's spy opens (closed in leg_opened)."""
        ticket = await self.tickets.get(session.ticket_id)
        session.utterances = [assist.Utterance(index=i, text=s.text, start=s.start)
                              for i, s in enumerate(ticket.transcript) if s.leg == "caller"]
        session.prefill_scan = assist.PrefillScan()
        for orphan in self._orphans.pop(session.call.linkedid, []):
            leg = orphan.leg.leg
            if leg in session.gaps:
                continue
            heard = max((s.end for s in ticket.transcript if s.leg == leg), default=0.0)
            session.gaps[leg] = {"from": round(heard, 2), "node": orphan.node_id}
            self.metrics.speech_failovers.labels("leader_lost").inc()
            detail = {"leg": leg, "reason": "leader_lost", "node": orphan.node_id, "from": round(heard, 2)}
            await self.record(session, "transcription_interrupted", detail)
            await self.push(session, {"type": "call.transcription_gap", "state": "open", **detail})

    async def _summaries(self, ticket_ids: list[str]) -> list[dict[str, Any]]:
        if not ticket_ids:
            return []
        docs = await self.redis.mget([keys.ticket(i) for i in ticket_ids])
        return [summary(Ticket.model_validate_json(d)) for d in docs if d is not None]

    async def _tag_caller(self, channel: str, ticket_id: str) -> None:
        """Later events of this call carry the ticket id (`channelvars=HOTLINE_TICKET`)."""
        try:
            await self.ami.setvar(channel, "HOTLINE_TICKET", ticket_id)
        except AmiError as exc:
            log.info("could not tag the caller's channel", extra={"ticket": ticket_id, "error": str(exc)})

    async def record(self, session: CallSession, event: str, detail: dict[str, Any]) -> None:
        await self.tickets.update(session.ticket_id, lambda _: None, HistoryEvent(at=clock.now(), actor="phone", event=event, detail=detail))

    async def add_segment(self, session: CallSession, leg: str, segment: Segment, offset: float) -> None:
        stored = TranscriptSegment(leg=leg, start=round(segment.start + offset, 2), end=round(segment.end + offset, 2),
                                   text=segment.text, confidence=round(min(max(segment.confidence, 0.0), 1.0), 3))
        index: list[int] = []

        def append(ticket: Ticket) -> None:
            index[:] = [len(ticket.transcript)]
            ticket.transcript.append(stored)

        await self.tickets.update(session.ticket_id, append, None, publish=False)
        await self.push(session, {"type": "call.final", "leg": leg, "index": index[0], "segment": stored.model_dump(mode="json")})
        if leg == "caller":
            session.utterances.append(assist.Utterance(index=index[0], text=stored.text, start=stored.start))
            await self.refresh_suggestions(session)
            await self._prefill(session)

    async def refresh_suggestions(self, session: CallSession, pending: str = "") -> None:
        said = "".join(u.text for u in session.utterances) + pending
        items = assist.suggestions(self.knowledge.snapshot, said, clock.now())
        if [i["entry_id"] for i in items] == [i["entry_id"] for i in session.suggestions]:
            return
        session.suggestions = items
        await self._announce(session, {"type": "call.suggestions", "items": items})

    async def _prefill(self, session: CallSession) -> None:
        found = {k: v for k, v in session.prefill_scan.update(session.utterances).items() if k not in session.prefilled}
        if not found:
            return
        at = clock.now()
        applied: dict[str, dict[str, Any]] = {}

        def fill(ticket: Ticket) -> dict[str, Any]:
            applied.clear()
            for name, item in found.items():
                if _set_if_empty(ticket, name, item["value"]):
                    ticket.provenance.append(Provenance(field=name, by="asr", at=at, segment=item["segment"],
                                                        detail=f"通话转写第{item['segment'] + 1}句：{item['text']}"))
                    applied[name] = item
            return {"fields": sorted(applied)} if applied else {}

        await self.tickets.update(session.ticket_id, fill, HistoryEvent(at=at, actor="asr", event="prefilled"))
        session.prefilled.update(found)  # fields the agent had already filled are not offered again
        if applied:
            await self._announce(session, {"type": "call.prefill", "fields": applied})

    async def _finish(self, session: CallSession, detail: dict[str, Any]) -> None:
        """After hangup: let every leg deliver its last words, then close the call's ticket."""
        pending = [leg.done.wait() for leg in session.legs if not leg.done.is_set()]
        if pending:
            await asyncio.wait([asyncio.ensure_future(p) for p in pending], timeout=LEG_DRAIN_TIMEOUT)
        call = session.call
        at = clock.now()
        abandoned = call.connected_at is None
        waited = round((call.ended_at or time.time()) - call.started_at)
        caller_words = "".join(u.text for u in session.utterances)

        def close(ticket: Ticket) -> dict[str, Any]:
            if caller_words:
                ticket.content = f"来电内容（语音转写）：{caller_words}"
            if abandoned and ticket.disposition is None:
                ticket.status = Status.abandoned
                reason = f"来电在排队等候时挂断（等候约{waited}秒），需回拨" if call.abandoned or call.queue else "来电未接通即挂断"
                ticket.disposition = Abandoned(at=at, reason=reason)
            return {"cause": detail.get("cause"), "cause_text": detail.get("cause_text"), "seconds": waited,
                    "talk_seconds": round((call.ended_at or time.time()) - call.connected_at) if call.connected_at else 0}

        await self.tickets.update(session.ticket_id, close, HistoryEvent(at=at, actor="phone", event="call_ended"))
        self.metrics.phone_calls.labels("abandoned" if abandoned else "completed").inc()
        await self.push(session, {"type": "call.ended", "abandoned": abandoned, "cause": detail.get("cause"), "cause_text": detail.get("cause_text")})
        self.sessions.pop(call.linkedid, None)
        await self.redis.hdel(LIVE_CALLS, call.linkedid)

    # -- transcription -----------------------------------------------------------------------

    def _request_spy(self, session: CallSession, leg: Literal["caller", "agent"], channel: str, moving: bool = False) -> None:
        if not channel or channel in session.spied or channel in session.refused or session.call.state == "ended":
            return
        session.spied.add(channel)
        self._spawn(self._spy(session, leg, channel, moving), f"spy-{session.ticket_id}-{leg}")

    def _live(self, session: CallSession) -> bool:
        return session.call.state != "ended" and self.sessions.get(session.call.linkedid) is session

    async def _spy(self, session: CallSession, leg: Literal["caller", "agent"], channel: str, moving: bool) -> None:
        """Place the leg on the speech node with the most room and have Asterisk send its audio
        there. A new call's agent leg needs more room than its caller leg (the caller's words
        fill the ticket), so a filling node gives new calls the caller leg only, then nothing,
        and the calls it carries keep up. A leg moved off a lost node takes any place, and keeps
        trying while the call lasts."""
        min_free = 1 if leg == "caller" or moving else 1 + self.config.speech_caller_reserve
        while True:
            stream_id = str(uuid.uuid4())
            error = ""
            try:
                admission = await self.nodes.admit(new_assignment(stream_id, session.call.linkedid, leg, channel, session.ticket_id), min_free)
            except REDIS_UNREACHABLE as exc:
                admission, error = Admission("no_node"), describe(exc)
            else:
                self.metrics.speech_legs.labels(leg, admission.outcome).inc()
            if admission.outcome == "admitted":
                transcriber = LegTranscriber(self, session, stream_id, leg, channel, admission.node_id)
                self.relay.add(transcriber)
                try:
                    await self.ami.originate_spy(admission.address, stream_id, channel)
                    return
                except AmiError as exc:
                    error = str(exc)
                    self.relay.remove(stream_id)
                    transcriber.cancel()
                    await self.nodes.release(admission.node_id, stream_id)
            if not moving:
                session.spied.discard(channel)
                if error:
                    log.warning("no audio for a call leg", extra={"ticket": session.ticket_id, "leg": leg, "error": error})
                    await self.record(session, "transcription_unavailable", {"leg": leg, "error": error})
                    await self.push(session, {"type": "call.audio_failed", "leg": leg, "error": error})
                else:
                    session.refused.add(channel)  # not offered again during this call
                    await self._limited(session, leg, admission)
                return
            if not self._live(session):
                return
            await asyncio.sleep(FAILOVER_RETRY_SECONDS)

    async def _limited(self, session: CallSession, leg: str, admission: Admission) -> None:
        log.info("call leg not transcribed", extra={"ticket": session.ticket_id, "leg": leg, "reason": admission.outcome})
        reason = {"leg": leg, "reason": admission.outcome}
        session.limited.append(reason)
        await self.record(session, "transcription_limited", {**reason, "free": admission.free})
        await self._announce(session, {"type": "call.transcription_limited", **reason})

    async def leg_opened(self, session: CallSession, leg: LegTranscriber) -> None:
        """The node has the stream: the leg counts for the call, and a gap before it closes."""
        session.legs.append(leg)
        gap = session.gaps.pop(leg.leg, None)
        if gap is not None:
            to = round(leg.offset, 2)
            detail = {"leg": leg.leg, "from": gap["from"], "to": to, "seconds": round(max(0.0, to - gap["from"]), 1),
                      "node": leg.node_id, "lost_node": gap["node"]}
            await self.record(session, "transcription_resumed", detail)
            await self._announce(session, {"type": "call.transcription_gap", "state": "closed", **detail})
            return
        await self._store_live(session)

    async def leg_lost(self, session: CallSession, leg: LegTranscriber, reason: str) -> None:
        """The leg's node died or stopped: mark the gap and move the leg to another node."""
        self.metrics.speech_failovers.labels(reason).inc()
        heard = leg.heard_until if leg.opened else max(0.0, time.time() - session.started_at)
        gap = session.gaps.setdefault(leg.leg, {"from": round(heard, 2), "node": leg.node_id})  # a second loss keeps the first start
        detail = {"leg": leg.leg, "reason": reason, "node": leg.node_id, "from": gap["from"]}
        await self.record(session, "transcription_interrupted", detail)
        if not self._live(session):
            return
        await self._announce(session, {"type": "call.transcription_gap", "state": "open", **detail})
        self._request_spy(session, leg.leg, leg.channel, moving=True)

    def observe_lag(self) -> None:
        worst = 0.0
        for session in self.sessions.values():
            session.lag = max((leg.lag for leg in session.legs if not leg.done.is_set()), default=0.0)
            worst = max(worst, session.lag)
        self.metrics.speech_lag.set(worst)

    # -- pushes to desks ---------------------------------------------------------------------

    async def push(self, session: CallSession, event: dict[str, Any], also: list[str] | None = None) -> None:
        audience = sorted(set(session.audience()) | set(also or []))
        await self._publish({**event, "ticket_id": session.ticket_id, "linkedid": session.call.linkedid}, audience)

    async def _publish(self, event: dict[str, Any], audience: list[str]) -> None:
        await publish_to_desks(self.redis, event, audience)

    async def _store_live(self, session: CallSession) -> None:
        async with session.store_lock:
            await self.redis.hset(LIVE_CALLS, session.call.linkedid, json.dumps(session.live_view(), ensure_ascii=False))

    async def _announce(self, session: CallSession, event: dict[str, Any], also: list[str] | None = None) -> None:
        """Store the live view, then tell the desks: a desk that reloads its call list on an
        event must find the change there."""
        await self._store_live(session)
        await self.push(session, event, also)

    def status(self) -> dict[str, Any]:
        return {"ami": self.ami.state, "ami_version": self.ami.version, "ami_error": self.ami.last_error,
                "live_calls": len(self.sessions), "audiosocket": self.advertised_audiosocket,
                "transcription": self.transcription}  # "on" or "off: <reason> (run: make model)"


_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_ACQUIRE_LUA = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _set_if_empty(ticket: Ticket, name: str, value: Any) -> bool:
    """Machine values only fill blanks: what a person entered stays."""
    if name == "kind" and ticket.kind is None:
        ticket.kind = value
        return True
    if name == "location" and (ticket.location is None or not ticket.location.district):
        ticket.location = Location(district=value.get("district"), district_code=value.get("district_code"), street=value.get("street"))
        return True
    if name == "callback_phone" and ticket.requester.callback_phone is None and value != ticket.requester.phone:
        ticket.requester.callback_phone = value
        return True
    return False
