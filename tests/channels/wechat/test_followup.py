"""回访 over WeChat, through the WeChat peer: after the bot's answer and after the closing
notice the citizen answers 是否解决 and 满意度 with 1/2/3 or words; one answer per ticket, and a
message that is no answer is handled as usual."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from channels.wechat import keys as wx_keys
from channels.wechat.followup import ASK_RESOLVED, ASK_SATISFACTION
from gateway.tickets import Tickets
from peers import wechat as wx
from tests.channels.wechat.test_case_notice import OPENID, close_case, closing, filed_report
from tests.channels.wechat.test_wechat import configure_account
from tests.conftest import CASE_SECRET
from tests.support.waiting import eventually


@pytest.fixture
async def rig(make_app: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[wx.WeChatPeer, str, Redis]]:
    account = configure_account(monkeypatch)
    async with wx.WeChatPeer(account, "") as peer:
        base = await make_app(wechat_accounts="main", wechat_api_base=peer.api_base, case_system_secret=CASE_SECRET,
                              ticket_prefix="WN", kb_seed=True, wechat_reply_budget_seconds=30)
        peer.gateway_url = f"{base}/wechat/main"
        redis = Redis.from_url(redis_url)
        yield peer, base, redis
        await redis.aclose()


async def say(peer: wx.WeChatPeer, text: str, msg_id: int) -> str:
    result = await peer.push(wx.text(OPENID, text, msg_id=msg_id), mode="safe")
    assert result.status == 200
    return str(result.reply["Content"])


async def test_the_bots_answer_is_rated_with_numbers_once(rig) -> None:
    peer, _, redis = rig
    answer = await say(peer, "居住证怎么办理", 8801)
    assert answer.endswith(ASK_RESOLVED)
    ticket = next(t for t in [await Tickets(redis).get(i.decode()) for i in await redis.zrange(wx_keys.user_tickets("main", OPENID), 0, -1)]
                  if t.status == "answered")
    assert await say(peer, "1", 8802) == ASK_SATISFACTION
    thanks = await say(peer, "3 要准备的材料太多了", 8803)
    assert "感谢您的评价" in thanks and "不满意" in thanks
    stored = await Tickets(redis).get(ticket.id)
    assert stored.followup is not None
    assert (stored.followup.resolved, stored.followup.satisfaction, stored.followup.reason, stored.followup.channel) == (
        True, "unsatisfied", "要准备的材料太多了", "wechat")
    # Nothing is asked any more: another "1" is an ordinary message, not a second answer.
    assert "感谢您的评价" not in await say(peer, "1", 8804)
    assert [e.event for e in (await Tickets(redis).get(ticket.id)).history].count("followup_answered") == 1


async def test_the_closing_notice_asks_and_words_answer(rig) -> None:
    peer, base, redis = rig
    ticket = await filed_report(peer, redis)
    await close_case(base, ticket)
    sent = await peer.wait_sent(closing, timeout=20)
    assert sent["text"]["content"].endswith(ASK_RESOLVED)
    assert await say(peer, "没解决", 8811) == ASK_SATISFACTION
    assert "基本满意" in await say(peer, "基本满意", 8812)
    stored = await eventually(lambda: Tickets(redis).get(ticket.id), lambda t: t.followup is not None)
    assert (stored.followup.resolved, stored.followup.satisfaction, stored.followup.reason) == (False, "basically_satisfied", None)


async def test_a_message_that_is_no_answer_is_handled_as_usual(rig) -> None:
    peer, base, redis = rig
    ticket = await filed_report(peer, redis)
    await close_case(base, ticket)
    await peer.wait_sent(closing, timeout=20)
    reply = await say(peer, "查询进度", 8821)  # the citizen moves on
    assert ticket.id in reply
    assert await say(peer, "1", 8822) != ASK_SATISFACTION  # the question was dropped
    assert (await Tickets(redis).get(ticket.id)).followup is None
