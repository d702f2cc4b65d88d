"""Call tracking: AMI events in, call facts out. Pure state, no I/O, so every scenario (and the
recorded captures) can be replayed through it in a test.

Calls are keyed by Linkedid, which every channel of one call shares. Events from different
channels may arrive in any order, fields missing in older Asterisk releases read as "", and
unknown events are ignored. `AudioSocket/` channels are our own transcription spies and are
never part of a call.

PBXs differ: queue members may be `Local/…;1`/`;2` pairs in front of the phone (two bridges,
then an optimization swaps the phone in), Queue*/Agent* events may be filtered out (then
DialBegin/DialEnd tell who rings and who answered), and the one who answers may be an outside
number behind a trunk. A `Local/` channel is plumbing: the channel its `;2` half dialed is the
party. After a blonde transfer (AttendedTransfer to an App) the consultation call's Linkedid is
merged into the caller's call, so its ringing target is followed.
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
    up: bool = False  # ChannelState 6 (answered)


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
    answered_by: str = ""  # the number that answered when it is no desk of ours (an outside number)
    dial_numbers: dict[str, str] = field(default_factory=dict)  # dialed channel -> the number it was dialed as
    local_far: dict[str, str] = field(default_factory=dict)  # Local pair (name without ;1/;2) -> the channel its ;2 dialed

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


def local_pair(channel: str) -> str | None:
    """`Local/1001@agents-00000016;2` -> `Local/1001@agents-00000016` (both halves share it)."""
    if not channel.startswith("Local/"):
        return None
    return channel.rsplit(";", 1)[0]


def dialed_number(dial_string: str) -> str:
    """The number in a Dial string: `PJSIP/13911112222@pstn-trunk`, `13911112222@overflow`,
    `SIP/pstn/13911112222` -> 13911112222 (the first target when several are dialed)."""
    target = dial_string.split("&", 1)[0].split(",", 1)[0].strip()
    if "/" in target:
        target = target.rsplit("/", 1)[1]
    return target.split("@", 1)[0]


class CallTracker:
    def __init__(self, agent_lookup: AgentLookup, inbound_contexts: Iterable[str] = ("from-pstn",)) -> None:
        self.calls: dict[str, Call] = {}
        self.agent_lookup = agent_lookup
        self.inbound_contexts = {c.strip() for c in inbound_contexts if c.strip()}
        self.aliases: dict[str, str] = {}  # a merged call's Linkedid -> the call it is part of now
        self._handlers: dict[str, Callable[[Mapping[str, str]], list[CallUpdate]]] = {
            "newchannel": self._newchannel,
            "newstate": self._newchannel,
            "queuecallerjoin": self._queue_join,
            "queuecallerabandon": self._abandon,
            "agentcalled": self._agent_called,
            "agentringnoanswer": self._agent_ring_stopped,
            "agentconnect": self._agent_connect,
            "dialbegin": self._dial_begin,
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

    def _linked(self, linkedid: str) -> str:
        return self.aliases.get(linkedid, linkedid)

    def _call(self, event: Mapping[str, str], prefix: str = "") -> Call | None:
        linkedid = self._linked(_value(event, prefix + "Linkedid") or _value(event, prefix + "Uniqueid"))
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
        state = _value(event, prefix + "ChannelState")
        if channel in call.legs and state:
            call.legs[channel].up = state == "6"
        return call

    @staticmethod
    def _party(call: Call, channel: str) -> str:
        """The channel that really talks: for a Local half, what its pair dialed (if known)."""
        pair = local_pair(channel)
        return call.local_far.get(pair, channel) if pair else channel

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

    def _connected(self, call: Call, channel: str, user: str | None, how: str, number: str = "") -> list[CallUpdate]:
        channel = self._party(call, channel)
        if call.agent_channel == channel or not channel:
            return []
        stopped = [CallUpdate("agent_ring_stopped", call, {"user": u, "channel": c})
                   for c, u in call.ringing.items() if self._party(call, c) != channel and (not user or u != user)]
        call.ringing.clear()
        call.state = "connected"
        call.connected_at = call.connected_at or time.time()
        previous = call.agent_user
        call.agent_channel, call.agent_user = channel, user
        call.answered_by = "" if user else number
        detail: dict[str, str | int | None] = {"user": user, "channel": channel, "how": how, "previous": previous}
        if not user:
            detail["answered_by"] = number
        return stopped + [CallUpdate("agent_connected", call, detail)]

    def _agent_connect(self, event: Mapping[str, str]) -> list[CallUpdate]:
        call = self._call(event)
        if call is None:
            return []
        updates = self._start_inbound(call, "queue")
        channel, user = self._agent_leg(call, event, "Dest")
        return updates + self._connected(call, channel, user, "queue")

    def _dial_begin(self, event: Mapping[str, str]) -> list[CallUpdate]:
        """Remembers what each channel was dialed as; rings a mapped agent's desk when the PBX
        sends no AgentCalled (Queue/Agent events filtered, or no queue at all)."""
        dest = _value(event, "DestChannel")
        if not dest or is_spy(dest) or not _value(event, "Channel"):
            return []
        call = self._call(event)
        if call is None:
            return []
        call.dial_numbers[dest] = dialed_number(_value(event, "DialString")) or _value(event, "DestExten")
        pair = local_pair(_value(event, "Channel"))
        if pair and not dest.startswith("Local/"):
            call.local_far.setdefault(pair, dest)
        if not call.inbound or call.state == "ended":
            return []
        user = self.agent_lookup(interface="", member_name="", channel=dest)
        if user is None or user == call.agent_user or user in call.ringing.values():
            return []
        return self._ring(call, dest, user, _value(event, "DestUniqueid"), channel_interface(dest), "")

    def _ring(self, call: Call, channel: str, user: str, uniqueid: str, interface: str, member: str) -> list[CallUpdate]:
        leg = call.legs.setdefault(channel, Leg(channel=channel, uniqueid=uniqueid))
        leg.role, leg.user = "agent", user
        if call.state in ("new", "queued"):
            call.state = "ringing"
        call.ringing[channel] = user
        return [CallUpdate("agent_ringing", call, {"user": user, "channel": channel, "interface": interface, "member": member})]

    def _dial_end(self, event: Mapping[str, str]) -> list[CallUpdate]:
        """Whoever answers a dial of an inbound call talks to the caller: a mapped agent, or a
        number that is no desk of ours (an on-duty mobile, an overflow centre). A `Local/`
        destination is skipped: the dial behind it (its `;2` half) names who answered."""
        dest = _value(event, "DestChannel")
        if not dest or is_spy(dest) or not _value(event, "Channel"):
            return []
        call = self._call(event)
        if call is None or not call.inbound:
            return []
        if _value(event, "DialStatus") != "ANSWER":
            if dest in call.ringing:
                return [CallUpdate("agent_ring_stopped", call, {"user": call.ringing.pop(dest), "channel": dest})]
            return []
        if dest.startswith("Local/"):
            return []
        pair = local_pair(_value(event, "Channel"))
        if pair:
            call.local_far[pair] = dest
        if dest == call.agent_channel:
            return []
        channel, user = self._agent_leg(call, event, "Dest")
        number = call.dial_numbers.get(dest) or _value(event, "DestExten") or _value(event, "DestCallerIDNum")
        return self._connected(call, channel, user, "transfer" if call.agent_channel else "dial", number)

    def _bridge_enter(self, event: Mapping[str, str]) -> list[CallUpdate]:
        """After a blind transfer the caller is bridged with the target: if that is an agent of
        ours, the transcription follows the new agent."""
        call = self.calls.get(self._linked(_value(event, "Linkedid")))
        if call is None or not call.inbound or not call.transfers:
            return []
        channel = _value(event, "Channel")
        if channel in (call.caller_channel, call.agent_channel) or channel.startswith("Local/"):
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
        call = (self.calls.get(self._linked(_value(event, "TransfereeLinkedid")))
                or self.calls.get(self._linked(_value(event, "TransfererLinkedid"))))
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
        call = (self.calls.get(self._linked(_value(event, "TransfereeLinkedid")))
                or self.calls.get(self._linked(_value(event, "OrigTransfererLinkedid"))))
        if call is None:
            return []
        target = _value(event, "TransferTargetChannel")
        transfer = {
            "type": "attended", "by_channel": _value(event, "OrigTransfererChannel"), "target_channel": target,
            "target_number": _value(event, "TransferTargetCallerIDNum"), "dest_type": _value(event, "DestType"),
        }
        call.transfers.append(transfer)
        updates = [CallUpdate("transferred", call, transfer)]
        if not target:
            transfer["dest_app"] = _value(event, "DestApp")
            return updates + self._blonde(call, event, transfer)
        self._merge(call, _value(event, "SecondTransfererLinkedid"))
        user = self.agent_lookup(interface=channel_interface(target), member_name="", channel=target)
        if user:
            # The target's channel belongs to the consultation call's Linkedid; it now talks to our caller.
            call.legs[target] = Leg(channel=target, uniqueid=_value(event, "TransferTargetUniqueid"), role="agent", user=user)
            updates += self._connected(call, target, user, "attended_transfer")
        return updates

    def _merge(self, call: Call, linkedid: str) -> Call | None:
        """After a transfer the consultation call's channels belong to the caller's call: later
        events under its Linkedid are applied there. Returns the consultation call."""
        consult_id = self._linked(linkedid)
        consult = self.calls.get(consult_id)
        if consult is None or consult is call:
            return None
        self.calls.pop(consult_id)
        for old, now in list(self.aliases.items()):
            if now == consult_id:
                self.aliases[old] = call.linkedid
        self.aliases[consult_id] = call.linkedid
        call.dial_numbers.update(consult.dial_numbers)
        call.local_far.update(consult.local_far)
        return consult

    def _blonde(self, call: Call, event: Mapping[str, str], transfer: dict[str, str]) -> list[CallUpdate]:
        """A transfer to an App (no TransferTarget block): the caller now goes to whoever the
        consultation call was dialing. That call's Linkedid becomes part of the caller's call,
        and its mapped target rings (or is connected, if it already answered) for our caller."""
        consult = self._merge(call, _value(event, "SecondTransfererLinkedid"))
        if consult is None:
            return []
        transferers = {_value(event, "SecondTransfererChannel"), _value(event, "OrigTransfererChannel")}
        updates: list[CallUpdate] = []
        for leg in consult.live_legs:
            if leg.channel in transferers or leg.channel.startswith("Local/"):
                continue
            user = self.agent_lookup(interface=channel_interface(leg.channel), member_name="", channel=leg.channel)
            if user is None:
                continue
            call.legs[leg.channel] = leg
            transfer["target_channel"], transfer["target_number"] = leg.channel, call.dial_numbers.get(leg.channel, "")
            if leg.up:
                leg.role, leg.user = "agent", user
                updates += self._connected(call, leg.channel, user, "attended_transfer")
            else:
                updates += self._ring(call, leg.channel, user, leg.uniqueid, channel_interface(leg.channel), "")
        return updates

    def _hangup(self, event: Mapping[str, str]) -> list[CallUpdate]:
        channel = _value(event, "Channel")
        call = self.calls.get(self._linked(_value(event, "Linkedid")))
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
        # An internal call (a consultation) lives on while any leg does: a transfer may still take it over.
        if channel == call.caller_channel and call.inbound or not call.live_legs:
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
        self.aliases = {old: now for old, now in self.aliases.items() if now != call.linkedid}
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
