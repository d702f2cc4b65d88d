"""The 修改密码 screen in a real browser (headless Chromium): the bootstrap admin's first login
shows it before the desk, with clear Chinese errors; afterwards it is reachable from the top bar."""
from __future__ import annotations

from playwright.async_api import Browser, expect

from gateway.cli import _bootstrap_admin
from tests.support.browser import skip_without_chromium

skip_without_chromium()

NEW = "a-brand-new-password-7"
NEWER = "another-fresh-password-8"


async def test_first_login_forces_the_password_change_then_the_top_bar_offers_it(make_app, redis_url: str, browser: Browser) -> None:
    base = await make_app()
    first = await _bootstrap_admin(redis_url)
    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1440, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{base}/agent")
    await page.fill("#login-username", "admin")
    await page.fill("#login-password", first)
    await page.click("#login-submit")

    view = page.locator("#password-view")
    await expect(view).to_be_visible()
    await expect(page.locator("#desk")).to_be_hidden()
    await expect(page.locator("#password-intro")).to_contain_text("首次登录须修改初始密码")
    await expect(page.locator("#password-cancel")).to_have_text("退出登录")
    await expect(page.locator("#password-current")).to_be_focused()

    error = page.locator("#password-error")
    await page.fill("#password-current", first)
    await page.fill("#password-new", "short")
    await page.fill("#password-repeat", "short")
    await page.click("#password-submit")
    await expect(error).to_have_text("新密码至少需要 10 个字符")

    await page.fill("#password-new", NEW)
    await page.fill("#password-repeat", NEW + "x")
    await page.click("#password-submit")
    await expect(error).to_have_text("两次输入的新密码不一致")
    await expect(page.locator("#password-repeat")).to_have_attribute("aria-invalid", "true")

    await page.fill("#password-current", "not-the-password")
    await page.fill("#password-repeat", NEW)
    await page.click("#password-submit")
    await expect(error).to_have_text("当前密码不正确")  # the server's answer

    await page.fill("#password-current", first)
    await page.fill("#password-new", "my-admin-password")
    await page.fill("#password-repeat", "my-admin-password")
    await page.click("#password-submit")
    await expect(error).to_have_text("新密码不能包含用户名")

    await page.fill("#password-current", first)
    await page.fill("#password-new", NEW)
    await page.fill("#password-repeat", NEW)
    await page.click("#password-submit")
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
    await page.fill("#password-current", NEW)
    await page.fill("#password-new", NEWER)
    await page.fill("#password-repeat", NEWER)
    await page.click("#password-submit")
    await expect(page.locator("#password-done")).to_have_text("密码已修改")
    await expect(page.locator("#desk")).to_be_visible()
    # The fresh session and CSRF token from the answer keep working.
    status = await page.evaluate("() => Staff.api('POST', '/auth/logout').then(() => 'ok', e => String(e.status))")
    assert status == "ok"
    await context.close()
