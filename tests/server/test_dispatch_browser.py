"""分类与承办单位 on the agent desk, in a real browser (Debian's Chromium driven by Playwright)
against the real app: a citizen files a property-management complaint in a Beijing street through
the public form API, the router classifies it and recommends a handling unit, and an agent sees
the proposal in the ticket detail, confirms it, then corrects the class and the unit through the
form; the ticket then says who set them, with provenance. An unknown class is refused with the
server's message next to the form. A request whose place is in Tianjin is held for 转外省市 and
the block suggests the partner hotline."""
from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import desk_page, skip_without_chromium
from tests.support.desk import add_user, login
from tests.support.waiting import eventually

skip_without_chromium()

AGENT = "agent-dispatch"
TIANJIN = {
    "kind": "complaint", "phone": "13912345678",
    "description": "天津市河西区友谊路一个小区的物业公司长期不清运垃圾，楼道里堆满杂物，多次反映没有结果。",
}
REQUEST = {
    "kind": "complaint", "phone": "13812345678",
    "description": "朝阳区望京街道望京西园三区的物业公司不作为，楼道灯坏了三个月没人修，电梯也经常停运，"
                   "物业费却照收不误，请督促物业公司尽快整改。",
}


async def file_request(base: str, agent: aiohttp.ClientSession, body: dict[str, Any]) -> tuple[str, Callable[[], Awaitable[dict[str, Any]]]]:
    """File a web-form request as a citizen; its id and how the agent reads the ticket."""
    async with aiohttp.ClientSession() as citizen, citizen.post(f"{base}/api/v1/requests", json=body) as r:
        assert r.status == 201, await r.text()
        ticket_id = (await r.json())["ticket_id"]

    async def ticket() -> dict[str, Any]:
        async with agent.get(f"{base}/api/v1/agent/tickets/{ticket_id}") as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())

    return ticket_id, ticket


def percent(confidence: float) -> str:
    return f"{math.floor(confidence * 100 + 0.5)}%"  # as the desk rounds (Math.round)


@pytest.mark.browser
async def test_agent_confirms_then_corrects_the_recommended_unit_on_the_desk(make_app, redis_url: str, browser: Browser) -> None:
    # A ticket prefix of its own: live events travel over Redis pub/sub, shared by all databases.
    base = await make_app(ticket_prefix="DP")
    await add_user(redis_url, AGENT, "agent")
    agent, _ = await login(base, AGENT)
    page = None
    try:
        ticket_id, ticket = await file_request(base, agent, REQUEST)

        # The router classifies it and forwards it; wait for both, so that no live update of the
        # router's own arrives while the agent works on the form.
        routed = await eventually(ticket, lambda t: bool((t.get("dispatch") or {}).get("unit")) and t["status"] == "forwarded",
                                  timeout=120)
        proposed = routed["dispatch"]
        assert proposed["by"] == "bot" and proposed["category"] and proposed["category_l1"], proposed
        assert routed["location"]["district"] == "朝阳区", routed["location"]
        alternatives = proposed["alternatives"]
        assert 1 <= len(alternatives) <= 2, proposed

        async with agent.get(f"{base}/api/v1/agent/taxonomy") as resp:
            levels = (await resp.json())["levels"]
        first_level = {child: level["name"] for level in levels for child in level["children"]}
        new_category = next(c for c in ("施工管理", "规划与市政设施") if c != proposed["category"])
        assert new_category in first_level

        page = await desk_page(browser, base, AGENT)
        await page.click(f"li.ticket-row[data-ticket-id='{ticket_id}']")
        await expect(page.locator("#detail-heading")).to_contain_text(ticket_id)

        # The proposal: classes, the unit with its confidence, both alternatives, who set it.
        view = page.locator("#dispatch-view")
        await expect(view).to_contain_text(proposed["unit"]["name"])
        await expect(view).to_contain_text(proposed["category_l1"])
        await expect(view).to_contain_text(proposed["category"])
        if proposed["unit"].get("confidence") is not None:
            await expect(view).to_contain_text("置信度 " + percent(proposed["unit"]["confidence"]))
        for unit in alternatives:
            await expect(view.locator(f"button.dispatch-alt[data-unit='{unit['name']}']")).to_be_visible()
        await expect(view).to_contain_text("智能推荐")
        await expect(page.locator("#dispatch-unit")).to_have_value(proposed["unit"]["name"])
        await expect(page.locator("#dispatch-category")).to_have_value(proposed["category"])
        print("\n" + await view.inner_text())

        # 确认: the agent now owns the proposal, and the button goes away.
        await page.click("#dispatch-confirm")
        await expect(page.locator("#action-msg")).to_have_text("已确认分类与承办单位")
        await expect(view).to_contain_text(f"坐席确认：{AGENT}")
        await expect(page.locator("#dispatch-confirm")).to_have_count(0)
        confirmed = await ticket()
        assert confirmed["dispatch"]["by"] == f"agent:{AGENT}"
        assert confirmed["dispatch"]["unit"] == proposed["unit"] and confirmed["dispatch"]["category"] == proposed["category"]
        assert any(p["field"] == "dispatch" and p["by"] == "bot" and p["confirmed_by"] == f"agent:{AGENT}"
                   for p in confirmed["provenance"]), confirmed["provenance"]

        # An unknown class is refused; the server's message shows and nothing changes.
        await page.evaluate("""() => {
            const select = document.getElementById('dispatch-category');
            select.append(new Option('不存在的分类', '不存在的分类'));
            select.value = '不存在的分类';
            select.dispatchEvent(new Event('change'));
        }""")
        async with page.expect_response(lambda r: r.request.method == "PATCH" and ticket_id in r.url) as answer:
            await page.click("#dispatch-save")
        refused = await answer.value
        assert refused.status == 422
        assert (await refused.json())["fields"][0]["field"] == "dispatch.category"
        await expect(page.locator("#action-msg")).to_contain_text("分类与承办单位更正失败：请从列表中选择诉求分类")
        await expect(page.locator("#dispatch-category")).to_have_attribute("aria-invalid", "true")
        assert (await ticket())["dispatch"] == confirmed["dispatch"]

        # 更正: another class from the list, and an alternative's button fills the unit field.
        await page.select_option("#dispatch-category", new_category)
        await expect(page.locator("#dispatch-category")).not_to_have_attribute("aria-invalid", "true")
        chosen = alternatives[0]
        await view.locator(f"button.dispatch-alt[data-unit='{chosen['name']}']").click()
        await expect(page.locator("#dispatch-unit")).to_have_value(chosen["name"])
        await expect(page.locator("#dispatch-unit")).to_be_focused()
        await page.click("#dispatch-save")
        await expect(page.locator("#action-msg")).to_have_text("分类与承办单位已更正")
        await expect(view).to_contain_text(f"坐席更正：{AGENT}")
        await expect(view).to_contain_text(new_category)
        await expect(view).to_contain_text(first_level[new_category])
        await expect(page.locator("#dispatch-unit")).to_have_value(chosen["name"])
        history = page.locator("#detail-content .d-history")
        await expect(history).to_contain_text(f"二级分类：{proposed['category']} → {new_category}")
        await expect(history).to_contain_text(f"承办单位：{proposed['unit']['name']} → {chosen['name']}")
        await expect(history).to_contain_text("分类与承办单位：坐席确认智能推荐")

        corrected = await ticket()
        dispatch = corrected["dispatch"]
        assert dispatch["by"] == f"agent:{AGENT}"
        assert dispatch["category"] == new_category and dispatch["category_l1"] == first_level[new_category]
        assert dispatch["unit"]["name"] == chosen["name"] and dispatch["unit"]["type"] == chosen["type"]
        assert any(p["field"] == "dispatch" and p["by"] == f"agent:{AGENT}" for p in corrected["provenance"]), corrected["provenance"]
        events = [e for e in corrected["history"] if e["event"] == "corrected" and "dispatch" in e["detail"]]
        assert [e["detail"]["dispatch"] for e in events] == [
            {"confirmed": True},
            {"from": {"category": proposed["category"], "unit": proposed["unit"]["name"]},
             "to": {"category": new_category, "unit": chosen["name"]}},
        ], events
        assert all(e["actor"] == f"agent:{AGENT}" for e in events)
    finally:
        if page is not None:
            await page.context.close()
        await agent.close()


@pytest.mark.browser
async def test_a_request_in_tianjin_is_held_and_the_block_suggests_the_partner_hotline(make_app, redis_url: str, browser: Browser) -> None:
    # With a key for Tianjin the desk may transfer there (the directory lists only partners with a key).
    base = await make_app(ticket_prefix="DQ", partner_keys="jjj-bj-tianjin=test-secret-bj-tj-0123456789")
    await add_user(redis_url, AGENT, "agent")
    agent, _ = await login(base, AGENT)
    page = None
    try:
        ticket_id, ticket = await file_request(base, agent, TIANJIN)

        held = await eventually(ticket, lambda t: any(e["event"] == "held_for_transfer" for e in t["history"]), timeout=120)
        assert held["dispatch"]["partner"] == "tianjin" and held["status"] == "received", held["dispatch"]

        page = await desk_page(browser, base, AGENT)
        await page.click(f"li.ticket-row[data-ticket-id='{ticket_id}']")
        view = page.locator("#dispatch-view")
        await expect(view).to_contain_text("建议转外省市：天津市12345政务服务便民热线")
        await expect(page.locator("#detail-content .d-history")).to_contain_text("诉求发生地不在北京，待坐席转外省市")
        await expect(page.locator("#transfer-form")).to_be_visible()
        await view.locator("button.dispatch-use-partner").click()
        await expect(page.locator("#transfer-partner")).to_have_value("tianjin")
        await expect(page.locator("#transfer-reason")).to_be_focused()
        await expect(page.locator("#transfer-reason")).not_to_have_value("")
        print("\n" + await view.inner_text())
    finally:
        if page is not None:
            await page.context.close()
        await agent.close()
