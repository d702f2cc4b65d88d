"""The supervisor wall (/supervisor/wall) in a real browser (Debian's headless Chromium driven by
Playwright) against a real gateway process.

First against the fixture tests/data/wall.json (the API answer intercepted in the browser): every
tile, the deadline countdowns ticking and turning overdue, citizen text shown as text (never as
markup), null rates as —, no script errors or CSP violations. Then against the real API: tickets
filed through the public API are counted on the 今日受理 tile, the district map is drawn, a new
ticket raises the tile live over the desk WebSocket, the CSV export has Chinese headers, and an
agent without the supervisor role is refused."""
from __future__ import annotations

import asyncio
import json
import os
import re
import struct
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, Route, WebSocketRoute, expect

from gateway import clock
from tests.server.test_wall import WATER
from tests.support.browser import skip_without_chromium
from tests.support.desk import PASSWORD, add_user
from tests.support.paths import REPO
from tests.support.processes import Gateway

skip_without_chromium()
# Also keep the screenshots in this folder (they are always saved under the test's tmp_path).
SCREENSHOTS = os.environ.get("HOTLINE_TEST_SCREENSHOTS")
FIXTURE = REPO / "tests" / "data" / "wall.json"
WALL_API = re.compile(r"/api/v1/supervisor/wall(\?.*)?$")
SUPERVISOR = "chief-wall"
AGENT = "agent-wall"


@pytest.fixture
async def gateway(redis_url: str, tmp_path: Path, gateways: list[Gateway]) -> Gateway:
    gw = Gateway(redis_url, tmp_path / "gw", HOTLINE_TICKET_PREFIX="WL")
    gateways.append(gw)
    gw.start()
    await add_user(redis_url, SUPERVISOR, "agent", "supervisor")
    await add_user(redis_url, AGENT, "agent")
    return gw


class SocketRelay:
    """The page's desk socket passed through Playwright to the gateway: what the server sent is
    recorded, and the line can be cut (every new connection is then dropped as it opens) and mended."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.cut = False
        self.page_side: WebSocketRoute | None = None

    async def handle(self, ws: WebSocketRoute) -> None:
        if self.cut:
            await ws.close(code=1011, reason="cut")
            return
        self.page_side = ws
        server = ws.connect_to_server()

        def forward(message: str | bytes) -> None:
            self.frames.append(message if isinstance(message, str) else message.decode())
            ws.send(message)
        server.on_message(forward)

    async def cut_line(self) -> None:
        self.cut = True
        if self.page_side is not None:
            await self.page_side.close(code=1011, reason="cut")


async def open_wall(browser: Browser, base: str, username: str, intercept: Any = None) -> Page:
    """A new page at /supervisor/wall, logged in as `username`; with `intercept` (a document, or a function
    called at the first request), the wall API answers that instead of the server."""
    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1600, "height": 1400})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if (m.type == "error" and not m.text.startswith("Failed to load resource"))
            or "Content Security Policy" in m.text else None)
    # Failed requests, by URL; the boot's GET /auth/me answers 401 before the login, as it should.
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and not r.url.endswith("/api/v1/auth/me") else None)
    page.on("dialog", lambda d: errors.append("dialog: " + d.message))
    page.js_errors = errors  # type: ignore[attr-defined]
    relay = SocketRelay()
    await page.route_web_socket(re.compile(r"/api/v1/agent/ws(\?watch=wall)?$"), relay.handle)
    page.relay = relay  # type: ignore[attr-defined]
    if intercept is not None:
        body: list[str] = []

        async def answer(route: Route) -> None:
            if not body:  # the times of the first answer, then the same document every time
                body.append(json.dumps(intercept() if callable(intercept) else intercept, ensure_ascii=False))
            await route.fulfill(status=200, content_type="application/json", body=body[0])
        await page.route(WALL_API, answer)
    await page.goto(f"{base}/supervisor/wall")
    await expect(page.locator("#login-form")).to_be_visible()
    await page.fill("#login-username", username)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    return page


async def shot(page: Page, tmp_path: Path, name: str, selector: str | None = None) -> bytes:
    data = await (page.locator(selector).screenshot() if selector else page.screenshot(full_page=True))
    for folder in [tmp_path] + ([Path(SCREENSHOTS)] if SCREENSHOTS else []):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return data


def fixture_now() -> dict[str, Any]:
    """tests/data/wall.json with its times moved to now: two deadlines ahead (one runs out in 10 s), one passed."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    now = clock.now()
    data["generated_at"] = now.isoformat()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    data["from"], data["to"] = day.isoformat(), (day + timedelta(days=1)).isoformat()
    soon = data["deadlines"]["due_soon"]
    soon[0]["due_at"] = (now + timedelta(seconds=10)).isoformat()  # runs out while the test watches
    soon[1]["due_at"] = (now + timedelta(minutes=95)).isoformat()
    data["deadlines"]["overdue"][0]["due_at"] = (now - timedelta(minutes=20)).isoformat()
    return data


@pytest.mark.browser
async def test_wall_renders_the_fixture_escaped_with_live_countdowns(gateway: Gateway, browser: Browser, tmp_path: Path) -> None:
    page = await open_wall(browser, gateway.base, SUPERVISOR, intercept=fixture_now)
    tiles = page.locator(".tiles")
    await expect(tiles.locator("[data-tile='total'] .tile-value")).to_have_text("12")
    await expect(tiles.locator("[data-tile='total'] .tile-label")).to_have_text("今日受理")
    expected = {"direct_answer_rate": "25%", "forward_share": "50%", "transfer_share": "8.3%", "diversion_share": "8.3%",
                "response_rate": "90%", "resolution_rate": "—", "satisfaction_rate": "—", "due_soon": "2", "overdue": "1",
                "waiting": "1", "agents_online": "3"}
    for name, text in expected.items():
        await expect(tiles.locator(f"[data-tile='{name}'] .tile-value"), name).to_have_text(text)
    await expect(page.locator("#live")).to_have_attribute("data-state", "open")

    rows = page.locator("#deadlines-body tr")
    await expect(rows).to_have_count(3)
    overdue = page.locator("#deadlines-body tr[data-ticket-id='BJ-20261205-000101']")
    await expect(overdue).to_have_class(re.compile(r"\bis-overdue\b"))
    await expect(overdue.locator(".countdown")).to_have_text(re.compile(r"^超期 0:(19|20):\d\d$"))
    later = page.locator("#deadlines-body tr[data-ticket-id='BJ-20261206-000013'] .countdown")
    await expect(later).to_have_text(re.compile(r"^剩余 1:3[45]:\d\d$"))
    ticking = await later.text_content()
    await expect(later).not_to_have_text(ticking or "")  # a second later
    # The first row is the one due in 10 s: it counts down, then turns overdue by itself.
    first = page.locator("#deadlines-body tr[data-ticket-id='BJ-20261206-000012']")
    await expect(first.locator(".countdown")).to_have_text(re.compile(r"^剩余 0:00:\d\d$"))
    await expect(first).to_have_class(re.compile(r"\bis-overdue\b"), timeout=20_000)
    await expect(first.locator(".countdown")).to_have_text(re.compile(r"^超期 0:00:\d\d$"))

    # Citizens' text is text: the <script> in a summary, the markup in a hot issue's street.
    await expect(first.locator(".summary")).to_contain_text("<script>alert('x')</script>")
    await expect(page.locator("#wall-main script, #wall-main img, #hotspots b, #hotspots i")).to_have_count(0)
    hotspots = page.locator("#hotspots-body tr")
    await expect(hotspots).to_have_count(3)
    await expect(hotspots.nth(1)).to_contain_text("<i>学院路街道</i>")
    await expect(hotspots.nth(1)).to_contain_text("已发布通告")
    await expect(hotspots.first.locator("svg.spark polyline")).to_have_count(1)
    await expect(hotspots.last).to_have_class(re.compile(r"\bis-closed\b"))  # closed ones last
    await expect(hotspots.last).to_contain_text("已关闭")
    await expect(page.locator("#duplicates-pending")).to_have_text("疑似重复待处理 1 件")
    await expect(page.locator("#deadlines-counts")).to_have_text("已超期 1 件，2小时内到期 2 件；待响应 4 件，其中超时 1 件")
    await expect(page.locator("#queues [data-queue='phone']")).to_contain_text("最长等待 40秒")
    await expect(page.locator("#queues [data-queue='chat']")).to_be_hidden()  # the API has no chat queue

    # CSV links follow the period; 近7天 sends both dates.
    await expect(page.locator("a[data-csv='hotspots']")).to_have_attribute("href", "/api/v1/supervisor/wall.csv?table=hotspots")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if WALL_API.search(r.url) else None)
    await page.click("button[data-range='week']")
    await expect(tiles.locator("[data-tile='total'] .tile-label")).to_have_text("期间受理")
    today = clock.now().date()
    week = f"from={(today - timedelta(days=6)).isoformat()}&to={today.isoformat()}"
    await expect(page.locator("a[data-csv='district']").first).to_have_attribute("href", f"/api/v1/supervisor/wall.csv?table=district&{week}")
    await page.wait_for_function("document.body.getAttribute('data-wall-loaded') !== null")
    assert any(week in url for url in asked), asked

    # 自定义: an end before the start, or more than 92 days, is refused on the page; a valid period
    # is asked for and exported.
    await page.click("button[data-range='custom']")
    await page.fill("#range-from", "2026-12-05")
    await page.fill("#range-to", "2026-12-01")
    await page.click("#range-apply")
    await expect(page.locator("#wall-msg")).to_have_text("结束日期不能早于开始日期")
    await page.fill("#range-from", "2026-01-01")
    await page.fill("#range-to", "2026-04-03")  # 93 days
    await page.click("#range-apply")
    await expect(page.locator("#wall-msg")).to_have_text("一次最多查询92天，请分段查询")
    await page.fill("#range-from", "2026-12-05")
    await page.fill("#range-to", "2026-12-06")
    async with page.expect_request(lambda r: bool(WALL_API.search(r.url)) and "from=2026-12-05&to=2026-12-06" in r.url):
        await page.click("#range-apply")
    await expect(page.locator("#range-label")).to_have_text("2026-12-05 至 2026-12-06")
    await expect(page.locator("a[data-csv='deadlines']")).to_have_attribute(
        "href", "/api/v1/supervisor/wall.csv?table=deadlines&from=2026-12-05&to=2026-12-06")
    await expect(page.locator("#wall-msg")).to_have_text("")

    await page.wait_for_function("window.echarts && echarts.getMap('beijing') !== undefined")
    await shot(page, tmp_path, "wall-fixture.png")
    assert shaded_share(await shot(page, tmp_path, "wall-fixture-map.png", "#chart-map")) > 0.01
    assert page.js_errors == [], page.js_errors  # type: ignore[attr-defined]


async def file_request(http: aiohttp.ClientSession, base: str, district: str, description: str, phone: str) -> str:
    """A citizen's request through the public API (the web channel): its ticket id."""
    body = {"kind": "complaint", "phone": phone, "district": district, "description": description}
    async with http.post(f"{base}/api/v1/requests", json=body) as resp:
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["ticket_id"])


REQUESTS = [
    ("朝阳区", "朝阳区望京西园三区东门外的路灯坏了一个多星期，晚上一片漆黑，老人孩子出行很不安全，请尽快维修。", "13812345601"),
    ("朝阳区", "朝阳区酒仙桥路十号院小区门口的污水井冒水，路面结冰，行人容易滑倒，请派人处理。", "13812345602"),
    ("海淀区", "海淀区学院路街道某小区楼下餐馆深夜施工噪音很大，影响居民休息，请相关部门管一管。", "13812345603"),
]


@pytest.mark.browser
async def test_wall_counts_real_tickets_live_draws_the_map_and_exports_csv(gateway: Gateway, browser: Browser, tmp_path: Path) -> None:
    base = gateway.base
    async with aiohttp.ClientSession() as http:
        for district, description, phone in REQUESTS:
            await file_request(http, base, district, description, phone)

        page = await open_wall(browser, base, SUPERVISOR)
        total = page.locator(".tiles [data-tile='total'] .tile-value")
        await expect(total).to_have_text(str(len(REQUESTS)))
        await expect(page.locator(".tiles [data-tile='total'] .tile-label")).to_have_text("今日受理")
        await expect(page.locator("#range-label")).to_have_text(f"今天（{clock.now().date().isoformat()}）")
        await expect(page.locator("#chart-district")).to_have_attribute("aria-label", "各区受理量：朝阳区 2 件，海淀区 1 件")
        await expect(page.locator("#live")).to_have_attribute("data-state", "open")
        await expect(page.locator("#live-text")).to_have_text("实时连接")

        # The map: the districts with requests are shaded (blue), read from a screenshot of it.
        await page.wait_for_function("window.echarts && echarts.getMap('beijing') !== undefined")
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            share = shaded_share(await shot(page, tmp_path, "wall-map.png", "#chart-map"))
            if share > 0.005 or asyncio.get_running_loop().time() > deadline:
                break
        assert share > 0.005, share

        # Live: one more request raises 今日受理 by one, pushed over the desk socket (wall.changed),
        # well before the 30 s poll.
        await file_request(http, base, "海淀区", "海淀区中关村大街的公交站牌被撞歪了，存在安全隐患，请尽快修复。", "13812345604")
        await expect(total).to_have_text(str(len(REQUESTS) + 1), timeout=10_000)
        # The server said so over the socket (the hub sends it half a second after the event; the
        # page's 30 s poll may have shown the new count first on a slow machine).
        relay: SocketRelay = page.relay  # type: ignore[attr-defined]
        told_by = asyncio.get_running_loop().time() + 10
        while not any('"wall.changed"' in f for f in relay.frames):
            assert asyncio.get_running_loop().time() < told_by, relay.frames
            await asyncio.sleep(0.05)
        await shot(page, tmp_path, "wall-real.png")

        # The line drops: 连接中断 while it is down (reconnects are refused), then back by itself,
        # and live again (a request filed while it was down is there too).
        await relay.cut_line()
        await expect(page.locator("#live")).to_have_attribute("data-state", "down")
        await expect(page.locator("#live-text")).to_have_text("连接中断")
        await file_request(http, base, "朝阳区", "朝阳区望京街道阜通东大街人行道上的井盖丢失，夜间行人容易踩空，请尽快补上。", "13812345605")
        await shot(page, tmp_path, "wall-down.png")
        relay.cut = False
        await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=40_000)
        await expect(total).to_have_text(str(len(REQUESTS) + 2), timeout=5_000)
        await file_request(http, base, "海淀区", "海淀区学院路街道某小区电梯经常停运，老人上下楼很困难，请督促物业维修。", "13812345606")
        await expect(total).to_have_text(str(len(REQUESTS) + 3), timeout=10_000)

        # CSV: the link's own URL, with the page's session; UTF-8 with a BOM and Chinese headers.
        href = await page.locator("a[data-csv='district']").first.get_attribute("href")
        assert href == "/api/v1/supervisor/wall.csv?table=district"
        csv = await page.request.get(base + href)
        assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
        raw = await csv.body()
        assert raw.startswith(b"\xef\xbb\xbf")
        lines = raw.decode("utf-8-sig").splitlines()
        assert lines[0] == "区,受理数", lines
        assert {"朝阳区,3", "海淀区,3"} <= set(lines), lines
        deadlines_href = await page.locator("a[data-csv='deadlines']").get_attribute("href")
        deadlines = (await (await page.request.get(base + (deadlines_href or ""))).body()).decode("utf-8-sig").splitlines()
        assert deadlines[0].startswith("工单号,"), deadlines
        assert page.js_errors == [], page.js_errors  # type: ignore[attr-defined]

    # An agent without the supervisor role: refused on the page (still logged in: the session may
    # be their desk's), and by the API.
    agent = await open_wall(browser, base, AGENT)
    await expect(agent.locator("#wall-denied")).to_be_visible()
    await expect(agent.locator("#wall-denied")).to_contain_text("仅班长/管理员可查看监督大屏")
    await expect(agent.locator("#wall-main")).to_be_hidden()
    await shot(agent, tmp_path, "wall-denied.png")
    assert (await agent.request.get(base + "/api/v1/auth/me")).status == 200
    for path in ("/api/v1/supervisor/wall", "/api/v1/supervisor/wall.csv?table=district"):
        refused = await agent.request.get(base + path)
        assert refused.status == 403, path
        assert (await refused.json())["error"] == "forbidden"
    assert agent.js_errors == [], agent.js_errors  # type: ignore[attr-defined]


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the rows (RGB or RGBA, 8 bits) of a PNG, filters undone (no Pillow needed)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = prev[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                corner = prev[i - channels] if i >= channels else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r) if channels == 3 else bytes(b for i, b in enumerate(r) if i % 4 != 3) for r in rows]


def shaded_share(data: bytes) -> float:
    """The share of a screenshot's pixels in the map's shades of blue (districts with requests:
    blue well above red); the empty districts' grey, borders, labels and white do not count."""
    width, height, rows = png_pixels(data)
    shaded = sum(1 for row in rows for i in range(0, len(row), 3) if row[i + 2] - row[i] >= 50)
    return shaded / (width * height)


@pytest.mark.browser
async def test_a_supervisor_publishes_a_notice_from_a_hotspot_and_closes_it(gateway: Gateway, browser: Browser, tmp_path: Path) -> None:
    base = gateway.base
    page = await open_wall(browser, base, SUPERVISOR)
    await expect(page.locator("#hotspots-empty")).to_be_visible()
    async with aiohttp.ClientSession() as http:
        for n, description in enumerate(WATER):  # five citizens, one street, one matter: raised by the router
            await file_request(http, base, "朝阳区", description, f"1390000040{n}")
    row = page.locator("#hotspots-body tr.hotspot-row")
    await expect(row).to_have_count(1, timeout=120_000)  # live: hotspot.raised, then wall.changed
    await expect(row.locator(".hotspot-count")).to_have_text("5")
    await expect(row).to_contain_text("望京街道")
    await expect(page.locator("#chart-map")).to_have_attribute("aria-label", re.compile("正在处置的热点：望京街道"))
    await shot(page, tmp_path, "wall-hotspot-map.png", "#chart-map")

    await row.locator("[data-action='notice']").click()
    await expect(page.locator("#notice-dialog")).to_be_visible()
    await page.fill("#notice-text", "短")
    await page.click("#notice-submit")
    await expect(page.locator("#notice-msg")).to_contain_text("至少5个字")
    await page.fill("#notice-text", "望京街道因主管线抢修临时停水，预计今天18时恢复供水，请居民提前储水。")
    await page.click("#notice-submit")
    await expect(page.locator("#notice-dialog")).to_be_hidden()
    await expect(row).to_contain_text("已发布通告")
    await shot(page, tmp_path, "wall-hotspot-notice.png", "#hotspots")

    await row.locator("[data-action='close']").click()
    await page.click("#desk-confirm-ok")
    await expect(row).to_have_class(re.compile(r"\bis-closed\b"))
    await expect(row.locator("[data-action]")).to_have_count(0)
    assert page.js_errors == []  # type: ignore[attr-defined]
