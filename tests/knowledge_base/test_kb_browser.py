"""The knowledge-base editor (/kb) in a real browser (Debian's headless Chromium driven by
Playwright) against a real gateway process: an editor writes an entry and submits it, a second
person publishes it from the review queue, and a citizen's chat on the portal answers with it;
then a changed answer goes through the two-person rule and reaches the chat too. Also the
import: a file with errors is rejected whole with a per-row report, a good one is applied."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import skip_without_chromium
from tests.support.desk import PASSWORD, add_user
from tests.support.processes import Gateway
from tests.support.waiting import eventually

skip_without_chromium()
# Set to a folder to keep screenshots of the editor, the review diff and the import report.
SCREENSHOTS = os.environ.get("HOTLINE_TEST_SCREENSHOTS")

ENTRY_ID = "test-community-library-hours"
TITLE = "测试专用：社区图书室开放时间"
PHRASINGS = ["社区图书室几点开门", "社区图书室开放时间是什么时候", "社区图书室周末开门吗"]
QUESTION = "社区图书室几点开门？"
ANSWER_1 = "测试专用答复：社区图书室每周二至周日九点至十七点开放，周一闭馆，凭身份证免费入内。"
ANSWER_2 = "测试专用答复：自下月起，社区图书室每天八点半至二十点开放，节假日照常开放，凭身份证免费入内。"
TWO_PERSON = "发布须由另一位审核人完成"


@pytest.fixture
async def gateway(redis_url: str, tmp_path: Path, gateways: list[Gateway]) -> Gateway:
    # The starter content is seeded as usual: the new entry has to win among real neighbours.
    gw = Gateway(redis_url, tmp_path / "gw", HOTLINE_TICKET_PREFIX="KT", HOTLINE_KB_SEED="1")  # editors work among the sample entries
    gateways.append(gw)
    gw.start()
    await add_user(redis_url, "editor1", "kb_editor")
    await add_user(redis_url, "reviewer1", "kb_reviewer")
    # An editor who is also a reviewer: the two-person rule is what stops them publishing their own text.
    await add_user(redis_url, "editor2", "kb_editor", "kb_reviewer")
    return gw


async def new_page(browser: Browser, base: str, path: str) -> Page:
    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.js_errors = errors  # type: ignore[attr-defined]
    await page.goto(f"{base}{path}")
    return page


async def kb_login(browser: Browser, base: str, username: str, roles_label: str) -> Page:
    page = await new_page(browser, base, "/kb")
    await page.fill("#login-username", username)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await expect(page.locator("#kb-app")).to_be_visible()
    await expect(page.locator("#user-roles")).to_have_text(roles_label)
    await expect(page.locator(".entry-row").first).to_be_visible()
    return page


async def shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SCREENSHOTS) / name))


async def wait_until_served(page: Page, version: int) -> None:
    """Poll the bot (POST /api/v1/kb/try, with this page's session) until it answers QUESTION
    with our entry at `version`: the index is rebuilt in the background after a publish.
    (Polled from here: `wait_for_function` takes a Promise for a truthy answer.)"""
    base = page.url.split("/kb")[0]

    async def served() -> dict:
        token = await csrf(page, base)
        return await (await page.request.post(f"{base}/api/v1/kb/try", data={"text": QUESTION}, headers={"X-CSRF-Token": token})).json()

    await eventually(served, lambda d: d.get("type") == "answer" and d.get("entry_id") == ENTRY_ID and d.get("version") == version,
                     timeout=30, interval=0.2)


async def ask_chat(citizen: Page, text: str) -> str:
    """Ask in the portal chat; the text of the bot's reply to it."""
    replies = citizen.locator("#chat-log .chat-msg.bot:not(.chat-greeting)")
    before = await replies.count()
    await citizen.fill("#chat-input", text)
    await citizen.click("#chat-send")
    await expect(replies).to_have_count(before + 1)
    return (await replies.nth(before).locator(".chat-msg__text").inner_text()).strip()


@pytest.mark.browser
async def test_entry_written_reviewed_and_published_reaches_the_chat(gateway: Gateway, browser: Browser) -> None:
    base = gateway.base
    editor = await kb_login(browser, base, "editor1", "知识库编辑")
    # An editor has no review queue and no publish button.
    await expect(editor.locator("#tab-review")).to_be_hidden()

    # --- the editor writes a new entry in the UI ---
    await editor.click("#entry-new")
    await expect(editor.locator("#editor-heading")).to_have_text("新建条目")
    await editor.fill("#field-id", ENTRY_ID)
    await editor.fill("#field-title", TITLE)
    await editor.fill("#field-phrasings", "\n".join(PHRASINGS))
    await editor.fill("#field-answer", "太短")
    await editor.fill("#field-category", "文化体育")
    await editor.fill("#field-department", "测试街道办事处")
    await editor.fill("#field-tags", "图书室, 开放时间")
    await editor.fill("#field-links", "图书室介绍|https://example.org/library")
    await editor.click("#entry-save")
    await expect(editor.locator("#field-answer-error")).to_contain_text("至少需要5个字")
    await expect(editor.locator("#field-answer")).to_have_attribute("aria-invalid", "true")
    await editor.fill("#field-answer", ANSWER_1)
    await expect(editor.locator("#field-answer-error")).to_be_empty()
    await editor.click("#entry-save")
    await expect(editor.locator("#entry-status")).to_have_text("草稿")
    await expect(editor.locator("#editor-heading")).to_have_text(TITLE)
    await expect(editor.locator("#entry-msg")).to_contain_text("第 1 版")
    await expect(editor.locator(f'.entry-row[data-entry-id="{ENTRY_ID}"]')).to_contain_text(TITLE)
    await expect(editor.locator("#entry-publish")).to_be_hidden()

    await editor.click("#entry-submit")
    await expect(editor.locator("#entry-status")).to_have_text("待审核")
    await expect(editor.locator("#entry-submit")).to_be_disabled()
    await expect(editor.locator("#version-list")).to_contain_text("editor1")
    await expect(editor.locator("#audit-log")).to_contain_text("提交审核")
    await expect(editor.locator("#audit-log")).to_contain_text("新建")
    # An editor cannot publish, not even by calling the API.
    denied = await editor.request.post(f"{base}/api/v1/kb/entries/{ENTRY_ID}/publish",
                                       headers={"X-CSRF-Token": await csrf(editor, base)})
    assert denied.status == 403
    assert (await denied.json())["message"] == "您的账号没有执行此操作的权限"

    # --- a reviewer publishes it from the review queue ---
    reviewer = await kb_login(browser, base, "reviewer1", "知识库审核")
    await expect(reviewer.locator("#entry-new")).to_be_hidden()
    await reviewer.click("#tab-review")
    row = reviewer.locator(f'.review-row[data-entry-id="{ENTRY_ID}"]')
    await expect(row).to_contain_text(TITLE)
    await expect(row).to_contain_text("新条目")
    await row.click()
    diff = reviewer.locator("#diff-view")
    await expect(diff.locator('[data-field="answer"] ins')).to_have_text(ANSWER_1)
    await expect(diff).to_contain_text("新条目")
    await reviewer.click("#review-publish")
    await expect(reviewer.locator("#review-msg")).to_contain_text("已发布")
    await expect(row).to_have_count(0)

    # --- a citizen asks in the portal chat ---
    await wait_until_served(reviewer, 1)
    citizen = await new_page(browser, base, "/")
    await expect(citizen.locator("#chat-input")).to_be_visible()
    assert await ask_chat(citizen, QUESTION) == ANSWER_1

    # The editor's "how would the bot answer?" box agrees.
    await editor.fill("#try-text", PHRASINGS[1])
    await editor.click("#try-submit")
    result = editor.locator("#try-result")
    await expect(result).to_contain_text("直接答复")
    await expect(result).to_contain_text(TITLE)
    await expect(result).to_contain_text(f"{ENTRY_ID} · 第 1 版")
    await expect(result.locator(".try-reply")).to_have_text(ANSWER_1)

    # --- a second editor (also a reviewer) changes the answer and may not publish it ---
    editor2 = await kb_login(browser, base, "editor2", "知识库编辑、知识库审核")
    await editor2.fill("#entry-search", "社区图书室")
    mine = editor2.locator(f'.entry-row[data-entry-id="{ENTRY_ID}"]')
    await expect(editor2.locator(".entry-row")).to_have_count(1)
    await mine.click()
    await expect(editor2.locator("#entry-status")).to_have_text("已发布")
    await editor2.fill("#field-answer", ANSWER_2)
    await expect(editor2.locator("#entry-dirty")).to_be_visible()
    await expect(editor2.locator("#entry-submit")).to_have_text("保存并提交审核")
    await editor2.click("#entry-submit")
    await expect(editor2.locator("#entry-status")).to_have_text("待审核")
    await expect(editor2.locator("#entry-versions")).to_contain_text("最新第 2 版（editor2）")
    await expect(editor2.locator("#entry-versions")).to_contain_text("已发布第 1 版")
    await editor2.click("#entry-publish")
    alert = editor2.locator("#entry-alert")
    await expect(alert).to_be_visible()
    await expect(alert).to_contain_text(TWO_PERSON)
    await expect(editor2.locator("#entry-status")).to_have_text("待审核")
    await shot(editor2, "kb-editor.png")

    # The chat still gives the published answer.
    assert await ask_chat(citizen, QUESTION) == ANSWER_1

    # --- the reviewer sees the change side by side and publishes it ---
    await reviewer.click("#review-reload")
    await row.click()
    answer_row = diff.locator('[data-field="answer"]')
    await expect(answer_row).to_have_class(re.compile(r"\bis-changed\b"))
    await expect(answer_row.locator(".diff-left del").first).to_be_visible()
    await expect(answer_row.locator(".diff-right ins").first).to_be_visible()
    await expect(answer_row.locator(".diff-left")).to_have_text(ANSWER_1)
    await expect(answer_row.locator(".diff-right")).to_have_text(ANSWER_2)
    await expect(diff.locator('[data-field="title"]')).not_to_have_class(re.compile(r"\bis-changed\b"))
    await expect(diff).to_contain_text("第 1 版")
    await expect(diff).to_contain_text("第 2 版")
    await shot(reviewer, "kb-review-diff.png")
    await reviewer.click("#review-publish")
    await expect(reviewer.locator("#review-msg")).to_contain_text("已发布")

    # --- the chat now gives the changed answer ---
    await wait_until_served(editor, 2)
    assert await ask_chat(citizen, QUESTION) == ANSWER_2

    # Recall: the first two chat answers used version 1, now superseded.
    await editor.click(f'.entry-row[data-entry-id="{ENTRY_ID}"]')
    await expect(editor.locator("#entry-status")).to_have_text("已发布")
    await expect(editor.locator("#version-list")).to_contain_text("editor2")
    await editor.click("#recall")
    recall = editor.locator("#recall-result")
    await expect(recall).to_contain_text("第 1 版答复")
    await expect(recall.locator("#recall-csv")).to_have_attribute("href", f"/api/v1/kb/entries/{ENTRY_ID}/recall?format=csv")
    await expect(editor.locator("#audit-log")).to_contain_text("发布")
    await expect(editor.locator("#audit-log")).to_contain_text("reviewer1")

    for page in (editor, reviewer, editor2, citizen):
        assert page.js_errors == []  # type: ignore[attr-defined]


async def csrf(page: Page, base: str) -> str:
    return (await (await page.request.get(f"{base}/api/v1/auth/me")).json())["csrf_token"]


@pytest.mark.browser
async def test_import_with_errors_imports_nothing_and_a_good_file_is_applied(
        gateway: Gateway, browser: Browser, tmp_path: Path) -> None:
    editor = await kb_login(browser, gateway.base, "editor1", "知识库编辑")
    await editor.click("#tab-transfer")
    await expect(editor.locator("#export-yaml")).to_have_attribute("href", "/api/v1/kb/export?format=yaml")
    await expect(editor.locator("#export-csv")).to_have_attribute("href", "/api/v1/kb/export?format=csv")

    # 600 rows (three validation slices), two of them wrong.
    header = "id,title,phrasings,answer,category,review_due\n"
    rows = [f"test-import-{i:04d},测试导入条目{i}的问题,问法{i}甲|问法{i}乙,这是测试导入条目{i}的答复内容。,测试导入,\n" for i in range(600)]
    rows[3] = "test-import-0003,短,,这是测试导入条目的答复内容。,测试导入,2025-13-40\n"
    rows[10] = ",没有编号的条目,,这是测试导入条目的答复内容。,测试导入,\n"
    bad = tmp_path / "有错误的条目.csv"
    bad.write_text(header + "".join(rows), encoding="utf-8")
    await editor.set_input_files("#import-file", str(bad))
    await expect(editor.locator("#import-format")).to_have_value("csv")
    await editor.click("#import-start")

    errors = editor.locator("#import-errors")
    await expect(errors).to_be_visible()
    await expect(editor.locator("#import-errors-note")).to_contain_text("文件有错误，未导入任何条目")
    body = errors.locator("tbody tr")
    await expect(body).to_have_count(3)
    await expect(body.nth(0)).to_contain_text("test-import-0003")
    await expect(body.nth(0)).to_contain_text("标题")
    await expect(body.nth(0)).to_contain_text("2至200字")
    await expect(body.nth(1)).to_contain_text("复核日期")
    await expect(body.nth(1)).to_contain_text("YYYY-MM-DD")
    await expect(body.nth(2)).to_contain_text("11")
    await expect(body.nth(2)).to_contain_text("缺少条目编号")
    progress = editor.locator("#import-progress")
    await expect(progress).to_have_attribute("max", "600")
    await expect(progress).to_have_js_property("value", 600)
    await expect(editor.locator("#import-progress-text")).to_have_text("已校验 600 / 600 行")
    await shot(editor, "kb-import-errors.png")
    await editor.click("#tab-entries")
    await editor.fill("#entry-search", "test-import")
    await expect(editor.locator("#list-msg")).to_have_text("没有符合条件的条目")

    good = tmp_path / "条目.yaml"
    good.write_text(
        "- id: test-import-good\n  title: 测试导入：垃圾桶满了找谁\n  answer: 请联系所在社区居委会或物业，由其通知保洁人员清运。\n"
        "  category: 测试导入\n  phrasings: [垃圾桶满了没人清]\n", encoding="utf-8")
    await editor.click("#tab-transfer")
    await editor.set_input_files("#import-file", str(good))
    await expect(editor.locator("#import-format")).to_have_value("yaml")
    await editor.click("#import-start")
    await expect(editor.locator("#import-created")).to_have_text("1")
    await expect(editor.locator("#import-updated")).to_have_text("0")
    await expect(editor.locator("#import-unchanged")).to_have_text("0")
    await expect(editor.locator("#import-errors-block")).to_be_hidden()
    await shot(editor, "kb-import-done.png")
    await editor.click("#tab-entries")
    await expect(editor.locator('.entry-row[data-entry-id="test-import-good"]')).to_contain_text("草稿")
    assert editor.js_errors == []  # type: ignore[attr-defined]
