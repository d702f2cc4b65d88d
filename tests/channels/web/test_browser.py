"""The pages in a real browser (Debian's headless Chromium driven by Playwright) against a real
gateway process: a citizen's submission reaches an agent's open desk live, with its attachment;
the form shows server-side errors in Chinese next to the field; large-text mode works from the
keyboard."""
from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from redis.asyncio import Redis

from gateway import keys
from tests.support.browser import skip_without_chromium
from tests.support.desk import PASSWORD, add_user
from tests.support.media import png
from tests.support.processes import Gateway

skip_without_chromium()
CJK = re.compile(r"[\u4e00-\u9fff]")
DESCRIPTION = "朝阳区望京街道某小区东门外的路灯已经坏了一个多星期，晚上一片漆黑，老人孩子出行很不安全，请尽快派人维修。"
PHONE = "13812345678"


@pytest.fixture
async def gateway(redis_url: str, tmp_path: Path, gateways: list[Gateway]) -> Gateway:
    # Live events travel over Redis pub/sub, which is shared by all databases of a server: a
    # distinct ticket prefix keeps another test run's tickets from being mistaken for ours.
    gw = Gateway(redis_url, tmp_path / "gw", HOTLINE_TICKET_PREFIX="BT")
    gateways.append(gw)
    gw.start()
    await add_user(redis_url, "agent1", "agent")
    return gw


async def agent_desk(browser: Browser, base: str) -> Page:
    """An agent logged in at /agent, with the live connection open and the first list loaded."""
    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1440, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{base}/agent")
    await page.fill("#login-username", "agent1")
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await expect(page.locator("#desk")).to_be_visible()
    await expect(page.locator("#ws-status")).to_have_attribute("data-state", "open")
    # The list is (re)loaded when the socket opens; live rows are only added once it has loaded.
    await page.wait_for_function(
        "() => document.getElementById('ws-status').dataset.state === 'open'"
        " && !/正在加载/.test(document.getElementById('list-msg').textContent)")
    # Record when each ticket row first appears, in the page's own clock (epoch ms).
    await page.evaluate("""() => {
        window.__rowSeen = {};
        new MutationObserver(() => {
            for (const li of document.querySelectorAll('li.ticket-row')) {
                const id = li.dataset.ticketId;
                if (!(id in window.__rowSeen)) window.__rowSeen[id] = performance.timeOrigin + performance.now();
            }
        }).observe(document.getElementById('ticket-list'), {childList: true});
    }""")
    return page


async def citizen_page(browser: Browser, base: str, path: str = "/") -> Page:
    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = await context.new_page()
    await page.goto(f"{base}{path}")
    return page


async def recent_tickets(redis_url: str) -> int:
    redis = Redis.from_url(redis_url)
    try:
        return await redis.zcard(keys.RECENT_TICKETS)
    finally:
        await redis.aclose()


@pytest.mark.browser
async def test_citizen_request_appears_live_on_the_agent_desk_with_its_attachment(
        gateway: Gateway, browser: Browser, tmp_path: Path) -> None:
    desk = await agent_desk(browser, gateway.base)

    image = png()
    image_path = tmp_path / "路灯.png"
    image_path.write_bytes(image)
    sha = hashlib.sha256(image).hexdigest()

    citizen = await citizen_page(browser, gateway.base)
    await citizen.check("#kind-complaint")
    await citizen.fill("#description", DESCRIPTION)
    await citizen.select_option("#district", "朝阳区")
    await citizen.fill("#address", "望京街道望京西园三区东门")
    await citizen.fill("#phone", PHONE)
    await citizen.set_input_files("#attachments", str(image_path))
    await expect(citizen.locator("#attachments-list")).to_contain_text("路灯.png")
    await citizen.evaluate("""() => new MutationObserver((_, obs) => {
        if (!document.getElementById('result').hidden) {
            window.__resultShown = performance.timeOrigin + performance.now();
            obs.disconnect();
        }
    }).observe(document.getElementById('result'), {attributes: true, attributeFilter: ['hidden']})""")
    await citizen.click("#submit-request")

    await citizen.wait_for_selector("#result", state="visible", timeout=15_000)
    shown = time.monotonic()
    ticket_id = (await citizen.inner_text("#ticket-id")).strip()
    assert re.fullmatch(r"BT-\d{8}-\d{6}", ticket_id), ticket_id

    row_selector = f'li.ticket-row[data-ticket-id="{ticket_id}"]'
    await desk.wait_for_selector(row_selector, timeout=1000)
    waited = time.monotonic() - shown
    row_at = await desk.evaluate("id => window.__rowSeen[id]", ticket_id)
    shown_at = await citizen.evaluate("() => window.__resultShown")
    print(f"\nticket {ticket_id}: row on the agent desk {waited * 1000:.0f} ms after the test saw the success panel; "
          f"in-browser clocks: row {row_at - shown_at:+.0f} ms relative to the panel")

    row = desk.locator(row_selector)
    await expect(row).to_contain_text("投诉")
    await expect(row).to_contain_text("朝阳区")
    await expect(row).to_contain_text("138****5678")
    await expect(row).not_to_contain_text(PHONE)

    await row.click()
    await expect(desk.locator("#detail-heading")).to_contain_text(ticket_id)
    await expect(desk.locator("#detail-content")).to_contain_text(DESCRIPTION[:20])
    link = desk.locator(f'#detail-content a[href="/api/v1/agent/blobs/{sha}"]')
    await expect(link).to_be_visible()
    await expect(link).to_contain_text("路灯.png")
    await desk.screenshot(path="/tmp/desk.png", full_page=True)

    blob_url = f"{gateway.base}/api/v1/agent/blobs/{sha}"
    resp = await desk.request.get(blob_url)
    assert resp.status == 200
    assert resp.headers["content-type"] == "image/png"
    assert await resp.body() == image
    anonymous = await citizen.request.get(blob_url)  # the citizen's context has no desk session
    assert anonymous.status == 401

    await citizen.goto(f"{gateway.base}/track")
    await citizen.fill("#ticket_id", ticket_id)
    await citizen.fill("#phone_last4", PHONE[-4:])
    await citizen.click("#submit-track")
    status = citizen.locator("#track-status")
    await expect(status).to_be_visible()
    assert (await status.inner_text()).strip() in {"已受理", "已转派"}
    await expect(citizen.locator("#track-timeline")).to_contain_text("您的诉求已受理")
    await expect(citizen.locator("#track-result")).to_contain_text("投诉")


@pytest.mark.browser
async def test_server_side_phone_error_is_shown_in_chinese_next_to_the_field(
        gateway: Gateway, browser: Browser, redis_url: str) -> None:
    citizen = await citizen_page(browser, gateway.base)
    await citizen.fill("#description", DESCRIPTION)
    # Passes the page's own check (7-16 digits, not starting with 1) but no such number exists.
    await citizen.fill("#phone", "99999999999")
    async with citizen.expect_response(lambda r: r.url.endswith("/api/v1/requests")) as answer:
        await citizen.click("#submit-request")
    response = await answer.value
    assert response.status == 422
    assert (await response.json())["fields"][0]["field"] == "phone"

    error = citizen.locator("#phone-error")
    await expect(error).to_be_visible()
    assert CJK.search(await error.inner_text())
    await expect(citizen.locator("#phone")).to_have_attribute("aria-invalid", "true")
    await expect(citizen.locator("#error-summary")).to_be_visible()
    await expect(citizen.locator("#result")).to_be_hidden()
    assert await citizen.input_value("#description") == DESCRIPTION
    assert await recent_tickets(redis_url) == 0


@pytest.mark.browser
async def test_large_text_mode_from_the_keyboard(gateway: Gateway, browser: Browser) -> None:
    citizen = await citizen_page(browser, gateway.base)
    font_size = "() => parseFloat(getComputedStyle(document.querySelector('.lead')).fontSize)"
    before = await citizen.evaluate(font_size)
    assert not await citizen.evaluate("() => document.documentElement.classList.contains('large-text')")

    for _ in range(10):  # reach the toggle with Tab only
        await citizen.keyboard.press("Tab")
        if await citizen.evaluate("() => document.activeElement.id") == "text-size-toggle":
            break
    else:
        pytest.fail("大字模式 button is not reachable with the Tab key")
    await citizen.keyboard.press("Enter")

    await expect(citizen.locator("html")).to_have_class(re.compile(r"\blarge-text\b"))
    await expect(citizen.locator("#text-size-toggle")).to_have_attribute("aria-pressed", "true")
    larger = await citizen.evaluate(font_size)
    print(f"\n.lead font size {before}px -> {larger}px")
    assert larger > before

    await citizen.reload()  # the choice is remembered
    await expect(citizen.locator("html")).to_have_class(re.compile(r"\blarge-text\b"))
    assert await citizen.evaluate(font_size) == larger

    await citizen.focus("#text-size-toggle")
    await citizen.keyboard.press("Space")
    await expect(citizen.locator("html")).not_to_have_class(re.compile(r"\blarge-text\b"))
    await expect(citizen.locator("#text-size-toggle")).to_have_attribute("aria-pressed", "false")
    assert await citizen.evaluate(font_size) == before
