"""回访 in a real browser (Debian's Chromium via Playwright): the citizen rates the chat's
answer under it, and rates a closed case on /track; the answers land on the tickets, and /track
then says it was rated instead of asking again."""
from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, expect
from redis.asyncio import Redis

from gateway import keys
from gateway.tickets import Tickets
from tests.server.test_followups import RESULT, UNIT
from tests.support.browser import skip_without_chromium
from tests.support.case_system import file_and_forward
from tests.support.desk import add_user, login
from tests.support.waiting import eventually

skip_without_chromium()


@pytest.mark.browser
async def test_citizen_rates_the_chat_answer_and_the_closed_case(make_app: Any, redis_url: str, browser: Browser) -> None:
    base = await make_app(ticket_prefix="FB", kb_seed=True)
    async with aiohttp.ClientSession() as http:
        ticket_id, _ = await file_and_forward(http, base, redis_url)
    await add_user(redis_url, "chief-fu", "supervisor")
    chief, csrf = await login(base, "chief-fu")
    async with chief:
        async with chief.post(f"{base}/api/v1/supervisor/local-inbox/{ticket_id}/status", headers={"X-CSRF-Token": csrf},
                              json={"status": "closed", "unit": UNIT, "result": RESULT}) as resp:
            assert resp.status == 200, await resp.text()

    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = await context.new_page()
    redis = Redis.from_url(redis_url)
    try:
        # The chat: the answer carries the 回访 form.
        await page.goto(f"{base}/")
        await page.fill("#chat-input", "居住证怎么办理")
        await page.click("#chat-send")
        answer = page.locator(".chat-msg[data-decision='answer']").last
        form = answer.locator("form.followup")
        await expect(form).to_be_visible()
        await form.locator("button[type=submit]").click()
        await expect(form.locator(".followup__status")).to_have_text("请选择问题是否已解决，以及您是否满意。")
        await form.get_by_label("已解决").check()
        await form.get_by_label("基本满意").check()
        await form.locator("textarea").fill("说得很清楚")
        await form.locator("button[type=submit]").click()
        await expect(answer.locator(".followup__done")).to_have_text("感谢您的评价！")
        chat_ids = [t for t in await redis.zrevrange(keys.RECENT_TICKETS, 0, -1) if t.decode() != ticket_id]
        rated = [t for t in [await Tickets(redis).get(i.decode()) for i in chat_ids] if t.followup is not None]
        assert [(t.followup.satisfaction, t.followup.channel, t.followup.reason) for t in rated] == [("basically_satisfied", "web-chat", "说得很清楚")]

        # /track after 办结.
        await page.goto(f"{base}/track?ticket_id={ticket_id}")
        await page.fill("#phone_last4", "5678")
        await page.click("#submit-track")
        await expect(page.locator("#track-status")).to_have_text("已办结")
        rate = page.locator("#track-followup form.followup")
        await rate.get_by_label("未解决").check()
        await rate.get_by_label("不满意").check()
        await rate.locator("button[type=submit]").click()
        await expect(page.locator("#track-followup .followup__done")).to_have_text("感谢您的评价！")
        stored = await eventually(lambda: Tickets(redis).get(ticket_id), lambda t: t.followup is not None)
        assert (stored.followup.resolved, stored.followup.satisfaction, stored.followup.channel) == (False, "unsatisfied", "web-track")

        await page.click("#submit-track")  # queried again: no second form, the answer is shown
        await expect(page.locator("#track-result")).to_contain_text("您已评价：未解决，不满意")
        await expect(page.locator("#track-followup")).to_have_count(0)
    finally:
        await redis.aclose()
        await context.close()
