"""A call seen from the agent's chair, in real headless Chromium: the phone rings, the screen
pops, and while the caller's real recorded words stream through AudioSocket at telephone pace
the transcript appears word by word, then stands final on the ticket."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from peers.asterisk import FakeAsterisk
from tests.support.browser import skip_without_chromium
from tests.support.desk import PASSWORD, add_user
from tests.support.phone import AMI_SECRET, CLIP_TEXT, clip_8k
from tests.support.processes import Gateway, free_port

skip_without_chromium()


@pytest.mark.browser
async def test_agent_watches_the_callers_words_appear_then_finds_them_on_the_ticket(
        browser: Browser, redis_url: str, tmp_path: Path, gateways: list[Gateway]) -> None:
    asterisk = FakeAsterisk(username="hotline", secret=AMI_SECRET, login_failure_delay=0.05)
    await asterisk.start()
    try:
        gw = Gateway(redis_url, tmp_path / "gw", HOTLINE_PHONE="1", HOTLINE_AMI_PORT=str(asterisk.port), HOTLINE_AMI_SECRET=AMI_SECRET,
                     HOTLINE_AUDIOSOCKET_LISTEN=f"127.0.0.1:{free_port()}", HOTLINE_PHONE_AGENTS="PJSIP/1001=agent1",
                     HOTLINE_TICKET_PREFIX="PB", HOTLINE_WORKERS="inline")
        gateways.append(gw)
        gw.start(timeout=60)
        await asterisk.wait_for_clients(timeout=30)
        await add_user(redis_url, "agent1", "agent")

        page = await (await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1440, "height": 1000})).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{gw.base}/agent")
        await page.fill("#login-username", "agent1")
        await page.fill("#login-password", PASSWORD)
        await page.click("#login-submit")
        await expect(page.locator("#ws-status")).to_have_attribute("data-state", "open")

        call = await asterisk.inbound_call(caller_num="13812345678")
        await asterisk.ring_agent(call, agent_endpoint="1001", interface="PJSIP/1001")
        panel = page.locator("#call-panel")
        await expect(panel).to_have_attribute("data-state", "ringing", timeout=15_000)
        await expect(page.locator("#call-number")).to_contain_text("138 1234 5678")

        # Record, in the page, when each piece of transcript first shows and whether it was a partial.
        await page.evaluate("""() => {
            window.__seen = [];
            new MutationObserver(() => {
                for (const li of document.querySelectorAll('#call-transcript li')) {
                    const kind = li.classList.contains('partial') ? 'partial' : 'final';
                    const text = li.textContent;
                    const last = window.__seen[window.__seen.length - 1];
                    if (!last || last.kind !== kind || last.text !== text) window.__seen.push({kind, text, at: Date.now()});
                }
            }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }""")
        asterisk.set_leg_audio(call.caller_channel, clip_8k(), realtime=True)
        started_ms = time.time() * 1000
        await asterisk.answer(call)
        await expect(panel).to_have_attribute("data-state", "connected")

        final = page.locator("#call-transcript li.final", has_text=CLIP_TEXT)
        await expect(final).to_be_visible(timeout=60_000)
        seen = await page.evaluate("window.__seen")
        partials = [s for s in seen if s["kind"] == "partial" and any(w in s["text"] for w in ("甚至", "出现", "交易", "停滞"))]
        assert partials, f"no partial words were shown before the final: {seen}"
        first_final_ms = min(s["at"] for s in seen if s["kind"] == "final" and CLIP_TEXT in s["text"])
        assert partials[0]["at"] < first_final_ms
        # The first words showed while the 4.2 s clip was still playing, not after it.
        assert partials[0]["at"] - started_ms < 4200 + 1500, (partials[0]["at"] - started_ms)

        await asterisk.wait_audio_done(call.caller_channel, timeout=30)
        await asterisk.hangup(call)
        await expect(page.locator("#call-status")).to_contain_text("通话已结束", timeout=60_000)
        await page.click("#detail-refresh")
        await expect(page.locator("#ticket-detail .d-transcript")).to_contain_text(CLIP_TEXT)
        assert errors == []
    finally:
        await asterisk.stop()


@pytest.mark.browser
async def test_without_agent_mapping_the_supervisors_panel_opens_by_itself(
        browser: Browser, redis_url: str, tmp_path: Path, gateways: list[Gateway]) -> None:
    # The README's defaults: HOTLINE_PHONE_AGENTS empty, so no agent's phone is known.
    asterisk = FakeAsterisk(username="hotline", secret=AMI_SECRET, login_failure_delay=0.05)
    await asterisk.start()
    try:
        gw = Gateway(redis_url, tmp_path / "gw", HOTLINE_PHONE="1", HOTLINE_AMI_PORT=str(asterisk.port), HOTLINE_AMI_SECRET=AMI_SECRET,
                     HOTLINE_AUDIOSOCKET_LISTEN=f"127.0.0.1:{free_port()}", HOTLINE_PHONE_AGENTS="",
                     HOTLINE_TICKET_PREFIX="PS", HOTLINE_WORKERS="inline")
        gateways.append(gw)
        gw.start(timeout=60)
        await asterisk.wait_for_clients(timeout=30)
        await add_user(redis_url, "chief", "supervisor")

        page = await (await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1440, "height": 1000})).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{gw.base}/agent")
        await page.fill("#login-username", "chief")
        await page.fill("#login-password", PASSWORD)
        await page.click("#login-submit")
        await expect(page.locator("#ws-status")).to_have_attribute("data-state", "open")

        call = await asterisk.inbound_call(caller_num="13812345678")
        await asterisk.ring_agent(call, agent_endpoint="1001", interface="PJSIP/1001")
        panel = page.locator("#call-panel")
        await expect(panel).to_be_visible(timeout=15_000)
        await expect(panel).to_have_attribute("data-state", "ringing")
        await expect(page.locator("#call-number")).to_contain_text("138 1234 5678")

        asterisk.set_leg_audio(call.caller_channel, clip_8k(), realtime=False)
        await asterisk.answer(call)
        await expect(panel).to_have_attribute("data-state", "connected")
        await expect(panel).to_be_visible()
        await expect(page.locator("#call-transcript li.final", has_text=CLIP_TEXT)).to_be_visible(timeout=60_000)
        await asterisk.hangup(call)
        await expect(page.locator("#call-status")).to_contain_text("通话已结束", timeout=60_000)
        assert errors == []
    finally:
        await asterisk.stop()
