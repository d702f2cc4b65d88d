"""Debian's headless Chromium driven by Playwright, for the browser tests."""
from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.support.desk import PASSWORD

CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
# Background networking off: this machine has no internet and Chromium would keep trying.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--lang=zh-CN", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def skip_without_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (set HOTLINE_CHROMIUM to another path)", allow_module_level=True)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def submit_login(browser: Browser, base: str, username: str, password: str = PASSWORD) -> Page:
    """A new page at /agent with the login form submitted (what shows next is the caller's to check)."""
    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1440, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{base}/agent")
    await page.fill("#login-username", username)
    await page.fill("#login-password", password)
    await page.click("#login-submit")
    return page


async def desk_page(browser: Browser, base: str, username: str, password: str = PASSWORD) -> Page:
    """A desk user logged in at /agent, with the live connection open."""
    page = await submit_login(browser, base, username, password)
    await expect(page.locator("#ws-status")).to_have_attribute("data-state", "open", timeout=15_000)
    return page
