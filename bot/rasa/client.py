"""Talking to a Rasa server through its REST channel: one citizen message in, the bot's
messages out. Our custom actions put the structured decision in a ``custom`` payload; a
plain text reply (a domain response such as utter_greet) is a clarifying turn."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import aiohttp

from triage.decision import Decision
from triage.engines import RemoteUnavailable


class RasaUnavailable(RemoteUnavailable):
    """Rasa did not decide: `code` says why (rasa_timeout, rasa_down, rasa_error, rasa_bad_reply)."""


class RasaClient:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def messages(self, sender: str, text: str) -> list[dict[str, Any]]:
        """Rasa's replies to one message, within the timeout (parse, dialogue and our actions)."""
        try:
            async with asyncio.timeout(self.timeout):
                async with self._client().post(f"{self.url}/webhooks/rest/webhook",
                                               json={"sender": sender, "message": text}) as response:
                    if response.status != 200:
                        raise RasaUnavailable("rasa_error", f"HTTP {response.status}")
                    body = await response.json(content_type=None)
        except TimeoutError:
            raise RasaUnavailable("rasa_timeout", f"no reply within {self.timeout:g} s") from None
        except aiohttp.ClientConnectionError as exc:
            raise RasaUnavailable("rasa_down", str(exc) or type(exc).__name__) from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise RasaUnavailable("rasa_error", str(exc) or type(exc).__name__) from None
        if not isinstance(body, list):
            raise RasaUnavailable("rasa_bad_reply", "reply is not a list of messages")
        return [m for m in body if isinstance(m, dict)]

    async def decide(self, sender: str, text: str) -> Decision:
        return to_decision(await self.messages(sender, text))


def to_decision(messages: list[dict[str, Any]]) -> Decision:
    for message in reversed(messages):
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("hotline"), dict):
            return _decision_from(custom["hotline"])
    texts = [str(m["text"]) for m in messages if m.get("text")]
    if not texts:
        # Rasa predicted action_listen or nothing at all: it has no opinion.
        raise RasaUnavailable("rasa_bad_reply", "no reply message")
    return Decision("clarify", "\n".join(texts), ["rasa domain response"])


def _decision_from(data: dict[str, Any]) -> Decision:
    fields = dict(data)
    try:
        if fields.get("due_at"):
            fields["due_at"] = datetime.fromisoformat(fields["due_at"])
        return Decision(**fields)
    except (TypeError, ValueError) as exc:
        raise RasaUnavailable("rasa_bad_reply", f"decision payload: {exc}") from None
