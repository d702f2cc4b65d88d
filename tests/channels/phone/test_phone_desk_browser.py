"""The agent desk's call panel in a real browser (Debian's headless Chromium driven by Playwright)
against a real gateway process with the phone channel off (HOTLINE_PHONE=0).

The test plays the phone backend: it publishes the documented `call.*` events on the gateway's
pub/sub channel, writes LiveCalls into the live-calls hash, and stores transcript segments and
pre-filled fields on the ticket the way channels/phone/service.py does, while the desk's own
actions (insert a KB answer, confirm or correct a pre-filled field) go through the real API.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect
from redis.asyncio import Redis

from channels.phone.service import LIVE_CALLS
from gateway import clock, keys
from gateway.ticket import Location, Provenance, Ticket, TranscriptSegment
from gateway.tickets import Tickets
from tests.support.browser import skip_without_chromium
from tests.support.desk import PASSWORD, add_user, login
from tests.support.kb import call, content, publish_new
from tests.support.processes import Gateway
from tests.support.waiting import eventually

skip_without_chromium()
# Set to a folder to keep screenshots of the screen pop, the live call and its end.
SCREENSHOTS = os.environ.get("HOTLINE_TEST_SCREENSHOTS")

AGENT = "pdagent1"  # distinct: pub/sub is shared by every database, and other runs publish call events too
CALLER = "13812345678"
CALLER_E164 = "+8613812345678"
ENTRY_ID = "pd-test-noise-complaints"
ANSWER = ("测试专用答复：夜间施工噪声扰民的，可向所在区城市管理综合执法部门反映；"
          "夜间（22时至次日6时）未取得夜间施工许可的施工作业，执法部门将依法查处。")


@pytest.fixture
async def gateway(redis_url: str, tmp_path: Path, gateways: list[Gateway]) -> Gateway:
    gw = Gateway(redis_url, tmp_path / "gw", HOTLINE_TICKET_PREFIX="PD", HOTLINE_PHONE="0")
    gateways.append(gw)
    gw.start()
    await add_user(redis_url, AGENT, "agent")
    return gw


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def agent_api(gateway: Gateway) -> AsyncIterator[Callable[..., Any]]:
    """(method, path, body) -> (status, json) with the agent's own session."""
    session, csrf = await login(gateway.base, AGENT)

    async def request(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return await call(session, csrf, method, f"{gateway.base}/api/v1{path}", body)

    yield request
    await session.close()


# ---------------------------------------------------------------------------------------------
# Playing the phone backend
# ---------------------------------------------------------------------------------------------

async def publish(redis: Redis, event: dict[str, Any]) -> None:
    await redis.publish(keys.events_channel(redis), json.dumps({**event, "audience": [AGENT]}, ensure_ascii=False))


async def push(redis: Redis, live: dict[str, Any], event: dict[str, Any]) -> None:
    """As PhoneChannel.push: every event of a call carries its ticket id and linkedid."""
    await publish(redis, {**event, "ticket_id": live["ticket_id"], "linkedid": live["linkedid"]})


def live_call(linkedid: str, ticket_id: str, state: str, *, agent: str | None = None, ringing: list[str] | None = None,
              earlier: list[dict[str, Any]] | None = None, waited: float = 35, **extra: Any) -> dict[str, Any]:
    """A LiveCall as CallSession.live_view() makes it."""
    return {
        "linkedid": linkedid, "ticket_id": ticket_id, "state": state, "queue": "hotline",
        "caller": CALLER_E164, "caller_masked": "138****5678", "caller_name": "王先生",
        "agent": agent, "ringing": ringing or [],
        "started_at": (datetime.now(timezone.utc) - timedelta(seconds=waited)).isoformat(),
        "earlier": earlier or [], "suggestions": [], "prefill": {}, "legs": [], "lag": 0.0, **extra,
    }


async def add_segment(redis: Redis, ticket_id: str, leg: str, start: float, end: float, text: str) -> tuple[int, dict[str, Any]]:
    """Store a final utterance on the ticket first, as PhoneChannel.add_segment does; its index and JSON."""
    segment = TranscriptSegment(leg=leg, start=start, end=end, text=text, confidence=0.92)  # type: ignore[arg-type]
    index: list[int] = []

    def append(ticket: Ticket) -> None:
        index[:] = [len(ticket.transcript)]
        ticket.transcript.append(segment)

    await Tickets(redis).update(ticket_id, append, None)
    return index[0], segment.model_dump(mode="json")


async def final(redis: Redis, live: dict[str, Any], leg: str, start: float, end: float, text: str) -> int:
    index, segment = await add_segment(redis, live["ticket_id"], leg, start, end, text)
    await push(redis, live, {"type": "call.final", "leg": leg, "index": index, "segment": segment})
    return index


async def prefill_from_transcript(redis: Redis, ticket_id: str, segment: int, text: str, fields: dict[str, Any]) -> None:
    """Fill fields from the transcript with `asr` provenance, as PhoneChannel._prefill does."""
    at = clock.now()

    def fill(ticket: Ticket) -> None:
        for name, value in fields.items():
            if name == "kind":
                ticket.kind = value
            elif name == "location":
                ticket.location = Location(**value)
            else:
                ticket.requester.callback_phone = value
            ticket.provenance.append(Provenance(field=name, by="asr", at=at, segment=segment, detail=f"通话转写第{segment + 1}句：{text}"))

    await Tickets(redis).update(ticket_id, fill, None)


# ---------------------------------------------------------------------------------------------
# Tickets, knowledge and the desk
# ---------------------------------------------------------------------------------------------

async def citizen_request(base: str, description: str, **fields: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/v1/requests", json={"description": description, "phone": CALLER, **fields}) as r:
            assert r.status in (200, 201), await r.text()
            return (await r.json())["ticket_id"]


async def summaries(agent_api: Callable[..., Any], ids: list[str]) -> list[dict[str, Any]]:
    """The list rows of these tickets (LiveCall.earlier holds the same summaries), newest first."""
    async def rows() -> dict[str, dict[str, Any]]:
        status, data = await agent_api("GET", "/agent/tickets?limit=50")
        assert status == 200, data
        return {t["id"]: t for t in data["tickets"]}

    found = await eventually(rows, lambda r: all(i in r for i in ids), timeout=30)
    return [found[i] for i in reversed(ids)]


async def ticket(agent_api: Callable[..., Any], ticket_id: str) -> dict[str, Any]:
    status, data = await agent_api("GET", f"/agent/tickets/{ticket_id}")
    assert status == 200, data
    return data


async def publish_kb_entry(redis_url: str, base: str) -> None:
    await add_user(redis_url, "pdeditor", "kb_editor")
    await add_user(redis_url, "pdreviewer", "kb_reviewer")
    editor, reviewer = await login(base, "pdeditor"), await login(base, "pdreviewer")
    try:
        async def revision() -> int:
            status, data = await call(*editor, "POST", f"{base}/api/v1/kb/try", {"text": "你好"})
            assert status == 200, data
            return data["revision"]

        before = await revision()
        await publish_new(editor, reviewer, base, ENTRY_ID, content(
            "测试专用：夜间施工噪声扰民如何反映", ["晚上工地施工太吵了", "夜间施工噪音扰民", "半夜还在施工怎么办"], ANSWER, category="城市管理"))
        # The live snapshot (what kb-answers inserts from) is rebuilt in the background after a publish.
        await eventually(revision, lambda r: r != before, timeout=20, interval=0.2)
    finally:
        await editor[0].close()
        await reviewer[0].close()


async def open_desk(browser: Browser, base: str) -> Page:
    """The agent logged in at /agent with the live connection open; JS errors and CSP reports collected."""
    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1366, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.js_errors = errors  # type: ignore[attr-defined]
    await page.goto(f"{base}/agent")
    await page.fill("#login-username", AGENT)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await expect(page.locator("#desk")).to_be_visible()
    await expect(page.locator("#ws-status")).to_have_attribute("data-state", "open")
    return page


async def shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SCREENSHOTS) / name))


def no_js_errors(page: Page) -> None:
    assert page.js_errors == [], page.js_errors  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

@pytest.mark.browser
async def test_screen_pop_live_transcript_assistance_and_end_of_call(
        gateway: Gateway, browser: Browser, redis: Redis, redis_url: str, agent_api: Callable[..., Any]) -> None:
    base = gateway.base
    first = await citizen_request(base, "小区东门外的路灯坏了一个多星期，晚上一片漆黑。", district="朝阳区")
    second = await citizen_request(base, "楼下的井盖松动了，车一过就响，存在安全隐患。")
    draft = await citizen_request(base, "电话来电，通话内容见语音转写。", name="王先生")  # the call's ticket
    earlier = await summaries(agent_api, [first, second])
    await publish_kb_entry(redis_url, base)

    desk = await open_desk(browser, base)
    panel = desk.locator("#call-panel")
    await expect(panel).to_be_hidden()

    # --- the phone rings: screen pop ---
    live = live_call("1700000001.11", draft, "ringing", ringing=[AGENT], earlier=earlier)
    ring = {"type": "call.ringing", "agent": AGENT, "interface": "PJSIP/1001", "call": live}
    await publish(redis, ring)
    await expect(panel).to_be_visible()
    await expect(panel).to_have_attribute("data-state", "ringing")
    await expect(desk.locator("#call-heading")).to_have_text("来电")
    await expect(desk.locator("#call-number")).to_have_text("138 1234 5678")
    await expect(desk.locator("#call-name")).to_have_text("王先生")
    await expect(desk.locator("#call-queue")).to_contain_text("hotline")
    await expect(desk.locator("#call-elapsed")).to_contain_text(re.compile(r"已等候 00:3\d"))
    await expect(desk.locator("#call-earlier-heading")).to_have_text("该号码近期来电 2 次")
    items = desk.locator("#call-earlier-list .earlier-item")
    await expect(items).to_have_count(2)
    await expect(items.nth(0)).to_contain_text(second)
    await expect(items.nth(0)).to_contain_text("井盖")
    await expect(desk.locator("#call-ticket-link")).to_have_text(draft)
    await expect(desk.locator("#call-body")).to_be_hidden()
    assert (await desk.title()).startswith("【来电】")
    await shot(desk, "1-screen-pop.png")

    await desk.locator(f'#call-earlier-list [data-open-ticket="{first}"]').click()  # an earlier ticket opens in the detail pane
    await expect(desk.locator("#detail-heading")).to_have_text(f"工单 {first}")
    await expect(desk.locator("#detail-content")).to_contain_text("路灯")
    await desk.click("#call-ticket-link")
    await expect(desk.locator("#detail-heading")).to_have_text(f"工单 {draft}")

    # Another agent answers: the pop closes.
    await push(redis, live, {"type": "call.ring_stopped"})
    await expect(panel).to_be_hidden()
    assert not (await desk.title()).startswith("【来电】")

    # --- it rings again and this agent answers: the live call ---
    await publish(redis, ring)
    await expect(panel).to_have_attribute("data-state", "ringing")
    live = {**live, "state": "connected", "agent": AGENT, "ringing": []}
    await push(redis, live, {"type": "call.connected", "call": live})
    await expect(panel).to_have_attribute("data-state", "connected")
    await expect(desk.locator("#call-heading")).to_have_text("通话中")
    await expect(desk.locator("#call-body")).to_be_visible()
    await expect(desk.locator("#call-lag")).to_be_hidden()

    # Partials are replaced as they change, then by the final.
    transcript = desk.locator("#call-transcript")
    caller_partial = transcript.locator('li.partial[data-leg="caller"]')
    for seq, text in enumerate(["我要反映", "我要反映一下晚上", "我要反映一下晚上工地施工"], start=1):
        await push(redis, live, {"type": "call.partial", "leg": "caller", "text": text, "seq": seq, "audio_time": 2.0 + seq})
        await expect(caller_partial).to_have_text(re.compile(text + "$"))
    await expect(caller_partial).to_have_count(1)
    await push(redis, live, {"type": "call.partial", "leg": "agent", "text": "您好请讲", "seq": 1, "audio_time": 1.5})
    await expect(transcript.locator('li.partial[data-leg="agent"]')).to_contain_text("您好请讲")

    said = "我要反映一下晚上工地施工太吵了，半夜还在施工"
    i_caller = await final(redis, live, "caller", 3.2, 7.9, said)
    await expect(transcript.locator(f'li.final[data-index="{i_caller}"]')).to_contain_text(said)
    await expect(transcript.locator(f'li.final[data-index="{i_caller}"]')).to_contain_text("00:03")
    await expect(transcript.locator(f'li.final[data-index="{i_caller}"]')).to_contain_text("市民")
    await expect(caller_partial).to_have_count(0)
    await expect(transcript.locator('li.partial[data-leg="agent"]')).to_have_count(1)
    # The agent's words started earlier, though they were final later: they go first.
    i_agent = await final(redis, live, "agent", 1.0, 2.4, "您好，这里是12345热线，请讲")
    await expect(transcript.locator(f'li.final[data-index="{i_agent}"]')).to_contain_text("坐席")
    await expect(transcript.locator("li.partial")).to_have_count(0)
    assert await transcript.locator("li.final").evaluate_all("els => els.map(e => Number(e.dataset.index))") == [i_agent, i_caller]

    # --- decoding falls behind, then catches up ---
    await push(redis, live, {"type": "call.lag", "leg": "caller", "behind": True, "seconds": 3.4})
    await expect(desk.locator("#call-lag")).to_be_visible()
    await expect(desk.locator("#call-lag")).to_have_text("转写延迟约 3 秒")
    await push(redis, live, {"type": "call.lag", "leg": "caller", "behind": False, "seconds": 0.4})
    await expect(desk.locator("#call-lag")).to_be_hidden()

    # --- a KB answer is suggested and inserted with one click ---
    suggestion = {"entry_id": ENTRY_ID, "version": 1, "title": "测试专用：夜间施工噪声扰民如何反映", "answer": ANSWER,
                  "category": "城市管理", "score": 3.1, "coverage": 0.72}
    await push(redis, live, {"type": "call.suggestions", "items": [suggestion]})
    item = desk.locator(f'#call-suggestions [data-entry-id="{ENTRY_ID}"]')
    await expect(item).to_contain_text("夜间施工噪声扰民如何反映")
    await expect(item).to_contain_text("城市管理")
    await expect(item.locator(".sg-answer")).to_have_text(ANSWER[:60] + "…")
    await item.locator(".sg-toggle").click()
    await expect(item.locator(".sg-answer")).to_have_text(ANSWER)
    await expect(item.locator(".sg-toggle")).to_have_attribute("aria-expanded", "true")
    async with desk.expect_response(lambda r: r.url.endswith(f"/api/v1/agent/tickets/{draft}/kb-answers")) as answered:
        await item.locator(".sg-insert").click()
    assert (await answered.value).status == 200
    await expect(item.locator(".sg-insert")).to_have_text("已插入")
    await expect(item.locator(".sg-insert")).to_be_disabled()
    stored = await ticket(agent_api, draft)
    assert any(m["source"] == "kb" and m["text"] == ANSWER and m["author"] == AGENT for m in stored["messages"]), stored["messages"]
    await expect(desk.locator("#detail-content .d-messages")).to_contain_text(ANSWER[:20])
    # A new list of suggestions replaces the old one; the inserted state stays with the entry.
    await push(redis, live, {"type": "call.suggestions", "items": [suggestion]})
    await expect(item.locator(".sg-insert")).to_have_text("已插入")

    # --- fields read from the transcript: confirm, correct ---
    location = {"district": "朝阳区", "district_code": "110105", "street": "望京街道"}
    fields = {"kind": "complaint", "location": location, "callback_phone": "+8613911112222"}
    await prefill_from_transcript(redis, draft, i_caller, said, fields)
    await push(redis, live, {"type": "call.prefill", "fields": {
        name: {"value": value, "segment": i_caller, "text": said, "start": 3.2} for name, value in fields.items()}})
    prefill = desk.locator("#call-prefill")
    await expect(prefill.locator('[data-field="kind"] .pf-value')).to_have_text("投诉")
    await expect(prefill.locator('[data-field="location"] .pf-value')).to_have_text("朝阳区 望京街道")
    await expect(prefill.locator('[data-field="callback_phone"] .pf-value')).to_have_text("139 1111 2222")
    await expect(prefill.locator('[data-field="location"] .pf-state')).to_have_text("待确认")
    await push(redis, live, {"type": "call.partial", "leg": "caller", "text": "就在望京西园三区", "seq": 4, "audio_time": 9.0})
    await push(redis, live, {"type": "call.lag", "leg": "caller", "behind": True, "seconds": 2.2})
    await expect(desk.locator("#call-lag")).to_be_visible()
    await shot(desk, "2-live.png")
    await push(redis, live, {"type": "call.lag", "leg": "caller", "behind": False, "seconds": 0.2})
    await expect(desk.locator("#call-lag")).to_be_hidden()

    await prefill.locator('[data-field="location"] .pf-source').click()  # the utterance it came from
    await expect(transcript.locator(f'li.final[data-index="{i_caller}"]')).to_have_class(re.compile(r"\bis-source\b"))

    await prefill.locator('[data-field="location"] .pf-confirm').click()
    await expect(prefill.locator('[data-field="location"] .pf-state')).to_have_text("✓ 已确认（本人）")
    await expect(prefill.locator('[data-field="location"] .pf-confirm')).to_have_count(0)
    stored = await ticket(agent_api, draft)
    confirmed = [p for p in stored["provenance"] if p["field"] == "location" and p["by"] == "asr"]
    assert confirmed and confirmed[-1]["confirmed_by"] == AGENT, stored["provenance"]

    await prefill.locator('[data-field="kind"] .pf-edit').click()
    await desk.select_option("#pf-kind-input", "report")
    await prefill.locator('[data-field="kind"] .pf-save').click()
    await expect(prefill.locator('[data-field="kind"] .pf-value')).to_have_text("举报")
    await expect(prefill.locator('[data-field="kind"] .pf-state')).to_have_text("已修改")
    assert (await ticket(agent_api, draft))["kind"] == "report"

    await prefill.locator('[data-field="callback_phone"] .pf-edit').click()
    await desk.fill("#pf-phone-input", "12345")
    await prefill.locator('[data-field="callback_phone"] .pf-save').click()
    error = prefill.locator("#pf-callback_phone-error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("回拨电话号码格式不正确")
    await expect(desk.locator("#pf-phone-input")).to_have_attribute("aria-invalid", "true")
    await shot(desk, "3-correcting.png")
    await desk.fill("#pf-phone-input", "139 1111 3333")
    await prefill.locator('[data-field="callback_phone"] .pf-save').click()
    await expect(prefill.locator('[data-field="callback_phone"] .pf-value')).to_have_text("139 1111 3333")
    assert (await ticket(agent_api, draft))["requester"]["callback_phone"] == "+8613911113333"

    # --- the agent's audio stops; then the call ends ---
    await push(redis, live, {"type": "call.audio_interrupted", "leg": "agent", "reason": "reset"})
    await expect(desk.locator("#call-status")).to_contain_text("坐席一侧的语音转写已中断")
    await push(redis, live, {"type": "call.partial", "leg": "caller", "text": "好的谢谢", "seq": 9, "audio_time": 30.0})
    await expect(caller_partial).to_have_count(1)
    await push(redis, live, {"type": "call.ended", "abandoned": False, "cause": 16, "cause_text": "Normal Clearing"})
    await expect(desk.locator("#call-heading")).to_have_text("通话已结束")
    await expect(desk.locator("#call-status")).to_contain_text("正常挂机")
    await expect(caller_partial).to_have_count(0)
    await expect(transcript.locator("li.final")).to_have_count(2)  # the transcript stays readable
    await expect(desk.locator("#call-close")).to_be_visible()
    await shot(desk, "4-ended.png")
    await desk.click("#call-close")
    await expect(panel).to_be_hidden()
    no_js_errors(desk)


@pytest.mark.browser
async def test_a_desk_reloaded_mid_call_finds_its_call_again(
        gateway: Gateway, browser: Browser, redis: Redis, agent_api: Callable[..., Any]) -> None:
    base = gateway.base
    draft = await citizen_request(base, "电话来电，通话内容见语音转写。")
    i0, _ = await add_segment(redis, draft, "agent", 0.8, 2.0, "您好，12345热线")
    i1, _ = await add_segment(redis, draft, "caller", 2.5, 6.0, "我家楼下的餐馆油烟特别大")
    suggestion = {"entry_id": "pd-test-cooking-fumes", "version": 2, "title": "餐饮油烟扰民如何反映",
                  "answer": "可向所在区生态环境部门反映。", "category": "生态环境", "score": 2.0, "coverage": 0.5}
    live = live_call("1700000002.22", draft, "connected", agent=AGENT, waited=95, lag=2.6, suggestions=[suggestion])
    await redis.hset(LIVE_CALLS, live["linkedid"], json.dumps(live, ensure_ascii=False))

    desk = await open_desk(browser, base)
    transcript = desk.locator("#call-transcript")
    await expect(desk.locator("#call-panel")).to_have_attribute("data-state", "connected")
    await expect(desk.locator("#call-heading")).to_have_text("通话中")
    await expect(desk.locator("#call-number")).to_have_text("138 1234 5678")
    await expect(transcript.locator("li.final")).to_have_count(2)
    await expect(transcript.locator(f'li.final[data-index="{i1}"]')).to_contain_text("油烟特别大")
    await expect(desk.locator("#call-lag")).to_have_text("转写延迟约 3 秒")  # LiveCall.lag until the next lag event
    await expect(desk.locator("#call-suggestions")).to_contain_text("餐饮油烟扰民如何反映")
    await expect(desk.locator("#detail-heading")).to_have_text(f"工单 {draft}")  # nothing was open: the call's ticket is

    # Live again: what is said next arrives as before.
    await push(redis, live, {"type": "call.lag", "leg": "caller", "behind": False, "seconds": 0.2})
    await expect(desk.locator("#call-lag")).to_be_hidden()
    await push(redis, live, {"type": "call.partial", "leg": "caller", "text": "甚至出现", "seq": 1, "audio_time": 7.0})
    await expect(transcript.locator('li.partial[data-leg="caller"]')).to_contain_text("甚至出现")
    i2 = await final(redis, live, "caller", 6.5, 9.0, "甚至出现交易几乎停滞的情况")
    await expect(transcript.locator(f'li.final[data-index="{i2}"]')).to_contain_text("甚至出现交易几乎停滞的情况")
    await expect(transcript.locator("li.partial")).to_have_count(0)

    # Reloaded once more: everything said so far is back.
    await desk.reload()
    await expect(desk.locator("#call-panel")).to_be_visible()
    await expect(transcript.locator("li.final")).to_have_count(3)
    assert await transcript.locator("li.final").evaluate_all("els => els.map(e => Number(e.dataset.index))") == [i0, i1, i2]

    # A long call: the transcript follows the newest words, unless the agent scrolled up to read.
    gap = "el => el.scrollHeight - el.scrollTop - el.clientHeight"
    for n in range(12):
        last = await final(redis, live, "caller" if n % 2 else "agent", 10.0 + 3 * n, 12.0 + 3 * n, f"第{n + 1}句：这条油烟管道就在我家窗户下面")
    await expect(transcript.locator(f'li.final[data-index="{last}"]')).to_be_visible()
    assert await transcript.evaluate(gap) < 5
    await transcript.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
    await expect(desk.locator("#call-follow")).to_be_hidden()
    more = await final(redis, live, "caller", 60.0, 62.0, "您看什么时候能派人来看看")
    await expect(transcript.locator(f'li.final[data-index="{more}"]')).to_be_attached()
    await expect(desk.locator("#call-follow")).to_be_visible()
    assert await transcript.evaluate("el => el.scrollTop") == 0  # left where the agent is reading
    await desk.click("#call-follow")
    await expect(desk.locator("#call-follow")).to_be_hidden()
    assert await transcript.evaluate(gap) < 5

    # The call ends while the desk's connection is down (the gateway restarts): when the socket
    # reopens, the call is no longer live, and the panel says it ended, keeping the transcript.
    await redis.hdel(LIVE_CALLS, live["linkedid"])
    gateway.restart()
    await expect(desk.locator("#call-heading")).to_have_text("通话已结束", timeout=20_000)
    await expect(desk.locator("#call-status")).to_contain_text("实时连接中断期间结束")
    await expect(transcript.locator("li.final")).to_have_count(16)
    await desk.click("#call-close")
    await expect(desk.locator("#call-panel")).to_be_hidden()
    no_js_errors(desk)


@pytest.mark.browser
async def test_caller_hangs_up_while_ringing_and_audio_failure_is_reported(
        gateway: Gateway, browser: Browser, redis: Redis) -> None:
    draft = await citizen_request(gateway.base, "电话来电，通话内容见语音转写。")
    desk = await open_desk(browser, gateway.base)
    live = live_call("1700000003.33", draft, "ringing", ringing=[AGENT], waited=80)
    await publish(redis, {"type": "call.ringing", "agent": AGENT, "interface": "PJSIP/1001", "call": live})
    await expect(desk.locator("#call-heading")).to_have_text("来电")
    await expect(desk.locator("#call-earlier-heading")).to_have_text("该号码近期无来电记录")

    await push(redis, live, {"type": "call.audio_failed", "leg": "caller", "error": "Originate failed"})
    await expect(desk.locator("#call-status")).to_contain_text("该通话的语音转写不可用")
    await push(redis, live, {"type": "call.ended", "abandoned": True, "cause": 16, "cause_text": "Normal Clearing"})
    await expect(desk.locator("#call-heading")).to_have_text("市民已挂断（排队中放弃）")
    await expect(desk.locator("#call-status")).to_contain_text("请按工单回拨市民")
    assert not (await desk.title()).startswith("【来电】")
    await desk.click("#call-close")
    await expect(desk.locator("#call-panel")).to_be_hidden()
    # A late event for the closed call does not bring it back (events arrive in order: once the
    # next call pops up, the late ones have been handled).
    await push(redis, live, {"type": "call.suggestions", "items": []})
    await push(redis, live, {"type": "call.lag", "leg": "caller", "behind": False, "seconds": 0})
    other = live_call("1700000004.44", draft, "ringing", ringing=[AGENT], waited=3)
    await publish(redis, {"type": "call.ringing", "agent": AGENT, "interface": "PJSIP/1001", "call": other})
    await expect(desk.locator("#call-panel")).to_have_attribute("data-state", "ringing")
    await expect(desk.locator("#call-switch")).to_be_hidden()  # one call only
    assert (await desk.title()).startswith("【来电】")
    no_js_errors(desk)
