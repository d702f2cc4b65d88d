"""The AMI connection: panoramisk's protocol and action machinery, with our own connection
management on top.

panoramisk 1.4 logs in with a plain secret only, reconnects at a fixed interval, lets an
exception raised in an event callback tear the connection down and loses characters split
across reads (ami_stream.py reads the stream instead). Here: plain or MD5-challenge
login, reconnection with capped exponential backoff and jitter, a keepalive that notices a
silent peer, every event handler shielded, and `on_ready` after each login so the owner can
resync live calls with CoreShowChannels.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from panoramisk import Manager
from panoramisk.message import Message

from channels.phone.ami_stream import AmiStreamProtocol

log = logging.getLogger(__name__)

AmiState = Literal["idle", "connecting", "connected", "login_failed", "disconnected", "stopped"]

ACTION_TIMEOUT = 10.0
ORIGINATE_TIMEOUT = 20.0


class AmiError(RuntimeError):
    """An action answered `Response: Error` (its Message says why) or timed out."""


class AmiDisconnected(AmiError):
    """The connection went away before the answer came."""


@dataclass(frozen=True)
class AmiConfig:
    host: str
    port: int
    username: str
    secret: str
    auth: Literal["md5", "plain"] = "md5"
    reconnect_max_seconds: float = 10.0
    keepalive_seconds: float = 10.0


EventHandler = Callable[[Message], Awaitable[None] | None]
ReadyHandler = Callable[[], Awaitable[None]]


def md5_key(challenge: str, secret: str) -> str:
    return hashlib.md5((challenge + secret).encode()).hexdigest()


class AmiClient(Manager):  # panoramisk has no type hints (Manager is Any to mypy)
    protocol: Any  # panoramisk's AMI protocol instance (set by panoramisk / connection_made)

    def __init__(self, config: AmiConfig, on_event: EventHandler, on_ready: ReadyHandler) -> None:
        # No username in panoramisk's config: it must not send its own plain Login.
        super().__init__(host=config.host, port=config.port, events="on", ping_delay=10**9, reconnect_timeout=1,
                         protocol_factory=AmiStreamProtocol)
        self.ami = config
        self.on_event = on_event
        self.on_ready = on_ready
        self.state: AmiState = "idle"
        self.version = ""
        self.last_error = ""
        self.logins = 0
        self._attempt = 0
        self._stopping = False
        self._reconnect: asyncio.TimerHandle | None = None
        self._session: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()  # set when the current connection is gone
        self.ready = asyncio.Event()
        self.register_event("*", self._dispatch_event)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopping = False
        self._set_state("connecting")
        self.connect()

    async def stop(self) -> None:
        self._stopping = True
        if self._reconnect is not None:
            self._reconnect.cancel()
        if self._session is not None:
            self._session.cancel()
        self.close()
        self._set_state("stopped")

    def connection_made(self, f: "asyncio.Future[Any]") -> None:
        if self._stopping:
            return
        try:
            transport, protocol = f.result()
        except OSError as exc:
            self._failed(f"connect: {exc.strerror or exc}")
            return
        if getattr(self, "protocol", None):
            self.protocol.close()
        self._connected = True
        self.protocol = protocol
        protocol.queue = deque()
        protocol.factory = self
        protocol.log = self.log
        protocol.config = self.config
        protocol.encoding = self.encoding = self.config["encoding"]
        self.responses = protocol.responses = {}
        self._lost = asyncio.Event()
        self._session = asyncio.ensure_future(self._run_session(protocol, self._lost))

    def connection_lost(self, exc: Exception | None) -> None:
        self._connected = False
        self.authenticated = False
        self.ready.clear()
        self._lost.set()
        # panoramisk would re-send unanswered actions after the next login; our callers were
        # told AmiDisconnected and decide themselves (a second spy per leg must never happen).
        self.awaiting_actions.clear()
        if not self._stopping:
            if self.state != "login_failed":
                log.warning("AMI connection lost", extra={"host": self.ami.host, "port": self.ami.port})
            self._failed("connection lost", keep_state=self.state == "login_failed")

    def _failed(self, reason: str, keep_state: bool = False) -> None:
        if not keep_state:
            self.last_error = reason
            self._set_state("disconnected")
        if self._stopping:
            return
        self._attempt += 1
        delay = min(self.ami.reconnect_max_seconds, 0.5 * 2 ** min(self._attempt - 1, 10))
        delay = random.uniform(delay / 2, delay)  # jitter: many gateways must not reconnect in step
        if self._attempt <= 3 or self._attempt % 20 == 0:
            log.info("AMI unavailable, retrying", extra={"reason": reason, "retry_in_s": round(delay, 2), "attempt": self._attempt})
        if self._reconnect is not None:
            self._reconnect.cancel()
        self._reconnect = self.loop.call_later(delay, self._reconnect_now)

    def _reconnect_now(self) -> None:
        self._reconnect = None
        if not self._stopping:
            if self.state != "login_failed":  # an operator must keep seeing why, across retries
                self._set_state("connecting")
            self.connect()

    def _set_state(self, state: AmiState) -> None:
        self.state = state

    # -- one session: login, ready callback, keepalive ---------------------------------------

    async def _run_session(self, protocol: Any, lost: asyncio.Event) -> None:
        try:
            await self._login()
        except AmiDisconnected:
            return  # connection_lost has already scheduled the reconnect
        except AmiError as exc:
            # Asterisk answers a bad login with an Error and then hangs up; back off either way.
            log.error("AMI login failed", extra={"username": self.ami.username, "error": str(exc)})
            self.last_error = str(exc)
            self._set_state("login_failed")
            if not lost.is_set():
                protocol.close()
                self.connection_lost(None)
            return
        self.authenticated = True
        self.logins += 1
        self._attempt = 0
        self.version = getattr(protocol, "version", "") or ""
        self._set_state("connected")
        log.info("AMI logged in", extra={"ami_version": self.version, "host": self.ami.host})
        try:
            await self.on_ready()
        except Exception:
            log.exception("AMI resync after login failed")
        self.ready.set()
        await self._keepalive(protocol, lost)

    async def _login(self) -> None:
        if self.ami.auth == "md5":
            challenge = await self.action({"Action": "Challenge", "AuthType": "MD5"})
            login = {"Action": "Login", "AuthType": "MD5", "Username": self.ami.username,
                     "Key": md5_key(str(challenge.challenge), self.ami.secret), "Events": "on"}
        else:
            login = {"Action": "Login", "Username": self.ami.username, "Secret": self.ami.secret, "Events": "on"}
        await self.action(login)

    async def _keepalive(self, protocol: Any, lost: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(lost.wait(), self.ami.keepalive_seconds)
                return  # connection gone; the next session takes over
            except asyncio.TimeoutError:
                pass
            try:
                await self.action({"Action": "Ping"}, timeout=self.ami.keepalive_seconds)
            except AmiDisconnected:
                return
            except AmiError:
                log.warning("AMI peer stopped answering Ping; reconnecting")
                if not lost.is_set():
                    protocol.close()
                    self.connection_lost(None)
                return

    # -- events and actions ----------------------------------------------------------------

    def _dispatch_event(self, _: Manager, message: Message) -> Any:
        """A bug in our handler must never drop the AMI session (panoramisk calls this inside
        data_received, where an exception kills the connection)."""
        try:
            result = self.on_event(message)
        except Exception:
            log.exception("AMI event handler failed", extra={"event": message.get("Event", "")})
            return None
        if asyncio.iscoroutine(result):
            return asyncio.ensure_future(_shielded(result, message))
        return None

    async def action(self, action: dict[str, Any], as_list: bool = False, timeout: float = ACTION_TIMEOUT) -> Any:
        """Send an action and wait for its answer; `Response: Error` raises AmiError. `as_list`
        is always explicit (panoramisk 1.4 guesses otherwise and can crash on a missing Async)."""
        if self.protocol is None or getattr(self.protocol, "closed", True):
            raise AmiDisconnected("AMI not connected")
        lost = self._lost
        future = self.send_action(dict(action), as_list=as_list)
        lost_wait = asyncio.ensure_future(lost.wait())
        try:
            await asyncio.wait([future, lost_wait], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost_wait.cancel()
        if not future.done():
            if lost.is_set():
                raise AmiDisconnected(f"{action.get('Action')}: connection lost before the answer")
            raise AmiError(f"{action.get('Action')}: no answer within {timeout:.0f}s")
        result = future.result()
        first = result[0] if isinstance(result, list) else result
        if first.get("Response") == "Error":
            raise AmiError(first.get("Message") or "Error")
        return result

    async def originate_spy(self, audiosocket: str, stream_id: str, spied_channel: str) -> Message:
        """Start transcription of one leg: an AudioSocket channel running ChanSpy on it
        (`q` quiet, `E` end with the leg, `o` only what that party says, `u` exact name).
        Returns the OriginateResponse; a Failure raises AmiError."""
        result = await self.action({
            "Action": "Originate", "Channel": f"AudioSocket/{audiosocket}/{stream_id}",
            "Application": "ChanSpy", "Data": f"{spied_channel},qEou", "Async": "true",
        }, as_list=True, timeout=ORIGINATE_TIMEOUT)
        outcome = result[-1] if isinstance(result, list) else result
        if outcome.get("Response") == "Failure":
            raise AmiError(f"originate failed (reason {outcome.get('Reason', '?')})")
        return outcome

    async def hangup(self, channel: str) -> None:
        await self.action({"Action": "Hangup", "Channel": channel})

    async def setvar(self, channel: str, variable: str, value: str) -> None:
        await self.action({"Action": "Setvar", "Channel": channel, "Variable": variable, "Value": value})

    async def core_show_channels(self) -> list[Message]:
        result = await self.action({"Action": "CoreShowChannels"}, as_list=True)
        return [m for m in result if m.get("Event") == "CoreShowChannel"]


async def _shielded(coro: Awaitable[None], message: Message) -> None:
    try:
        await coro
    except Exception:
        log.exception("AMI event handler failed", extra={"event": message.get("Event", "")})
