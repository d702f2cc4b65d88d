"""京津冀一键互转 in a real browser: a Beijing agent transfers a ticket to Tianjin with one click
(recording the citizen's verbal consent), a Tianjin agent gets the pop-up and accepts it, and
the Beijing agent sees Tianjin's acceptance on the original ticket."""
from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import desk_page, skip_without_chromium
from tests.support.partners import Hotline, pair  # noqa: F401 (fixture)

skip_without_chromium()
pytestmark = pytest.mark.browser


async def test_one_click_transfer_and_the_partners_acceptance(browser: Browser, pair: tuple[Hotline, Hotline]) -> None:
    beijing, tianjin = pair
    ticket_id = await beijing.submit()
    tianjin_desk = await desk_page(browser, tianjin.base, "agent-tianjin")
    beijing_desk = await desk_page(browser, beijing.base, "agent-beijing")

    await beijing_desk.click(f"li.ticket-row[data-ticket-id='{ticket_id}']")
    form = beijing_desk.locator("#transfer-form")
    await expect(form).to_be_visible()
    await beijing_desk.select_option("#transfer-partner", "tianjin")
    await expect(beijing_desk.locator("#transfer-note")).to_contain_text("对方将收不到市民的姓名、电话")
    await beijing_desk.fill("#transfer-reason", "诉求发生地在天津市河西区，属天津管辖")
    await beijing_desk.check("#transfer-consent")
    await expect(beijing_desk.locator("#transfer-note")).to_contain_text("姓名和电话将随工单转出")
    await beijing_desk.click("#transfer-submit")
    confirm = beijing_desk.locator("#desk-confirm")  # it cannot be undone: the desk asks first
    await expect(confirm).to_contain_text("确定将此诉求转派至 天津市12345政务服务便民热线？将共享：")
    await expect(confirm).to_contain_text("市民的姓名、电话（市民已同意）")
    await beijing_desk.click("#desk-confirm-ok")
    await expect(beijing_desk.locator("#action-msg")).to_contain_text("已提交转至天津市12345政务服务便民热线")
    await expect(beijing_desk.locator("#detail-content")).to_contain_text("已转外省市", timeout=20_000)
    await expect(form).to_be_hidden()

    pop = tianjin_desk.locator("#partner-pops li.partner-pop")
    await expect(pop).to_contain_text("北京市12345市民服务热线 转来", timeout=20_000)
    await expect(pop).to_contain_text("诉求发生地在天津市河西区")
    await tianjin_desk.reload()  # a desk that reloads still shows the transfers waiting for an agent
    await expect(pop).to_contain_text("北京市12345市民服务热线 转来", timeout=20_000)
    await pop.locator("[data-pop-accept]").click()
    await expect(tianjin_desk.locator("#partner-pops")).to_be_hidden()
    await expect(tianjin_desk.locator("#partner-status-current")).to_contain_text("已受理", timeout=10_000)
    await expect(tianjin_desk.locator("#detail-content")).to_contain_text("张三")  # consent given: the name came along

    await expect(beijing_desk.locator("#detail-content")).to_contain_text("对方已受理", timeout=20_000)
    await expect(beijing_desk.locator("#detail-content")).to_contain_text("天津市12345政务服务便民热线")
