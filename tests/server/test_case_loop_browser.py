"""The whole loop without a case system, in a real browser (Debian's Chromium via Playwright):
a citizen's request lands in the 本地收件箱; a supervisor marks it 办结 from the desk with the
unit and the result (refused first without the result, the server's message by the field); the
ticket view shows 办理进展; the citizen's /track page shows 已办结 and the result."""
from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import desk_page, skip_without_chromium
from tests.support.case_system import file_and_forward
from tests.support.desk import add_user

skip_without_chromium()

SUPERVISOR = "chief-loop"
UNIT = "朝阳区望京街道办事处"
RESULT = "经核实，东门外路灯因线路老化损坏，已更换线路和灯具，恢复照明。"


@pytest.mark.browser
async def test_supervisor_closes_a_local_inbox_case_and_the_citizen_reads_the_result(make_app: Any, redis_url: str,
                                                                                    browser: Browser) -> None:
    base = await make_app(ticket_prefix="LB")  # no CASE_SYSTEM_URL: the built-in local inbox
    async with aiohttp.ClientSession() as http:
        ticket_id, _ = await file_and_forward(http, base, redis_url)
    await add_user(redis_url, SUPERVISOR, "agent", "supervisor")

    desk = await desk_page(browser, base, SUPERVISOR)
    await expect(desk.locator("#wall-link")).to_have_attribute("href", "/supervisor/wall")  # a supervisor's way to the wall
    await expect(desk.locator("#wall-link")).to_be_visible()
    row = desk.locator(f"tr.local-inbox-row[data-ticket-id='{ticket_id}']")
    await expect(row.locator(".case-status")).to_have_text("待受理")
    await row.locator("[data-mark-case]").click()
    form = desk.locator("#case-mark-form")
    await expect(form).to_be_visible()
    await desk.select_option("#case-mark-status", "closed")
    await desk.fill("#case-mark-unit", UNIT)
    await desk.click("#case-mark-submit")
    await expect(desk.locator("#case-mark-result-error")).to_have_text("办结须包含办理结果")
    await desk.fill("#case-mark-result", RESULT)
    await desk.click("#case-mark-submit")
    await expect(form).to_be_hidden()
    await expect(row.locator(".case-status")).to_have_text("已办结")
    await expect(row.locator("[data-mark-case]")).to_have_count(0)

    await row.locator(f"[data-open-ticket='{ticket_id}']").click()
    case = desk.locator("#detail-content .d-case")
    await expect(case.locator(".case-status")).to_have_text("已办结")
    await expect(case.locator(".case-result")).to_have_text(RESULT)
    await expect(desk.locator("#detail-content .d-history [data-event='case_status']")).to_contain_text("派单系统回告办理状态")

    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    citizen = await context.new_page()
    await citizen.goto(f"{base}/track?ticket_id={ticket_id}")
    await citizen.fill("#phone_last4", "5678")
    await citizen.click("#submit-track")
    await expect(citizen.locator("#track-status")).to_have_text("已办结")
    outcome = citizen.locator("#track-outcome")
    await expect(outcome).to_contain_text(UNIT)
    await expect(outcome.locator(".track-result-text")).to_have_text(RESULT)
    await expect(citizen.locator("#track-timeline li").first).to_contain_text("已办结")
    await expect(citizen.locator("#track-timeline")).to_contain_text("已转派至承办单位办理")
