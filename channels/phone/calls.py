"""Call tracking: AMI events in, call facts out. Pure state, no I/O, so every scenario (and the
recorded captures) can be replayed through it in a test.

Calls are keyed by Linkedid, which every channel of one call shares. Events from different
channels may arrive in any order, fields missing in older Asterisk releases read as "", and
unknown events are ignored. `AudioSocket/` channels are our own transcription spies and are
never part of a call.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

UNKNOWN = "<unknown>"

UpdateKind = Literal[
    "call_started", "queued", "agent_ringing", "agent_ring_stopped", "agent_connected",
    "transferred", "abandoned", "leg_ended", "ended",
]


@dataclass
class Leg:
    channel: str
    uniqueid: str
    role: Literal["caller", "agent", "other"] = "other"
    user: str | None = None
    ended: bool = False


@dataclass
class Call:
    linkedid: str
    caller_channel: str = ""
    caller_number: str = ""
    caller_name: str = ""
    dialed: str = ""
    inbound: bool = False
    queue: str = ""
    state: Literal["new", "queued", "ringing", "connected", "ended"] = "new"
    started_at: float = field(default_factory=time.time)
    connected_at: float | None = None
    ended_at: float | None = None
    legs: dict[str, Leg] = field(default_factory=dict)  # by channel name
    ringing: dict[str, str] = field(default_factory=dict)  # agent channel -> desk user
    agent_user: str | None = None
    agent_channel: str = ""
    abandoned: bool = False
    hangup_cause: int | None = None
    hangup_cause_text: str = ""
    transfers: list[dict[str, str]] = field(default_factory=list)
    resynced: bool = False

    @property
    def live_legs(self) -> list[Leg]:
        return [leg for leg in self.legs.values() if not leg.ended]


@dataclass(frozen=True)
class CallUpdate:
    kind: UpdateKind
    call: Call
    detail: Mapping[str, str | int | None] = field(default_factory=dict)


# Resolves an agent's interface / member name / channel to a desk user (None: not an agent).
AgentLookup = Callable[..., "str | None"]


def _value(event: Mapping[str, str], key: str) -> str:
    raw = event.get(key, "")
    if isinstance(raw, list):  # repeated header: the last one wins
        raw = raw[-1] if raw else ""
    value = str(raw).strip()
    return "" if value == UNKNOWN else value


def _cause(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def channel_interface(channel: str) -> str:
    """`PJSIP/1001-0000002a` -> `PJSIP/1001`; `Local/1001@agents-00000001;1` -> `Local/1001@agents`."""
    base = channel.split(";", 1)[0]
    head, sep, tail = base.rpartition("-")
    return head if sep and all(c in "0123456789abcdef" for c in tail.lower()) and len(tail) >= 8 else base


def is_spy(channel: str) -> bool:
    return channel.startswith("AudioSocket/")


class CallTracker:
    def __init__(self, agent_lookup: AgentLookup, inbound_contexts: Iterable[str] = ("from-pstn",)) -> None:
        self.calls: dict[str, Call] = {}
        self.agent_lookup = agent_lookup
        self.inbound_contexts = {c.strip() for c in inbound_contexts if c.strip()}
        self._handlers: dict[str, Callable[[Mapping[str, str]], list[CallUpdate]]] = {
            "newchannel": self._newchannel,
            "newstate": self._newchannel,
            "queuecallerjoin": self._queue_join,
            "queuecallerabandon": self._abandon,
            "agentcalled": self._agent_called,
            "agentringnoanswer": self._agent_ring_stopped,
            "agentconnect": self._agent_connect,
            "dialend": self._dial_end,
            "bridgeenter": self._bridge_enter,
            "blindtransfer": self._blind_transfer,
            "attendedtransfer": self._attended_transfer,
            "hangup": self._hangup,
        }

    def handle(self, event: Mapping[str, str]) -> list[CallUpdate]:
        """Apply one AMI event; returns what changed (empty for noise and unknown events)."""
        handler = self._handlers.get(_value(event, "Event").lower())
        if handler is None:
            return []
        if is_spy(_value(event, "Channel")) and handler is not self._hangup:
            return []
        return handler(event)

    # -- helpers ---------------------------------------------------------------------------

    def _call(self, event: Mapping[str, str], prefix: str = "") -> Call | None:
        linkedid = _value(event, prefix + "Linkedid") or _value(event, prefix + "Uniqueid")
        if not linkedid:
            return None
        call = self.calls.get(linkedid)
        if call is None:
            call = self.calls[linkedid] = Call(linkedid=linkedid)
        channel = _value(event, prefix + "Channel")
        uniqueid = _value(event, prefix + "Uniqueid")
        if channel and not is_spy(channel) and channel not in call.legs:
            call.legs[channel] = Leg(channel=channel, uniqueid=uniqueid)
            if uniqueid == linkedid or not call.caller_channel and not prefix:
                self._set_caller(call, event, prefix)
        return call

    def _set_caller(self, call: Call, event: Mapping[str, str], prefix: str) -> None:
        channel = _value(event, prefix + "Channel")
        call.caller_channel = channel
        call.caller_number = _value(event, prefix + "CallerIDNum") or call.caller_number
        call.caller_name = _value(event, prefix + "CallerIDName") or call.caller_name
        call.dialed = call.dialed or _value(event, prefix + "Exten")
        if channel in call.legs:
            call.legs[channel].role = "caller"

    def _start_inbound(self, call: Call, reason: str) -> list[CallUpdate]:
        if call.inbound:
            return []
        call.inbound = True
        return [CallUpdate("call_started", call, {"reason": reason})]

    def _agent_leg(self, call: Call, event: Mapping[str, str], prefix: str) -> tuple[str, str | None]:
        channel = _value(event, prefix + "Channel")
        user = self.agent_lookup(
            interface=_value(event, "Interface"), member_name=_value(event, "MemberName"),
            channel=channel,
        )
        if channel:
            leg = call.legs.setdefault(channel, Leg(channel=channel, uniqueid=_value(event, prefix + "Uniqueid")))
            leg.role, leg.user = "agent", user
        return channel, user

    # -- handlers --------------------------------------------------------------------------

    def _newchannel(self, event: Mapping[str, str]) -> list[CallUpdate]:
        call = self._call(event)
        if call is None or call.state == "ended":
            return []
        channel = _value(event, "Channel")
        if channel == call.caller_channel and _value(event, "Context") in self.inbound_contexts:
            return self._start_inbound(call, "inbound_context")
        return []

    def _queue_join(self, event: Mapping[str, str]) -> list[CallUpdate]:
        call = self._call(event)
        if call is None:
            return []
        if not call.caller_channel or call.caller_channel != _value(event, "Channel"):
            self._set_caller(call, event, "")
        updates = self._start_inbound(call, "queue")
        call.queue = _value(event, "Queue")
        if call.state == "new":
            call.state = "queued"
        return updates + [CallUpdate("queued", call, {"queue": call.queue, "position": _value(event, "Position")})]

    def _abandon(self, event: Mapping[str, str]) -> list[CallUpdate]:
        call = self._call(event)
        if call is None:
            return []
        call.abandoned = True
        return [CallUpdate("abandoned", call, {"hold_time": _value(event, "HoldTime"), "position": _value(event, "OriginalPosition")})]

    def _agent_called(self, event: Mapping[str, str]) -> list[CallUpdate]:
        call = self._call(event)
        if call is None:
            return []
        updates = self._start_inbound(call, "queue")
        channel, user = self._agent_leg(call, event, "Dest")
        if call.state in ("new", "queued"):
            call.state = "ringing"
        call.ringing[channel] = user or ""
        call.queue = call.queue or _value(event, "Queue")
        return updates + [CallUpdate("agent_ringing", call, {
            "user": user, "channel": channel, "interface": _value(event, "Interface"), "member": _value(event, "MemberName"),
        })]

    def _agent_ring_stopped(self, event: Mapping[str, str]) -> list[CallUpdate]:
        call = self._call(event)
        if call is None:
            return []
        channel = _value(event, "DestChannel")
        user = call.ringing.pop(channel, None)
        return [CallUpdate("agent_ring_stopped", call, {"user": user, "channel": channel})]

    def _connected(self, call: Call, channel: str, user: str | None, how: str) -> list[CallUpdate]:
        if call.agent_channel == channel or not channel:
            return []
        stopped = [CallUpdate("agent_ring_stopped", call, {"user": u, "channel": c}) for c, u in call.ringing.items() if c != channel]
        call.ringing.clear()
        call.state = "connected"
        call.connected_at = call.connected_at or time.time()
        previous = call.agent_user
        call.agent_channel, call.agent_user = channel, user
        return stopped + [CallUpdate("agent_connected", call, {"user": user, "channel": channel, "how": how, "previous": previous})]

    def _agent_connect(self, event: Mapping[str, str]) -> list[CallUpdate]:
        call = self._call(event)
        if call is None:
            return []
        updates = self._start_inbound(call, "queue")
        channel, user = self._agent_leg(call, event, "Dest")
        return updates + self._connected(call, channel, user, "queue")

    def _dial_end(self, event: Mapping[str, str]) -> list[CallUpdate]:
        """Direct dials to an agent (no queue): the answered destination is the agent."""
        if _value(event, "DialStatus") != "ANSWER" or not _value(event, "Channel"):
            return []
        call = self._call(event)
        if call is None or not call.inbound or call.agent_channel:
            return []
        channel, user = self._agent_leg(call, event, "Dest")
        return self._connected(call, channel, user, "dial") if user else []

    def _bridge_enter(self, event: Mapping[str, str]) -> list[CallUpdate]:
        """After a blind transfer the caller is bridged with the target: if that is an agent of
        ours, the transcription follows the new agent."""
        call = self.calls.get(_value(event, "Linkedid"))
        if call is None or not call.inbound or not call.transfers:
            return []
        channel = _value(event, "Channel")
        if channel in (call.caller_channel, call.agent_channel):
            return []
        user = self.agent_lookup(interface=channel_interface(channel), member_name="", channel=channel)
        if user is None:
            return []
        call.legs.setdefault(channel, Leg(channel=channel, uniqueid=_value(event, "Uniqueid")))
        call.legs[channel].role, call.legs[channel].user = "agent", user
        return self._connected(call, channel, user, "transfer")

    def _blind_transfer(self, event: Mapping[str, str]) -> list[CallUpdate]:
        if _value(event, "Result") != "Success":
            return []
        call = self.calls.get(_value(event, "TransfereeLinkedid")) or self.calls.get(_value(event, "TransfererLinkedid"))
        if call is None:
            return []
        transfer = {
            "type": "blind", "by_channel": _value(event, "TransfererChannel"),
            "context": _value(event, "Context") or _value(event, "TransferContext"),
            "exten": _value(event, "Extension") or _value(event, "TransferExten"),
            "external": _value(event, "IsExternal"),
        }
        call.transfers.append(transfer)
        return [CallUpdate("transferred", call, transfer)]

    def _attended_transfer(self, event: Mapping[str, str]) -> list[CallUpdate]:
        if _value(event, "Result") != "Success":
            return []
        call = (self.calls.get(_value(event, "TransfereeLinkedid")) or self.calls.get(_value(event, "OrigTransfererLinkedid")))
        if call is None:
            return []
        target = _value(event, "TransferTargetChannel")
        transfer = {
            "type": "attended", "by_channel": _value(event, "OrigTransfererChannel"), "target_channel": target,
            "target_number": _value(event, "TransferTargetCallerIDNum"), "dest_type": _value(event, "DestType"),
        }
        call.transfers.append(transfer)
        updates = [CallUpdate("transferred", call, transfer)]
        user = self.agent_lookup(interface=channel_interface(target), member_name="", channel=target) if target else None
        if user:
            # The target's channel belongs to the consultation call's Linkedid; it now talks to our caller.
            call.legs[target] = Leg(channel=target, uniqueid=_value(event, "TransferTargetUniqueid"), role="agent", user=user)
            updates += self._connected(call, target, user, "attended_transfer")
        return updates

    def _hangup(self, event: Mapping[str, str]) -> list[CallUpdate]:
        channel = _value(event, "Channel")
        call = self.calls.get(_value(event, "Linkedid"))
        if call is None:
            call = next((c for c in self.calls.values() if channel in c.legs), None)
        if call is None:
            return []
        leg = call.legs.get(channel)
        if leg is None or leg.ended:
            return []
        leg.ended = True
        cause = _cause(_value(event, "Cause"))
        updates = [CallUpdate("leg_ended", call, {"channel": channel, "role": leg.role, "user": leg.user, "cause": cause})]
        if channel in call.ringing:
            updates.append(CallUpdate("agent_ring_stopped", call, {"user": call.ringing.pop(channel), "channel": channel}))
        if channel == call.caller_channel or not call.live_legs:
            updates += self._end(call, cause, _value(event, "Cause-txt"))
        return updates

    def _end(self, call: Call, cause: int | None, cause_text: str) -> list[CallUpdate]:
        if call.state == "ended":
            return []
        # Phones still ringing stop now, not when the ticket is closed after the last words.
        stopped = [CallUpdate("agent_ring_stopped", call, {"user": u, "channel": c}) for c, u in call.ringing.items()]
        call.ringing.clear()
        call.state = "ended"
        call.ended_at = time.time()
        call.hangup_cause, call.hangup_cause_text = cause, cause_text
        self.calls.pop(call.linkedid, None)
        return stopped + [CallUpdate("ended", call, {"cause": cause, "cause_text": cause_text})] if call.inbound else []

    # -- after a reconnect -----------------------------------------------------------------

    def resync(self, channels: list[Mapping[str, str]]) -> list[CallUpdate]:
        """Reconcile with CoreShowChannels after a reconnect: calls that ended while we were
        away are ended; calls we never saw are adopted from their channels."""
        live = [c for c in channels if not is_spy(_value(c, "Channel"))]
        present = {_value(c, "Channel") for c in live}
        updates: list[CallUpdate] = []
        for stale in list(self.calls.values()):
            for leg in stale.live_legs:
                if leg.channel not in present:
                    leg.ended = True
                    updates.append(CallUpdate("leg_ended", stale, {"channel": leg.channel, "role": leg.role, "user": leg.user, "cause": None}))
            if not stale.live_legs or (stale.caller_channel and stale.caller_channel not in present):
                updates += self._end(stale, None, "通话在AMI连接中断期间结束")
        # Caller channels first, so agent channels join a call that already knows its caller.
        for chan in sorted(live, key=lambda c: _value(c, "Uniqueid") != _value(c, "Linkedid")):
            linkedid = _value(chan, "Linkedid")
            known = linkedid in self.calls
            call = self._call(chan)
            if call is None:
                continue
            if not known:
                call.resynced = True
            channel = _value(chan, "Channel")
            application = _value(chan, "Application").lower()
            if channel == call.caller_channel:
                if application == "queue" or _value(chan, "Context") in self.inbound_contexts:
                    updates += self._start_inbound(call, "resync")
                    if application == "queue" and call.state == "new":
                        call.state = "queued"
                continue
            user = self.agent_lookup(interface=channel_interface(channel), member_name="", channel=channel)
            if user and call.inbound and _value(chan, "BridgeId") and call.agent_channel != channel:
                call.legs[channel].role, call.legs[channel].user = "agent", user
                updates += self._connected(call, channel, user, "resync")
        return updates
