"""What an agent or a citizen reads is Chinese: every history event the code records has a label
on the desk (a new event without one fails here), the ticket history on the desk shows those
labels and readable details (never raw event names or JSON), irreversible desk actions ask
first, the portal leads deaf citizens to the sign-language video service, and `hotline bot
eval` fails when the bot falls under a floor."""
from __future__ import annotations

import ast
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from gateway import clock
from gateway.ticket import HistoryEvent
from gateway.tickets import Tickets
from tests.support.browser import CHROMIUM, desk_page
from tests.support.partners import Hotline, pair  # noqa: F401 (fixture)
from tests.support.paths import REPO
from tests.support.waiting import eventually

ROOT = REPO
# The desk module with the EVENT_LABELS table (read as text: js_table).
DESK_JS = ROOT / "gateway" / "static" / "agent" / "labels.js"
# The packages that record history on tickets (tests and protocol fakes do not).
SOURCES = ("gateway", "channels", "bot", "knowledge_base", "speech", "triage", "server")


def js_table(source: str, name: str) -> dict[str, str]:
    """`var NAME = { key: '标签', ... };` from the desk's JS, as a dict."""
    match = re.search(r"var " + name + r" = \{(.*?)\n  \};", source, re.S)
    assert match, f"{name} not found in the desk's JS"
    body = re.sub(r"//[^\n]*", "", match.group(1))
    return dict(re.findall(r"['\"]?([A-Za-z_][\w-]*)['\"]?\s*:\s*'([^']*)'", body))


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def emitted_events() -> dict[str, str]:
    """Every history event name the code records -> where. HistoryEvent(event="x") directly, or
    through a helper that passes one of its own parameters as the event (`record(session, "x")`)."""
    trees = {}
    for package in SOURCES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            trees[path] = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    helpers: dict[str, int] = {}  # function name -> index of its event parameter (without self)
    unresolved: list[str] = []
    for path, tree in trees.items():
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            params = [a.arg for a in func.args.args if a.arg not in ("self", "cls")]
            for call in ast.walk(func):
                if not (isinstance(call, ast.Call) and _call_name(call) == "HistoryEvent"):
                    continue
                value = next((k.value for k in call.keywords if k.arg == "event"), None)
                where = f"{path.relative_to(ROOT)}:{call.lineno}"
                if _literal(value):
                    found.setdefault(_literal(value), where)  # type: ignore[arg-type]
                elif isinstance(value, ast.Name) and value.id in params:
                    helpers[func.name] = params.index(value.id)
                else:
                    unresolved.append(where)
    assert not unresolved, f"history events whose name this test cannot read: {unresolved}"
    for path, tree in trees.items():
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and _call_name(call) in helpers:
                index = helpers[_call_name(call)]  # type: ignore[index]
                arg = call.args[index] if len(call.args) > index else next((k.value for k in call.keywords if k.arg == "event"), None)
                # Another function of the same name (outcome.record()) passes no literal there.
                if name := _literal(arg):
                    found.setdefault(name, f"{path.relative_to(ROOT)}:{call.lineno}")
    return found


def test_every_history_event_the_code_records_has_a_chinese_label_on_the_desk() -> None:
    events = emitted_events()
    # The scan must see the whole set, from every channel.
    assert {"received", "routed", "delivered", "dead_lettered", "redriven", "bot_decided", "call_connected",
            "video_filed", "transfer_requested", "message", "filed"} <= set(events), sorted(events)
    labels = js_table(DESK_JS.read_text(encoding="utf-8"), "EVENT_LABELS")
    missing = {name: where for name, where in events.items() if name not in labels}
    assert not missing, f"history events without a label in EVENT_LABELS (gateway/static/agent/labels.js): {missing}"
    cjk = re.compile(r"[\u4e00-\u9fff]")
    assert all(cjk.search(label) and not re.search(r"[A-Za-z_]{3,}", label) for label in labels.values()), labels



class _Links(HTMLParser):
    """Links of a page as served (no JavaScript): (href, text, aria-label, inside <nav>, hidden ancestor)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, object]] = []
        self._stack: list[tuple[str, bool]] = []
        self._open: dict[str, object] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("br", "img", "input", "meta", "link"):
            return
        hidden = "hidden" in a or any(h for _, h in self._stack)
        if tag == "a" and a.get("href"):
            self._open = {"href": a["href"], "text": "", "label": a.get("aria-label") or "", "nav": any(t == "nav" for t, _ in self._stack),
                          "hidden": hidden or "hidden" in a}
        self._stack.append((tag, "hidden" in a))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.links.append(self._open)
            self._open = None
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["text"] = str(self._open["text"]) + data.strip()


async def _page_links(http: aiohttp.ClientSession, url: str) -> list[dict[str, object]]:
    async with http.get(url) as resp:
        assert resp.status == 200, url
        parser = _Links()
        parser.feed(await resp.text())
        return [link for link in parser.links if not link["hidden"]]


async def test_the_portal_leads_deaf_citizens_to_the_sign_language_video_service(app_url: str, http: aiohttp.ClientSession) -> None:
    portal = await _page_links(http, f"{app_url}/")
    to_video = [link for link in portal if link["href"] == "/video"]
    in_nav = [link for link in to_video if link["nav"]]
    assert in_nav, "no link to /video in the portal's navigation"
    assert all("手语视频" in str(link["text"]) and "听障" in str(link["text"]) + str(link["label"]) for link in in_nav), in_nav
    assert any(not link["nav"] for link in to_video), "no link to /video next to the request form"
    tracking = await _page_links(http, f"{app_url}/track")
    assert {"/", "/video"} <= {str(link["href"]) for link in tracking if link["nav"]}
    video = await _page_links(http, f"{app_url}/video")
    assert {"/", "/track"} <= {str(link["href"]) for link in video if link["nav"]}


# ---------------------------------------------------------------------------------------------
# In a real browser (Debian's Chromium): the history on the desk, and 转派 asking first.
# ---------------------------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Chromium at {CHROMIUM}")

# Events as the channels record them, with their usual details.
RECORDED = [
    ("bot", "bot_decided", {"type": "forward", "reply": "您反映的问题已记录", "reasons": ["complaint cue", "no knowledge-base answer"],
                            "kind": "complaint", "urgency": "normal", "engine": "embedded",
                            "location": {"district": "朝阳区", "street": "望京街道", "text": None}}),
    ("phone", "call_connected", {"agent": "agent-beijing", "how": "queue"}),
    ("phone", "call_ended", {"cause": "16", "cause_text": "Normal Clearing", "seconds": 12, "talk_seconds": 185}),
    ("agent:agent-beijing", "video_filed", {"kind": "complaint"}),
    ("agent:agent-beijing", "video_ended", {"reason": "agent", "seconds": 95, "recording": True, "chat_messages": 4}),
    ("outbox", "dead_lettered", {"hop": "case", "status_code": 503, "reason": "HTTP 503"}),
    ("agent:agent-beijing", "redriven", {"hop": "case"}),
    ("partner:tianjin", "partner_status", {"partner": "tianjin", "status": "accepted", "label": "对方已受理", "result": None,
                                           "partner_ticket_id": "TJ-20261122-000001", "partner_agent": "agent-tianjin"}),
    ("system", "some_future_event", {"retry_plan": {"attempts": 3, "spread": [1, 2]}, "enabled": False}),
]


@needs_chromium
@pytest.mark.browser
async def test_ticket_history_on_the_desk_is_in_chinese(browser: Browser, pair: tuple[Hotline, Hotline]) -> None:
    beijing, _ = pair
    ticket_id = await beijing.submit()
    await beijing.ticket_until(ticket_id, lambda t: any(e.event == "delivered" for e in t.history))
    tickets = Tickets(beijing.redis)
    at = clock.now()
    for i, (actor, event, detail) in enumerate(RECORDED):
        await tickets.update(ticket_id, lambda _: None, HistoryEvent(at=at + timedelta(seconds=i), actor=actor, event=event, detail=detail))
    status, _ = await beijing.api("POST", f"/api/v1/agent/tickets/{ticket_id}/notes", {"text": "已电话联系市民"})
    assert status in (200, 201)
    status, _ = await beijing.api("PATCH", f"/api/v1/agent/tickets/{ticket_id}", {"kind": "report"})
    assert status == 200

    desk = await desk_page(browser, beijing.base, "agent-beijing")
    await desk.click(f"li.ticket-row[data-ticket-id='{ticket_id}']")
    history = desk.locator("#detail-content .d-history")
    await expect(history).to_contain_text("更正信息", timeout=10_000)
    text = await history.inner_text()
    print("\n" + text)
    for label in ("诉求已受理", "分派决定", "投递成功", "机器人研判", "来电接通", "通话结束", "视频诉求已登记", "视频通话结束",
                  "投递失败，已转入死信", "重新投递", "对方回告", "添加备注", "更正信息", "其他处理记录",
                  # details as readable pairs, values translated
                  "环节：派单系统", "对方返回状态码：503", "原因：对方返回 HTTP 503", "诉求类型：投诉", "接通方式：排队接入",
                  "挂断原因：正常挂断", "通话时长：3 分 5 秒", "原因：坐席结束通话", "录像：是", "对方热线：天津市12345政务服务便民热线",
                  "办理状态：对方已受理", "研判依据：识别为投诉类诉求、知识库中没有对应答复", "紧急程度：一般（7日）",
                  "渠道：网站", "投诉 → 举报"):
        assert label in text, label
    events = set(emitted_events()) | {name for _, name, _ in RECORDED}
    raw = sorted(name for name in events if re.search(rf"(?<![A-Za-z_]){name}(?![A-Za-z_])", text))
    assert not raw, f"raw event names on the desk: {raw}"
    for internal in ("{", "}", '"', "status_code", "hop", "reason", "kind", "urgency", "partner", "true", "false", "null",
                     "Normal Clearing", "embedded", "cue", "agent-beijing:"):
        assert internal not in text, internal


@needs_chromium
@pytest.mark.browser
async def test_transfer_to_a_partner_asks_first_and_cancelling_sends_nothing(browser: Browser, pair: tuple[Hotline, Hotline]) -> None:
    beijing, _ = pair
    ticket_id = await beijing.submit()
    desk = await desk_page(browser, beijing.base, "agent-beijing")
    posted: list[str] = []
    desk.on("request", lambda r: posted.append(r.url) if r.method == "POST" and r.url.endswith("/transfer") else None)

    await desk.click(f"li.ticket-row[data-ticket-id='{ticket_id}']")
    await expect(desk.locator("#transfer-form")).to_be_visible()
    await desk.select_option("#transfer-partner", "tianjin")
    await desk.fill("#transfer-reason", "诉求发生地在天津市河西区，属天津管辖")
    await desk.click("#transfer-submit")

    dialog = desk.locator("#desk-confirm")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("确定将此诉求转派至 天津市12345政务服务便民热线？将共享：")
    await expect(dialog).to_contain_text("诉求内容")
    await expect(dialog).to_contain_text("不共享市民的姓名、电话")  # no consent given
    await expect(dialog).to_contain_text("无法撤回")
    await expect(desk.locator("#desk-confirm-cancel")).to_be_focused()
    await desk.click("#desk-confirm-cancel")
    await expect(dialog).to_be_hidden()
    await expect(desk.locator("#transfer-msg")).to_contain_text("已取消")

    await desk.click("#transfer-submit")  # Esc cancels as well
    await expect(dialog).to_be_visible()
    await desk.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await desk.wait_for_timeout(500)
    assert posted == []
    ticket = await beijing.ticket(ticket_id)
    assert not any(e.event == "transfer_requested" for e in ticket.history)
    assert await desk.locator("#transfer-form").is_visible()

    await desk.click("#transfer-submit")
    await desk.click("#desk-confirm-ok")
    await expect(desk.locator("#action-msg")).to_contain_text("已提交转至天津市12345政务服务便民热线")
    assert len(posted) == 1
    await eventually(lambda: beijing.ticket(ticket_id), lambda t: any(e.event == "transfer_requested" for e in t.history))


@needs_chromium
@pytest.mark.browser
async def test_forward_to_the_case_system_asks_first(browser: Browser, pair: tuple[Hotline, Hotline]) -> None:
    beijing, _ = pair
    ticket_id = await beijing.submit()
    # The router forwards it by itself; wait for that, so no live update re-renders the detail
    # (and disables the button again) while the test clicks.
    await eventually(lambda: beijing.ticket(ticket_id), lambda t: t.status == "forwarded")
    desk = await desk_page(browser, beijing.base, "agent-beijing")
    await desk.click(f"li.ticket-row[data-ticket-id='{ticket_id}']")
    await expect(desk.locator("#detail-heading")).to_contain_text(ticket_id)
    # Forwarded already, so the button is disabled: enable it to see the ask, and press it in the
    # same turn of the page's event loop (a live update re-renders the detail and disables it again).
    posted: list[str] = []
    desk.on("request", lambda r: posted.append(r.url) if r.method == "POST" and r.url.endswith("/forward") else None)
    await desk.evaluate("() => { const button = document.getElementById('forward'); button.disabled = false; button.click(); }")
    await expect(desk.locator("#desk-confirm")).to_contain_text(f"确定将工单 {ticket_id} 转派至承办单位？")
    await desk.click("#desk-confirm-cancel")
    await desk.wait_for_timeout(300)
    assert posted == []


# ---------------------------------------------------------------------------------------------
# `hotline bot eval` fails when a floor is missed.
# ---------------------------------------------------------------------------------------------

def _eval(path: Path) -> int:
    from server.cli import parser

    # A one-message triage set that meets every floor, so only the decision set can fail here.
    triage_set = path.with_name("triage.yaml")
    triage_set.write_text("- {text: 我家厨房着火了，火很大, kind: help, category_l1: 公共安全, category: 治安与消防隐患, emergency: 119}\n",
                          encoding="utf-8")
    args = parser().parse_args(["bot", "eval", "--file", str(path), "--triage-file", str(triage_set)])
    return int(args.func(args))


def test_bot_eval_exits_non_zero_when_a_floor_is_missed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missed = tmp_path / "missed.yaml"
    # The right answer is the 居住证 entry; labelling another entry as right makes top-1 accuracy 0 %.
    missed.write_text("- text: 居住证怎么办理，需要什么材料\n  expect: answer\n  entry: kb-no-such-entry\n"
                      "- text: 我家厨房着火了，火很大\n  expect: emergency\n  line: 119\n", encoding="utf-8")
    assert _eval(missed) == 1
    out = capsys.readouterr()
    assert "top-1 answer accuracy 0.0% < floor 65.0%" in out.err
    assert "emergency" not in out.err  # the floors that were met are not listed

    met = tmp_path / "met.yaml"
    met.write_text("- text: 我家厨房着火了，火很大\n  expect: emergency\n  line: 119\n", encoding="utf-8")
    assert _eval(met) == 0
    assert "all floors met" in capsys.readouterr().out
