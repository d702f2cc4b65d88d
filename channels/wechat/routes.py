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
from collections.abc import AsyncIterator
from hashlib import sha256

from aiohttp import web
from wechatpy.replies import TextReply

from channels.wechat import keys as wx_keys
from channels.wechat.dialogue import Dialogue, Reply
from channels.wechat.envelope import PushRefused, check_query_signature, open_push, seal_reply
from channels.wechat.outbound import note_user_activity, release_kept_notices
from channels.wechat.service import WeChatChannel, dedupe_key
from channels.wechat.settings import WeChatSettings
from channels.wechat.state import WECHAT
from gateway.app_keys import SETTINGS
from gateway.errors import ApiError
from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, pause

log = logging.getLogger(__name__)

SEEN_TTL = 24 * 3600  # WeChat's retries come within seconds; a day also covers a replayed push
SUCCESS = "success"


def _channel(request: web.Request) -> WeChatChannel:
    return request.app[WECHAT]


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
    seen = wx_keys.seen(account.name, dedupe_key(push.message))
    if not await channel.redis.set(seen, str(time.time()), nx=True, ex=SEEN_TTL):
        return web.Response(text=SUCCESS, content_type="text/plain")  # a retry of a push we took
    await note_user_activity(channel.redis, account, push.message)
    await release_kept_notices(channel.redis, channel.outbox, account, push.message)
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
    """Close abandoned 我要反映 drafts once a minute (their ticket says why); at the end close
    the client of WeChat's API."""
    stop = asyncio.Event()
    dialogue: Dialogue = app[WECHAT].dialogue
    every = app[SETTINGS].section(WeChatSettings).wechat_draft_sweep_seconds

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
    await app[WECHAT].api.close()


def setup(app: web.Application) -> None:
    if not app[SETTINGS].section(WeChatSettings).wechat_accounts:
        return
    app[WECHAT] = WeChatChannel(app)
    app.cleanup_ctx.append(_sweep_drafts)
    app.router.add_get("/wechat/{account}", verify, name="wechat_verify")
    app.router.add_post("/wechat/{account}", receive, name="wechat_receive")
