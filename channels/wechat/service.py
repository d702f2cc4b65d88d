"""The WeChat channel of one gateway: its accounts, replay guard, API client and dialogue, and
how a push becomes the reply text (passive, or later by the customer-service API)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from channels.wechat import keys as wx_keys
from channels.wechat.accounts import WeChatAccount, load_accounts, load_window
from channels.wechat.api import WeChatApi, WeChatApiError
from channels.wechat.dialogue import Dialogue, Reply
from channels.wechat.envelope import Push, ReplayGuard
from channels.wechat.outbound import queue_reply
from channels.wechat.settings import WeChatSettings
from gateway.app_keys import BLOBS, INTAKE, OUTBOX, REDIS, SETTINGS, TICKETS
from gateway.errors import ApiError
from knowledge_base.app_keys import KNOWLEDGE
from triage.app_keys import TURNS
from triage.hotspots import HotspotRules

log = logging.getLogger(__name__)

SEEN_TTL = 24 * 3600  # WeChat's retries come within seconds; a day also covers a replayed push


class WeChatChannel:
    def __init__(self, app: web.Application) -> None:
        settings = app[SETTINGS].section(WeChatSettings)
        self.accounts = load_accounts(settings.wechat_accounts)
        self.limit = settings.wechat_max_body_bytes
        self.budget = settings.wechat_reply_budget_seconds
        self.redis = app[REDIS]
        self.guard = ReplayGuard(app[REDIS], load_window())
        self.api = WeChatApi(app[REDIS], settings.wechat_api_base)
        self.dialogue = Dialogue(app[REDIS], app[INTAKE], app[TICKETS], app[KNOWLEDGE], app[TURNS], app[BLOBS], app[OUTBOX],
                                 HotspotRules.of(app[SETTINGS]))
        self.outbox = app[OUTBOX]
        self.pending: set[asyncio.Task[Any]] = set()

    def account(self, request: web.Request) -> WeChatAccount:
        account = self.accounts.get(request.match_info["account"])
        if account is None:
            raise ApiError(404, "unknown_account", "公众号未配置")
        return account

    async def answer(self, account: WeChatAccount, push: Push) -> Reply | None:
        """The reply text for one push (None: nothing to say)."""
        m = push.message
        openid, key = m.source, dedupe_key(m)
        kind = m.type
        if kind == "text":
            return await self.dialogue.text(account, openid, m.content, key)
        if kind == "voice":
            text, source = await self._voice_text(account, m)
            return await self.dialogue.text(account, openid, text, key, source=source) if text else Reply("抱歉，没有听清您的语音，请再说一遍或改用文字。")
        if kind == "location":
            return await self.dialogue.location(account, openid, float(m.location_x), float(m.location_y), m.label or "", key)
        if kind in ("image", "video", "shortvideo"):
            data = await self._media(account, m)
            return await self.dialogue.media(account, openid, data, "image" if kind == "image" else "video", key)
        if kind == "link":
            return await self.dialogue.text(account, openid, f"{m.title} {m.description} {m.url}".strip(), key)
        if kind == "event":
            return await self._event(account, m)
        return Reply("暂不支持这种消息，请发送文字、语音、图片或位置。")

    async def _event(self, account: WeChatAccount, m: Any) -> Reply | None:
        event = m.event
        if event in ("subscribe", "subscribe_scan", "scan"):
            return await self.dialogue.menu(account, m.source, "WELCOME")
        if event == "click":
            return await self.dialogue.menu(account, m.source, m.key or "")
        if event == "location":
            await self.redis.set(wx_keys.last_location(account.name, m.source), f"{m.latitude},{m.longitude}", ex=3600)
            return None
        return None  # unsubscribe, view: nothing to say (and no window to say it in)

    async def _voice_text(self, account: WeChatAccount, m: Any) -> tuple[str, str]:
        if m.recognition:
            return m.recognition, "wechat-recognition"
        from speech.offline import UndecodableAudio, transcribe_media  # Vosk only when a voice needs it

        data, _ = await self.api.media(account, m.media_id)
        try:
            text, _confidence = await transcribe_media(data)
        except UndecodableAudio as exc:
            log.warning("voice message could not be decoded", extra={"error": str(exc)})
            return "", "asr"
        return text, "asr"

    async def _media(self, account: WeChatAccount, m: Any) -> bytes:
        if m.type == "image" and getattr(m, "image", None):
            try:
                return (await self.api.fetch_url(m.image))[0]
            except Exception:
                pass  # the media API has the same picture
        return (await self.api.media(account, m.media_id))[0]

    async def send_later(self, account: WeChatAccount, push: Push, task: asyncio.Task[Reply | None]) -> None:
        """The bot missed the passive-reply budget: its answer goes as a customer-service message,
        through the outbox (retries, ledger, dead letters) when it belongs to a ticket."""
        openid = push.message.source
        try:
            reply = await task
        except Exception:
            log.exception("wechat push could not be answered", extra={"account": account.name})
            return
        if reply is None or not reply.text:
            return
        if reply.ticket_id is not None:
            await queue_reply(self.redis, self.outbox, account, openid, reply.ticket_id, dedupe_key(push.message), reply.text)
            return
        try:  # menu texts and the like: no ticket to hang a delivery on, one direct attempt
            await self.api.send_text(account, openid, reply.text)
        except WeChatApiError as exc:
            log.warning("customer-service message not sent", extra={"errcode": exc.errcode, "account": account.name})


def dedupe_key(m: Any) -> str:
    if getattr(m, "id", 0):
        return f"msg:{m.id}"
    # WeChat's key for events is sender + CreateTime; the event and its key keep two different
    # menu taps within one second apart.
    return f"evt:{m.source}:{m.time}:{getattr(m, 'event', '')}:{getattr(m, 'key', '') or ''}"
