"""Sign-language video sessions with both sides in headless Chromium (fake camera and
microphone) against the real gateway: queue place, accept, two-way video relayed through the
gateway's aiortc, chat on both pages, filing, ending, and the recording on the ticket decoded
with PyAV; an abrupt end still files the ticket; the alternatives when no agent is free."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import desk_page
from tests.support.video import add_desk_user, decoded_video_frames, video_browser  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CITIZEN_LINE = "我家楼道的灯坏了一个星期"
AGENT_LINE = "请问您住在哪个小区？"
PLAYING = "id => { const v = document.getElementById(id); return v && v.videoWidth > 0 && v.currentTime > 0.5; }"


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Poll `check` until it returns something truthy (a condition, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


@pytest.fixture
async def video_app(make_app, redis_url: str) -> Callable[..., Awaitable[str]]:
    async def start(**overrides: Any) -> str:
        base = await make_app(video=True, ticket_prefix="VD", **overrides)
        await add_desk_user(redis_url, "signer", "agent", sign_language=True)
        return base
    return start


async def desk(browser: Browser, base: str, username: str = "signer") -> Page:
    page = await desk_page(browser, base, username)
    await expect(page.locator("#video-panel")).to_be_visible()
    return page


async def citizen(browser: Browser, base: str, phone: str | None = None) -> Page:
    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = await context.new_page()
    await page.goto(f"{base}/video")
    if phone:
        await page.fill("#phone", phone)
    await page.click("#start-video")
    await expect(page.locator("#queue-position")).to_be_visible(timeout=20_000)
    return page


async def connect(agent: Page, person: Page) -> str:
    """The agent accepts the waiting request; both see each other's video. Returns the ticket id."""
    ticket_id = (await person.inner_text("#ticket-id")).strip()
    row = agent.locator(f'li.video-request:has-text("{ticket_id}")')
    await row.locator("button.video-accept").click()
    await expect(person.locator("#main")).to_have_attribute("data-state", "connected", timeout=20_000)
    await agent.wait_for_function(PLAYING, arg="video-remote", timeout=20_000)
    await person.wait_for_function(PLAYING, arg="remote-video", timeout=20_000)
    return ticket_id


async def ticket_of(agent: Page, base: str, ticket_id: str) -> dict:
    resp = await agent.request.get(f"{base}/api/v1/agent/tickets/{ticket_id}")
    assert resp.status == 200
    return await resp.json()


async def ended_ticket(agent: Page, base: str, ticket_id: str) -> dict:
    async def ended() -> dict | None:
        t = await ticket_of(agent, base, ticket_id)
        return t if any(e["event"] == "video_ended" for e in t["history"]) else None
    return await eventually(ended, timeout=40)


async def recording_frames(agent: Page, base: str, ticket: dict, tmp_path: Path) -> int:
    videos = [a for a in ticket["attachments"] if a["kind"] == "video"]
    assert len(videos) == 1, ticket["attachments"]
    assert videos[0]["mime"] == "video/webm"
    resp = await agent.request.get(f"{base}/api/v1/agent/blobs/{videos[0]['sha256']}")
    assert resp.status == 200
    path = tmp_path / "recording.webm"
    path.write_bytes(await resp.body())
    frames, width, height = decoded_video_frames(path)
    assert 0 < width <= 640 and 0 < height <= 480
    return frames


async def test_video_session_from_request_to_filed_ticket(video_app, video_browser: Browser, tmp_path: Path) -> None:
    base = await video_app()
    agent = await desk(video_browser, base)
    person = await citizen(video_browser, base, phone="13812345678")
    await expect(person.locator("#queue-position")).to_have_text("您是下一位")
    ticket_id = await connect(agent, person)

    await person.fill("#chat-input", CITIZEN_LINE)
    await person.press("#chat-input", "Enter")
    await expect(agent.locator("#video-chat-log")).to_contain_text(CITIZEN_LINE)
    await expect(person.locator("#chat-log")).to_contain_text(CITIZEN_LINE)
    await agent.fill("#video-chat-input", AGENT_LINE)
    await agent.press("#video-chat-input", "Enter")
    await expect(person.locator("#chat-log")).to_contain_text(AGENT_LINE)
    await expect(agent.locator("#video-chat-log")).to_contain_text(AGENT_LINE)

    await agent.fill("#video-file-content", "市民反映朝阳区某小区楼道灯损坏一周，请物业维修。")
    await agent.select_option("#video-file-kind", "complaint")
    await agent.click("#video-file-submit")
    await expect(agent.locator("#video-file-msg")).to_contain_text(f"已提交工单 {ticket_id}")

    await agent.click("#video-end")
    await expect(agent.locator("#desk-confirm")).to_contain_text("确定结束与市民的视频通话")
    await agent.click("#desk-confirm-ok")
    await expect(person.locator("#ended")).to_be_visible(timeout=20_000)
    await expect(person.locator("#ended-message")).to_contain_text("坐席已结束本次视频通话")
    await expect(person.locator("#ended-ticket-id")).to_have_text(ticket_id)
    await expect(agent.locator("#video-panel")).to_have_attribute("data-state", "ended")

    ticket = await ended_ticket(agent, base, ticket_id)
    assert ticket["channel"] == "video"
    assert ticket["kind"] == "complaint"
    assert ticket["content"].startswith("市民反映朝阳区")
    assert ticket["requester"]["phone"] == "+8613812345678"
    assert [(m["who"], m["text"]) for m in ticket["messages"]] == [("citizen", CITIZEN_LINE), ("agent", AGENT_LINE)]
    ended = next(e for e in ticket["history"] if e["event"] == "video_ended")
    assert ended["detail"]["reason"] == "agent" and ended["detail"]["recording"] is True
    assert {"video_accepted", "video_filed"} <= {e["event"] for e in ticket["history"]}
    frames = await recording_frames(agent, base, ticket, tmp_path)
    assert frames >= 10, frames
    transcript = next(a for a in ticket["attachments"] if a["kind"] == "document")
    text = (await (await agent.request.get(f"{base}/api/v1/agent/blobs/{transcript['sha256']}")).body()).decode()
    assert CITIZEN_LINE in text and AGENT_LINE in text
    print(f"\nrecording: {frames} decodable frames, {ticket['attachments'][0]['size']} bytes")


async def test_citizen_vanishing_mid_session_still_files_the_ticket(video_app, video_browser: Browser, tmp_path: Path) -> None:
    base = await video_app()
    agent = await desk(video_browser, base)
    person = await citizen(video_browser, base)
    ticket_id = await connect(agent, person)
    await person.fill("#chat-input", CITIZEN_LINE)
    await person.press("#chat-input", "Enter")
    await expect(agent.locator("#video-chat-log")).to_contain_text(CITIZEN_LINE)

    await person.context.close()  # the tab is gone: no 结束通话, no goodbye

    await expect(agent.locator("#video-panel")).to_have_attribute("data-state", "ended", timeout=30_000)
    ticket = await ended_ticket(agent, base, ticket_id)
    ended = next(e for e in ticket["history"] if e["event"] == "video_ended")
    assert ended["detail"]["reason"] in {"citizen_left", "disconnected", "media_timeout"}
    assert ticket["messages"][0]["text"] == CITIZEN_LINE
    assert await recording_frames(agent, base, ticket, tmp_path) >= 5
    assert ticket["status"] == "received"  # answered by an agent: not abandoned, left for the agent to forward


async def test_media_stopping_without_a_word_ends_and_files(video_app, video_browser: Browser, tmp_path: Path) -> None:
    base = await video_app(video_media_timeout_seconds=2.0)
    agent = await desk(video_browser, base)
    person = await citizen(video_browser, base)
    ticket_id = await connect(agent, person)
    # The camera dies but the page and its socket stay: only the media watchdog can tell.
    await person.evaluate("() => document.getElementById('local-video').srcObject.getTracks().forEach(t => t.stop())")
    await expect(person.locator("#ended-message")).to_contain_text("长时间未收到视频画面", timeout=20_000)
    ticket = await ended_ticket(agent, base, ticket_id)
    assert next(e for e in ticket["history"] if e["event"] == "video_ended")["detail"]["reason"] == "media_timeout"
    assert await recording_frames(agent, base, ticket, tmp_path) >= 5


async def test_no_agent_in_time_offers_text_callback_or_waiting(video_app, video_browser: Browser) -> None:
    base = await video_app(video_queue_timeout_seconds=1.0)
    agent = await desk(video_browser, base)
    first = await citizen(video_browser, base)
    second = await citizen(video_browser, base)
    await expect(second.locator("#queue-position")).to_have_text("您前面还有 1 位")
    await expect(first.locator("#alternatives")).to_be_visible(timeout=10_000)
    await expect(first.locator("#use-text")).to_have_attribute("href", "/")
    await first.click("#keep-waiting")
    await expect(first.locator("#alternatives")).to_be_hidden()

    await expect(second.locator("#alternatives")).to_be_visible(timeout=10_000)
    await second.fill("#callback-phone", "12345")
    await second.click("#callback-submit")
    await expect(second.locator("#callback-error")).to_contain_text("手机号")
    await second.fill("#callback-phone", "13900001111")
    await second.click("#callback-submit")
    await expect(second.locator("#ended-message")).to_contain_text("已为您登记回访")
    ticket_id = (await second.inner_text("#ended-ticket-id")).strip()
    ticket = await ended_ticket(agent, base, ticket_id)
    assert ticket["requester"]["callback_phone"] == "+8613900001111"
    # The first citizen moves up.
    await expect(first.locator("#queue-position")).to_have_text("您是下一位")


async def test_a_full_service_says_so_to_the_citizen(video_app, video_browser: Browser) -> None:
    base = await video_app(video_max_sessions=1)
    await citizen(video_browser, base)
    context = await video_browser.new_context(locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{base}/video")
    await page.click("#start-video")
    await expect(page.locator("#video-error")).to_contain_text("当前视频手语服务已满")
    await expect(page.locator("#start-video")).to_be_enabled()


async def test_an_agent_page_reloading_mid_session_ends_and_files_it(video_app, video_browser: Browser, tmp_path: Path) -> None:
    base = await video_app()
    agent = await desk(video_browser, base)
    person = await citizen(video_browser, base)
    ticket_id = await connect(agent, person)
    await agent.reload()  # the agent's peer connection closes with the page
    # How soon the citizen hears of it depends on ICE noticing on a loaded machine: waited for, not timed.
    await expect(person.locator("#ended-message")).to_contain_text("坐席的视频连接已中断", timeout=120_000)
    ticket = await ended_ticket(agent, base, ticket_id)
    assert next(e for e in ticket["history"] if e["event"] == "video_ended")["detail"]["reason"] == "agent_disconnected"
    assert await recording_frames(agent, base, ticket, tmp_path) >= 5
