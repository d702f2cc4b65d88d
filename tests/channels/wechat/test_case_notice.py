"""A WeChat citizen hears that their case was closed: the case system's signed 办结 makes the
gateway send a 客服消息 through the outbox to WeChat (the local peer) inside the 48-hour window;
outside it the notice waits, and goes out right after the citizen's next message."""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from channels.wechat import keys as wx_keys
from gateway.tickets import Tickets
from peers import wechat as wx
from tests.channels.wechat.test_wechat import configure_account, wechat_tickets
from tests.conftest import CASE_SECRET
from tests.support.case_system import report
from tests.support.waiting import eventually

OPENID = "oK3x9-ExampleOpenId000000077"
UNIT = "东城区东华门街道办事处"
RESULT = "经核实，该餐馆已安装油烟净化设备，并承诺晚十点后停止营业，我街道将持续跟踪。"


@pytest.fixture
async def rig(make_app: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[wx.WeChatPeer, str, Redis]]:
    """A gateway with the WeChat account `main` and the case system's secret (its tickets go to
    the local inbox, whose case ids the reports carry)."""
    account = configure_account(monkeypatch)
    async with wx.WeChatPeer(account, "") as peer:
        base = await make_app(wechat_accounts="main", wechat_api_base=peer.api_base, case_system_secret=CASE_SECRET, ticket_prefix="WN")
        peer.gateway_url = f"{base}/wechat/main"
        redis = Redis.from_url(redis_url)
        yield peer, base, redis
        await redis.aclose()


async def filed_report(peer: wx.WeChatPeer, redis: Redis) -> Any:
    """我要反映 through the menu, filed and forwarded."""
    await peer.push(wx.event(OPENID, "CLICK", EventKey="MENU_REPORT"), mode="safe")
    await peer.push(wx.text(OPENID, "楼下餐馆油烟很大，晚上十点以后还在营业", msg_id=7701), mode="safe")
    await peer.push(wx.text(OPENID, "东城区东华门街道示例路1号", msg_id=7702), mode="safe")
    filed = await peer.push(wx.text(OPENID, "13812345678", msg_id=7703), mode="safe")
    assert "工单号 WN-" in filed.reply["Content"]
    report_ticket = next(t for t in await wechat_tickets(redis) if t.source.extra.get("mode") == "collecting")
    return await eventually(lambda: Tickets(redis).get(report_ticket.id), lambda t: t.status == "forwarded", timeout=120)


async def close_case(base: str, ticket: Any, n: int = 1) -> dict[str, Any]:
    at = (datetime.now().astimezone() - timedelta(minutes=5)).replace(microsecond=0).isoformat()
    async with aiohttp.ClientSession() as http:
        status, body = await report(http, base, CASE_SECRET, {
            "update_id": f"EVT-{ticket.id}-{n}", "ticket_id": ticket.id, "case_id": ticket.disposition.case_id,
            "status": "closed", "at": at, "unit": UNIT, "result": RESULT})
    assert status == 200, body
    return body


def closing(message: dict[str, Any]) -> bool:
    return message["touser"] == OPENID and "已办结" in message["text"]["content"]


async def test_a_closed_case_is_told_by_customer_service_message_once(rig) -> None:
    peer, base, redis = rig
    ticket = await filed_report(peer, redis)
    assert (await close_case(base, ticket))["outcome"] == "applied"
    sent = await peer.wait_sent(closing, timeout=20)
    content = sent["text"]["content"]
    assert ticket.id in content and UNIT in content and RESULT in content and "12345" in content
    delivered = await eventually(lambda: Tickets(redis).get(ticket.id),
                                 lambda t: any(d.hop == "notice-wechat:closed" and d.outcome == "delivered" for d in t.deliveries))
    assert [d.note for d in delivered.deliveries if d.hop == "notice-wechat:closed"] == [None]
    # The case system's retry of the same 办结: one notice queued, ever.
    assert (await close_case(base, ticket))["outcome"] == "duplicate"
    again = await Tickets(redis).get(ticket.id)
    assert [e.event for e in again.history].count("notice_queued") == 1
    assert len([m for m in peer.sent if closing(m)]) == 1


async def test_outside_the_window_the_notice_waits_for_the_next_message(rig) -> None:
    peer, base, redis = rig
    ticket = await filed_report(peer, redis)
    # Two days pass without a word from the citizen: WeChat's window and ours are over.
    peer.advance(49 * 3600)
    await redis.delete(wx_keys.window("main", OPENID))
    await close_case(base, ticket)
    kept = await eventually(lambda: Tickets(redis).get(ticket.id),
                            lambda t: any(d.hop == "notice-wechat:closed" for d in t.deliveries))
    assert [(d.outcome, bool(d.note)) for d in kept.deliveries if d.hop == "notice-wechat:closed"] == [("delivered", True)]
    assert not [m for m in peer.sent if closing(m)]

    answer = await peer.push(wx.text(OPENID, "你好，我想问问我反映的问题", msg_id=7710), mode="safe")
    assert answer.status == 200
    sent = await peer.wait_sent(closing, timeout=20)
    assert ticket.id in sent["text"]["content"] and RESULT in sent["text"]["content"]
    after = await eventually(lambda: Tickets(redis).get(ticket.id),
                             lambda t: any(d.hop == "wx-reply:notice:closed" and d.outcome == "delivered" for d in t.deliveries))
    assert "reply_queued" in [e.event for e in after.history]
    await peer.push(wx.text(OPENID, "好的，谢谢", msg_id=7711), mode="safe")
    assert len([m for m in peer.sent if closing(m)]) == 1  # sent once, not again on every message
