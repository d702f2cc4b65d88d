"""`/wechat/{account}`: WeChat's callback. GET answers the server verification; POST takes every
message and event.

A push is answered within WeChat's five seconds: the passive reply when the bot has decided
within the budget (it takes milliseconds), otherwise `success` at once and the answer follows as
a customer-service message. WeChat re-sends a push it got no answer to (three retries); the
first delivery claims the message id in Redis, so retries get `success` and never a second
ticket or a second reply. Replays of a captured signature are refused before that, in
`envelope.py` (timestamp window, nonce memory, the account's encryption mode)."""
from __future__ import annotations

import asyncio
import logging
import time
from hashlib import sha256
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from wechatpy.replies import TextReply

from channels.wechat.accounts import WeChatAccount, load_accounts, load_window
from channels.wechat.api import WeChatApi, WeChatApiError
from channels.wechat.delivery import note_user_activity, queue_reply
from channels.wechat.dialogue import Dialogue, Reply
from channels.wechat.envelope import Push, PushRefused, ReplayGuard, check_query_signature, open_push, seal_reply
from gateway import keys
from gateway.errors import ApiError
from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, pause

log = logging.getLogger(__name__)

SEEN_TTL = 24 * 3600  # WeChat's retries come within seconds; a day also covers a replayed push
SUCCESS = "success"


class WeChatChannel:
    def __init__(self, app: web.Application) -> None:
        settings = app["settings"]
        self.accounts = load_accounts(settings.wechat_accounts)
        self.limit = settings.wechat_max_body_bytes
        self.budget = settings.wechat_reply_budget_seconds
        self.redis = app["redis"]
        self.guard = ReplayGuard(app["redis"], load_window())
        self.api = WeChatApi(app["redis"], settings.wechat_api_base)
        self.dialogue = Dialogue(app["redis"], app["intake"], app["tickets"], app["knowledge"], app["turns"], app["blobs"], app["outbox"])
        self.outbox = app["outbox"]
        self.pending: set[asyncio.Task[Any]] = set()

    def account(self, request: web.Request) -> WeChatAccount:
        account = self.accounts.get(request.match_info["account"])
        if account is None:
            raise ApiError(404, "unknown_account", "公众号未配置")
        return account

    async def answer(self, account: WeChatAccount, push: Push) -> Reply | None:
        """The reply text for one push (None: nothing to say)."""
        m = push.message
        openid, key = m.source, _dedupe_key(m)
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
            await self.redis.set(f"{keys.P}wx:lastloc:{account.name}:{m.source}", f"{m.latitude},{m.longitude}", ex=3600)
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
            await queue_reply(self.redis, self.outbox, account, openid, reply.ticket_id, _dedupe_key(push.message), reply.text)
            return
        try:  # menu texts and the like: no ticket to hang a delivery on, one direct attempt
            await self.api.send_text(account, openid, reply.text)
        except WeChatApiError as exc:
            log.warning("customer-service message not sent", extra={"errcode": exc.errcode, "account": account.name})


def _dedupe_key(m: Any) -> str:
    if getattr(m, "id", 0):
        return f"msg:{m.id}"
    # WeChat's key for events is sender + CreateTime; the event and its key keep two different
    # menu taps within one second apart.
    return f"evt:{m.source}:{m.time}:{getattr(m, 'event', '')}:{getattr(m, 'key', '') or ''}"


def _channel(request: web.Request) -> WeChatChannel:
    return request.app["wechat"]  # type: ignore[no-any-return]


async def verify(request: web.Request) -> web.Response:
    channel = _channel(request)
    account = channel.account(request)
    try:
        timestamp, nonce = check_query_signature(account, request.query)
        channel.guard.check_time(timestamp)  # every mode verifies the same way: signature + echostr
        echostr = request.query.get("echostr", "")
        # Its triple is as good as a push's: claimed here, so a captured verification URL cannot
        # carry a forged plaintext push within the window.
        await channel.guard.remember(account, timestamp, nonce, sha256(b"verify\n" + echostr.encode()).hexdigest())
    except PushRefused as refused:
        raise ApiError(refused.status, refused.code, refused.message) from None
    return web.Response(text=echostr, content_type="text/plain")


async def receive(request: web.Request) -> web.Response:
    channel = _channel(request)
    account = channel.account(request)
    try:
        push = await open_push(request, account, channel.limit, channel.guard)
    except PushRefused as refused:
        log.warning("wechat push refused", extra={"account": account.name, "code": refused.code})
        raise ApiError(refused.status, refused.code, refused.message) from None
    seen = f"{keys.P}wx:seen:{account.name}:{_dedupe_key(push.message)}"
    if not await channel.redis.set(seen, str(time.time()), nx=True, ex=SEEN_TTL):
        return web.Response(text=SUCCESS, content_type="text/plain")  # a retry of a push we took
    await note_user_activity(channel.redis, account, push.message)
    task = asyncio.ensure_future(channel.answer(account, push))
    done, _ = await asyncio.wait({task}, timeout=channel.budget)
    if not done:
        later = asyncio.ensure_future(channel.send_later(account, push, task))
        channel.pending.add(later)
        later.add_done_callback(channel.pending.discard)
        return web.Response(text=SUCCESS, content_type="text/plain")
    try:
        reply = task.result()
    except Exception:
        log.exception("wechat push could not be answered", extra={"account": account.name, "type": push.message.type})
        reply = Reply("抱歉，系统繁忙，您的消息已收到，请稍后再试或拨打12345。")
    if reply is None or not reply.text:
        return web.Response(text=SUCCESS, content_type="text/plain")
    xml = TextReply(content=reply.text, message=push.message).render()
    return web.Response(text=seal_reply(account, push, xml), content_type="application/xml")


async def _sweep_drafts(app: web.Application) -> AsyncIterator[None]:
    """Close abandoned 我要反映 drafts once a minute (their ticket says why)."""
    stop = asyncio.Event()
    dialogue: Dialogue = app["wechat"].dialogue
    every = app["settings"].wechat_draft_sweep_seconds

    async def sweep() -> None:
        outage = OutageLog(log, "wechat draft sweeper")
        while not stop.is_set():
            try:
                await dialogue.close_expired_drafts()
                outage.ok()
            except REDIS_UNREACHABLE as exc:
                outage.failed(exc)
            await pause(stop, every)

    task = asyncio.create_task(sweep(), name="wechat-drafts")
    yield
    stop.set()
    await asyncio.wait([task], timeout=5)
    task.cancel()


def setup(app: web.Application) -> None:
    if not app["settings"].wechat_accounts:
        return
    app["wechat"] = WeChatChannel(app)
    app.cleanup_ctx.append(_sweep_drafts)
    app.router.add_get("/wechat/{account}", verify, name="wechat_verify")
    app.router.add_post("/wechat/{account}", receive, name="wechat_receive")
