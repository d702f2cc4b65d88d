"""The 修改密码 screen in a real browser (headless Chromium): the bootstrap admin's first login
shows it before the desk, with clear Chinese errors; afterwards it is reachable from the top bar."""
from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from gateway.redis_client import RedisAddress
from server.cli import _bootstrap_admin
from tests.support.browser import skip_without_chromium, submit_login

skip_without_chromium()

NEW = "a-brand-new-password-7"
NEWER = "another-fresh-password-8"


async def change_password(page: Page, current: str, new: str, repeat: str) -> None:
    """Fill the 修改密码 form and submit it."""
    await page.fill("#password-current", current)
    await page.fill("#password-new", new)
    await page.fill("#password-repeat", repeat)
    await page.click("#password-submit")


async def test_first_login_forces_the_password_change_then_the_top_bar_offers_it(make_app, redis_url: str, browser: Browser) -> None:
    base = await make_app()
    first = await _bootstrap_admin(RedisAddress(url=redis_url))
    page = await submit_login(browser, base, "admin", first)

    view = page.locator("#password-view")
    await expect(view).to_be_visible()
    await expect(page.locator("#desk")).to_be_hidden()
    await expect(page.locator("#password-intro")).to_contain_text("首次登录须修改初始密码")
    await expect(page.locator("#password-cancel")).to_have_text("退出登录")
    await expect(page.locator("#password-current")).to_be_focused()

    error = page.locator("#password-error")
    await change_password(page, first, "short", "short")
    await expect(error).to_have_text("新密码至少需要 10 个字符")

    await change_password(page, first, NEW, NEW + "x")
    await expect(error).to_have_text("两次输入的新密码不一致")
    await expect(page.locator("#password-repeat")).to_have_attribute("aria-invalid", "true")

    await change_password(page, "not-the-password", NEW, NEW)
    await expect(error).to_have_text("当前密码不正确")  # the server's answer

    await change_password(page, first, "my-admin-password", "my-admin-password")
    await expect(error).to_have_text("新密码不能包含用户名")

    await change_password(page, first, NEW, NEW)
    await expect(page.locator("#desk")).to_be_visible()
    await expect(view).to_be_hidden()
    await expect(page.locator("#ws-status")).to_have_attribute("data-state", "open", timeout=15_000)

    # Later, from the user menu: 返回 goes back to the desk; a change says so.
    await page.click("#change-password")
    await expect(view).to_be_visible()
    await expect(page.locator("#password-cancel")).to_have_text("返回")
    await page.click("#password-cancel")
    await expect(page.locator("#desk")).to_be_visible()
    await page.click("#change-password")
    await change_password(page, NEW, NEWER, NEWER)
    await expect(page.locator("#password-done")).to_have_text("密码已修改")
    await expect(page.locator("#desk")).to_be_visible()
    # The fresh session and CSRF token from the answer keep working.
    status = await page.evaluate("() => Staff.api('POST', '/auth/logout').then(() => 'ok', e => String(e.status))")
    assert status == "ok"
    await page.context.close()
