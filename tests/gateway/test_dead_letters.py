"""Dead letters: re-drive exactly once (concurrent supervisors, two instances), cursor paging
through all of them, bulk re-drive, roles and CSRF."""
from __future__ import annotations

import asyncio

import aiohttp
from redis.asyncio import Redis

from gateway import clock, keys
from gateway.delivery_targets import DeliveryResult
from gateway.metrics import Metrics
from gateway.outbox import ALREADY_REDRIVEN, NOT_FOUND, REDRIVEN, Outbox
from gateway.tickets import Tickets
from tests.conftest import CASE_SECRET
from tests.support.desk import add_user, login
from tests.support.processes import CaseReceiver
from tests.support.waiting import eventually

SUP = "chief"


class _Rejecting:
    """A delivery target that is never reached: the tickets of these entries do not exist, so the
    outbox dead-letters them ("ticket missing") before calling it."""
    def __init__(self, name: str) -> None:
        self.name = name

    async def deliver(self, body: bytes, idempotency_key: str) -> DeliveryResult:
        return DeliveryResult("reject", 422, error="rejected")


def _outbox(redis: Redis, instance: str) -> Outbox:
    return Outbox(redis, Tickets(redis), {"case": _Rejecting("case-system"), "partner": _Rejecting("partner")}, Metrics(),
                  instance, retry_horizon=60, backoff_base=0.05, backoff_cap=0.5, claim_idle=5, concurrency=4)


async def _make_dead_letters(redis_url: str, n: int, hop: str = "case", tag: str = "DL") -> list[str]:
    """`n` dead letters made by the outbox's own delivery path; returns their ticket ids."""
    redis = Redis.from_url(redis_url)
    try:
        outbox = _outbox(redis, "maker")
        ids = [f"{tag}-20261206-{i:06d}" for i in range(n)]
        for ticket_id in ids:
            await outbox._deliver("0-1", {"ticket": ticket_id, "hop": hop, "attempt": "1", "first_at": str(clock.now_ms())})
        return ids
    finally:
        await redis.aclose()


async def _redriven_events(redis: Redis, ticket_id: str) -> int:
    rows = await redis.lrange(keys.history(ticket_id), 0, -1)
    return sum(b'"event":"redriven"' in r for r in rows)


async def _all_pages(desk: aiohttp.ClientSession, base: str, limit: int, hop: str | None = None) -> tuple[list[dict], list[dict]]:
    """Follows `next` to the end; returns the items and each page's body."""
    items: list[dict] = []
    pages: list[dict] = []
    before: str | None = None
    while True:
        params = {"limit": str(limit), **({"before": before} if before else {}), **({"hop": hop} if hop else {})}
        async with desk.get(f"{base}/api/v1/supervisor/dead-letters", params=params) as r:
            assert r.status == 200, await r.text()
            page = await r.json()
        pages.append(page)
        items += page["items"]
        before = page["next"]
        if before is None:
            return items, pages
        assert len(pages) < 100


async def test_concurrent_redrives_through_two_instances_deliver_once(make_app, case_receiver: CaseReceiver, redis_url: str, http: aiohttp.ClientSession) -> None:
    fast = dict(case_system_url=case_receiver.base, case_system_secret=CASE_SECRET, case_system_timeout_seconds=2.0,
                outbox_backoff_base_seconds=0.05, outbox_backoff_cap_seconds=0.5, outbox_retry_horizon_seconds=0, outbox_claim_idle_seconds=5)
    a = await make_app(instance_id="dl-a", **fast)
    b = await make_app(instance_id="dl-b", **fast)
    await add_user(redis_url, SUP, "supervisor")
    async with http.post(f"{case_receiver.base}/_faults", json={"mode": "503", "count": 1}) as r:
        assert r.status == 200
    async with http.post(f"{a}/api/v1/requests", json={"description": "路灯坏了好几天没人修", "phone": "13900001111"}) as r:
        assert r.status == 201
        ticket_id = (await r.json())["ticket_id"]
    desk_a, csrf_a = await login(a, SUP)
    desk_b, csrf_b = await login(b, SUP)
    redis = Redis.from_url(redis_url)
    try:
        # One 503 past a zero retry horizon: a dead letter.
        dead = await eventually(lambda: redis.xrange(keys.DEAD_LETTER_STREAM), lambda rows: len(rows) == 1, timeout=30)
        entry_id = dead[0][0].decode()

        async def redrive(n: int) -> tuple[int, dict]:
            desk, csrf, base = (desk_a, csrf_a, a) if n % 2 else (desk_b, csrf_b, b)
            async with desk.post(f"{base}/api/v1/supervisor/dead-letters/{entry_id}/redrive", headers={"X-CSRF-Token": csrf}) as r:
                return r.status, await r.json()

        results = await asyncio.gather(*(redrive(n) for n in range(10)))
        statuses = sorted(s for s, _ in results)
        assert statuses == [202] + [409] * 9, results
        for status, body in results:
            if status == 409:
                assert body["error"] == "already_redriven" and body["message"] == "该条已被重新投递"

        # A late re-drive is told the same, not "not found".
        status, body = await redrive(0)
        assert status == 409 and body["error"] == "already_redriven"

        ticket = await eventually(lambda: Tickets(redis).get(ticket_id), lambda t: t.status == "forwarded", timeout=30)
        await eventually(lambda: redis.xlen(keys.OUTBOX_STREAM), lambda n: n == 0)
        await asyncio.sleep(0.5)  # any extra queued delivery would land now
        ticket = await Tickets(redis).get(ticket_id)
        assert [d.outcome for d in ticket.deliveries] == ["dead_letter", "delivered"]
        assert sum(h.event == "redriven" for h in ticket.history) == 1
        async with http.get(f"{case_receiver.base}/_stats") as r:
            stats = await r.json()
        assert stats["requests_per_key"][f"{ticket_id}:case"] == 2  # the 503, then one delivery
    finally:
        await redis.aclose()
        await desk_a.close()
        await desk_b.close()


async def test_concurrent_redrives_from_two_outboxes_make_one_outbox_entry(redis_url: str) -> None:
    [ticket_id] = await _make_dead_letters(redis_url, 1)
    r1, r2 = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        one, two = _outbox(r1, "gw-1"), _outbox(r2, "gw-2")
        [(entry_id, _)] = await r1.xrange(keys.DEAD_LETTER_STREAM)
        await asyncio.gather(*(r.ping() for r in (r1, r2) for _ in range(10)))  # open connections: the ten truly race
        results = await asyncio.gather(*((one if n % 2 else two).redrive(entry_id.decode(), f"agent:s{n}") for n in range(10)))
        assert await r1.xlen(keys.OUTBOX_STREAM) == 1
        assert await r1.xlen(keys.DEAD_LETTER_STREAM) == 0
        assert await _redriven_events(r1, ticket_id) == 1
        assert sorted(r.outcome for r in results) == [ALREADY_REDRIVEN] * 9 + [REDRIVEN]
        assert (await one.redrive(entry_id.decode(), "agent:late")).outcome == ALREADY_REDRIVEN
        assert (await one.redrive("1-1", "agent:late")).outcome == NOT_FOUND
    finally:
        await r1.aclose()
        await r2.aclose()


async def test_paging_walks_every_dead_letter_once(make_app, redis_url: str) -> None:
    base = await make_app(workers="off")
    await add_user(redis_url, SUP, "supervisor")
    cases = await _make_dead_letters(redis_url, 300, "case", "CA")
    partners = await _make_dead_letters(redis_url, 150, "partner:tj", "PA")
    desk, _ = await login(base, SUP)
    redis = Redis.from_url(redis_url)
    try:
        stream_ids = [e.decode() for e, _ in await redis.xrevrange(keys.DEAD_LETTER_STREAM)]
        items, pages = await _all_pages(desk, base, 100)
        assert [i["entry_id"] for i in items] == stream_ids  # newest first, no duplicates, no gaps
        assert [len(p["items"]) for p in pages] == [100, 100, 100, 100, 50]
        assert all(p["total"] == 450 for p in pages)
        assert sorted(i["ticket_id"] for i in items) == sorted(cases + partners)

        # Exactly a multiple of the page size: the last full page says there is no more.
        items, pages = await _all_pages(desk, base, 150)
        assert len(items) == 450 and [len(p["items"]) for p in pages] == [150, 150, 150] and pages[-1]["next"] is None

        # By hop family, and by exact hop.
        items, _ = await _all_pages(desk, base, 40, hop="partner")
        assert sorted(i["ticket_id"] for i in items) == sorted(partners) and len({i["entry_id"] for i in items}) == 150
        items, _ = await _all_pages(desk, base, 500, hop="partner:tj")
        assert len(items) == 150
        items, _ = await _all_pages(desk, base, 64, hop="case")
        assert sorted(i["ticket_id"] for i in items) == sorted(cases)

        async with desk.get(f"{base}/api/v1/supervisor/dead-letters", params={"before": "0-0"}) as r:
            assert await r.json() == {"items": [], "next": None, "total": 450}  # found by fuzzing: Redis refuses "(0-0"
        for bad in ({"before": "yesterday"}, {"limit": "0"}, {"limit": "501"}, {"limit": "x"}):
            async with desk.get(f"{base}/api/v1/supervisor/dead-letters", params=bad) as r:
                assert r.status == 422, bad
                assert (await r.json())["error"] == "validation_failed"
    finally:
        await redis.aclose()
        await desk.close()


async def test_bulk_redrive_moves_every_dead_letter_exactly_once(make_app, redis_url: str) -> None:
    a = await make_app(workers="off", instance_id="dl-a")
    b = await make_app(workers="off", instance_id="dl-b")
    await add_user(redis_url, SUP, "supervisor")
    await add_user(redis_url, "deputy", "supervisor")
    cases = await _make_dead_letters(redis_url, 300, "case", "CA")
    partners = await _make_dead_letters(redis_url, 150, "partner:tj", "PA")
    desk_a, csrf_a = await login(a, SUP)
    desk_b, csrf_b = await login(b, "deputy")
    redis = Redis.from_url(redis_url)
    try:
        # A chosen few by id; a second time they are already gone.
        chosen = [e.decode() for e, _ in await redis.xrevrange(keys.DEAD_LETTER_STREAM, count=3)]
        async with desk_a.post(f"{a}/api/v1/supervisor/dead-letters/redrive", json={"entry_ids": chosen}, headers={"X-CSRF-Token": csrf_a}) as r:
            assert r.status == 202, await r.text()
            body = await r.json()
            assert (body["redriven"], body["already_gone"]) == (3, 0) and "已重新投递 3 条" in body["message"]
        async with desk_b.post(f"{b}/api/v1/supervisor/dead-letters/redrive", json={"entry_ids": chosen + ["1-1"]}, headers={"X-CSRF-Token": csrf_b}) as r:
            body = await r.json()
            assert (body["redriven"], body["already_gone"]) == (0, 4)
        # A repeated id is one entry, moved once.
        again = [e.decode() for e, _ in await redis.xrevrange(keys.DEAD_LETTER_STREAM, count=1)] * 3
        async with desk_a.post(f"{a}/api/v1/supervisor/dead-letters/redrive", json={"entry_ids": again}, headers={"X-CSRF-Token": csrf_a}) as r:
            body = await r.json()
            assert (body["redriven"], body["already_gone"]) == (1, 0)

        # Only one hop family.
        async with desk_a.post(f"{a}/api/v1/supervisor/dead-letters/redrive", json={"all": True, "hop": "partner"}, headers={"X-CSRF-Token": csrf_a}) as r:
            assert r.status == 202
            assert (await r.json())["redriven"] == 146  # the four re-driven above were the newest partner ones

        # Everything else, by two supervisors on two instances at once: each entry moves once.
        async def everything(desk: aiohttp.ClientSession, base: str, csrf: str) -> dict:
            async with desk.post(f"{base}/api/v1/supervisor/dead-letters/redrive", json={"all": True}, headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 202, await r.text()
                return await r.json()

        one, two = await asyncio.gather(everything(desk_a, a, csrf_a), everything(desk_b, b, csrf_b))
        assert one["redriven"] + two["redriven"] == 300
        assert await redis.xlen(keys.DEAD_LETTER_STREAM) == 0
        queued = await _tickets_of(redis, keys.OUTBOX_STREAM)
        assert sorted(queued) == sorted(cases + partners)  # one outbox entry per dead letter
        for ticket_id in cases[:20] + partners[:20]:
            assert await _redriven_events(redis, ticket_id) == 1
        rows = await redis.lrange(keys.history(partners[0]), 0, -1)
        assert any(b'"bulk":true' in r and b'"actor":"agent:' in r for r in rows)

        # Nothing left: paging says so.
        async with desk_a.get(f"{a}/api/v1/supervisor/dead-letters") as r:
            assert await r.json() == {"items": [], "next": None, "total": 0}
    finally:
        await redis.aclose()
        await desk_a.close()
        await desk_b.close()


async def _tickets_of(redis: Redis, stream: str) -> list[str]:
    return [raw[b"ticket"].decode() for _, raw in await redis.xrange(stream)]


async def test_dead_letter_routes_are_for_supervisors_with_csrf(make_app, redis_url: str) -> None:
    base = await make_app(workers="off")
    await add_user(redis_url, SUP, "supervisor")
    await add_user(redis_url, "agent1", "agent")
    await _make_dead_letters(redis_url, 2)
    agent, agent_csrf = await login(base, "agent1")
    sup, csrf = await login(base, SUP)
    redis = Redis.from_url(redis_url)
    try:
        entry_id = (await redis.xrange(keys.DEAD_LETTER_STREAM, count=1))[0][0].decode()
        for method, path, body in (("GET", "/api/v1/supervisor/dead-letters", None),
                                   ("POST", f"/api/v1/supervisor/dead-letters/{entry_id}/redrive", None),
                                   ("POST", "/api/v1/supervisor/dead-letters/redrive", {"all": True})):
            async with agent.request(method, base + path, json=body, headers={"X-CSRF-Token": agent_csrf}) as r:
                assert r.status == 403, (method, path)
                assert (await r.json())["error"] == "forbidden"
        async with sup.post(f"{base}/api/v1/supervisor/dead-letters/redrive", json={"all": True}) as r:
            assert r.status == 403 and (await r.json())["error"] == "csrf_failed"
        async with sup.post(f"{base}/api/v1/supervisor/dead-letters/{entry_id}/redrive") as r:
            assert r.status == 403 and (await r.json())["error"] == "csrf_failed"
        for bad in ({}, {"all": True, "entry_ids": [entry_id]}, {"entry_ids": []}, {"entry_ids": ["abc"]}, {"all": False}):
            async with sup.post(f"{base}/api/v1/supervisor/dead-letters/redrive", json=bad, headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 422, bad
        assert await redis.xlen(keys.DEAD_LETTER_STREAM) == 2  # nothing moved
    finally:
        await redis.aclose()
        await agent.close()
        await sup.close()


async def test_supervisor_pages_and_bulk_redrives_on_the_desk(make_app, redis_url: str, browser) -> None:
    from playwright.async_api import expect

    from tests.support.browser import desk_page, skip_without_chromium

    skip_without_chromium()
    base = await make_app(workers="off", ticket_prefix="DL")
    await add_user(redis_url, SUP, "supervisor")
    tickets = await _make_dead_letters(redis_url, 250, "case", "BR")
    redis = Redis.from_url(redis_url)
    page = await desk_page(browser, base, SUP)
    try:
        rows = page.locator("#dead-letters tr.dead-letter-row")
        await expect(page.locator("#dead-letters-count")).to_have_text("（250）")
        await expect(rows).to_have_count(100)
        await page.click("#dead-letters-more")
        await expect(rows).to_have_count(200)
        await page.click("#dead-letters-more")
        await expect(rows).to_have_count(250)
        await expect(page.locator("#dead-letters-more")).to_have_count(0)
        await expect(page.locator("#dead-letters-shown")).to_have_text("已显示 250 / 共 250 条")
        shown = await rows.evaluate_all("rs => rs.map(r => r.dataset.entryId)")
        assert len(set(shown)) == 250

        # Two chosen; cancelling the confirmation moves nothing.
        await rows.nth(0).locator("input.dead-letter-check").check()
        await rows.nth(1).locator("input.dead-letter-check").check()
        await expect(page.locator("#dead-letters-redrive-selected")).to_have_text("重新投递所选（2）")
        await page.click("#dead-letters-redrive-selected")
        dialog = page.locator("#dead-letters-confirm")
        await expect(dialog).to_be_visible()
        await expect(page.locator("#dead-letters-confirm-text")).to_have_text("确定重新投递选中的 2 条？")
        await page.click("#dead-letters-confirm-cancel")
        await expect(dialog).to_be_hidden()
        assert await redis.xlen(keys.DEAD_LETTER_STREAM) == 250

        await page.click("#dead-letters-redrive-selected")
        await page.click("#dead-letters-confirm-ok")
        await expect(page.locator("#supervisor-msg")).to_have_text("已重新投递 2 条")
        await expect(page.locator("#dead-letters-count")).to_have_text("（248）")
        assert await redis.xlen(keys.OUTBOX_STREAM) == 2

        # 全选 selects what is loaded; 全部重新投递 takes every one, loaded or not.
        await page.check("#dead-letters-select-all")
        await expect(page.locator("#dead-letters-redrive-selected")).to_have_text("重新投递所选（100）")
        await page.click("#dead-letters-redrive-all")
        await expect(page.locator("#dead-letters-confirm-text")).to_have_text("确定重新投递全部 248 条？")
        await page.click("#dead-letters-confirm-ok")
        await expect(page.locator("#supervisor-msg")).to_have_text("已重新投递 248 条")
        await expect(page.locator("#dead-letters")).to_contain_text("死信队列为空")
        assert await redis.xlen(keys.DEAD_LETTER_STREAM) == 0
        assert sorted(await _tickets_of(redis, keys.OUTBOX_STREAM)) == sorted(tickets)
    finally:
        await page.context.close()
        await redis.aclose()
