"""Forwarding to the core case system through the outbox, against a separate receiver process
that injects faults: 503 bursts, timeouts, slow answers, refused connections and 4xx."""
from __future__ import annotations

import aiohttp
from redis.asyncio import Redis

from gateway import keys
from gateway.tickets import Tickets
from tests.conftest import CASE_SECRET
from tests.support.desk import add_user, login
from tests.support.processes import CaseReceiver
from tests.support.waiting import eventually

FAST_RETRIES = dict(
    case_system_secret=CASE_SECRET, case_system_timeout_seconds=1.0, outbox_backoff_base_seconds=0.05,
    outbox_backoff_cap_seconds=0.5, outbox_retry_horizon_seconds=120, outbox_claim_idle_seconds=5,
)


async def _submit(http: aiohttp.ClientSession, base: str, n: int, tag: str, reject: bool = False) -> list[str]:
    ids = []
    for i in range(n):
        text = f"{tag} 第{i}件诉求：小区垃圾清运不及时" + (" REJECT-ME" if reject else "")
        # A citizen each: one person's near-identical requests would be held as 疑似重复.
        async with http.post(f"{base}/api/v1/requests", json={"description": text, "phone": f"139{sum(map(ord, tag)) % 10000:04d}{i:04d}"}) as r:
            assert r.status == 201, await r.text()
            ids.append((await r.json())["ticket_id"])
    return ids


async def _stats(http: aiohttp.ClientSession, receiver: CaseReceiver) -> dict:
    async with http.get(f"{receiver.base}/_stats") as r:
        return await r.json()


async def _faults(http: aiohttp.ClientSession, receiver: CaseReceiver, **cfg: object) -> None:
    async with http.post(f"{receiver.base}/_faults", json=cfg) as r:
        assert r.status == 200


def _delivered_ids(stats: dict) -> set[str]:
    return {case["ticket_id"] for case in stats["cases"].values()}


async def test_every_ticket_arrives_once_per_key_despite_faults(make_app, case_receiver: CaseReceiver, redis_url: str, http: aiohttp.ClientSession) -> None:
    base = await make_app(case_system_url=case_receiver.base, **FAST_RETRIES)
    expected: list[str] = []

    await _faults(http, case_receiver, mode="503", count=25)
    expected += await _submit(http, base, 10, "503")
    rejected = await _submit(http, base, 2, "4xx", reject=True)
    await eventually(lambda: _stats(http, case_receiver), lambda s: _delivered_ids(s) >= set(expected), timeout=60)

    await _faults(http, case_receiver, mode="timeout", count=4, delay=2.5)
    expected += await _submit(http, base, 4, "timeout")
    await eventually(lambda: _stats(http, case_receiver), lambda s: _delivered_ids(s) >= set(expected), timeout=60)

    await _faults(http, case_receiver, mode="slow", count=4, delay=0.4)
    expected += await _submit(http, base, 4, "slow")
    await eventually(lambda: _stats(http, case_receiver), lambda s: _delivered_ids(s) >= set(expected), timeout=60)

    case_receiver.stop()  # refused connections from here
    refused = await _submit(http, base, 4, "refused")
    redis = Redis.from_url(redis_url)
    tickets = Tickets(redis)
    try:
        async def refused_attempts() -> int:
            count = 0
            for ticket_id in refused:
                count += sum(d.outcome == "retry" for d in (await tickets.get(ticket_id)).deliveries)
            return count
        await eventually(refused_attempts, lambda n: n >= len(refused), timeout=30)
        case_receiver.start()
        expected += refused
        stats = await eventually(lambda: _stats(http, case_receiver), lambda s: _delivered_ids(s) >= set(expected), timeout=60)

        # Exactly once per idempotency key: one case per ticket, keyed <ticket>:case.
        assert sorted(_delivered_ids(stats)) == sorted(expected)
        assert set(stats["cases"]) == {f"{t}:case" for t in expected}
        assert stats["bad_signatures"] == 0

        # The ledger saw the faults, and each ticket records its case id.
        for ticket_id in expected:
            ticket = await tickets.get(ticket_id)
            assert ticket.status == "forwarded"
            assert ticket.disposition.case_id == stats["cases"][f"{ticket_id}:case"]["case_id"]
            assert [d.outcome for d in ticket.deliveries][-1] == "delivered"
        outcomes = []
        for ticket_id in expected + rejected:  # the 503 burst hit the rejected ones too
            outcomes += [d.outcome for d in (await tickets.get(ticket_id)).deliveries]
        assert outcomes.count("retry") >= 25 + 4 + 4

        # 4xx answers land in the dead letters, with their reason, and nowhere else.
        dead = await redis.xrange(keys.DEAD_LETTER_STREAM)
        assert sorted(e[1][b"ticket"].decode() for e in dead) == sorted(rejected)
        assert all(e[1][b"status_code"] == b"422" for e in dead)
        for ticket_id in rejected:
            ticket = await tickets.get(ticket_id)
            assert ticket.status == "received" and ticket.deliveries[-1].outcome == "dead_letter"
    finally:
        await redis.aclose()


async def test_supervisor_sees_dead_letters_and_redrives_them(make_app, case_receiver: CaseReceiver, redis_url: str, http: aiohttp.ClientSession) -> None:
    base = await make_app(case_system_url=case_receiver.base, **FAST_RETRIES)
    await add_user(redis_url, "zhang", "supervisor")
    await add_user(redis_url, "wang", "agent")
    [rejected] = await _submit(http, base, 1, "dead", reject=True)
    desk, csrf = await login(base, "zhang")
    agent_desk, _ = await login(base, "wang")
    try:
        async def items() -> list:
            async with desk.get(f"{base}/api/v1/supervisor/dead-letters") as r:
                return (await r.json())["items"]
        [item] = await eventually(items, lambda i: len(i) == 1)
        assert item["ticket_id"] == rejected and item["status_code"] == 422

        async with agent_desk.get(f"{base}/api/v1/supervisor/dead-letters") as r:
            assert r.status == 403  # agents do not see dead letters

        async with desk.post(f"{base}/api/v1/supervisor/dead-letters/{item['entry_id']}/redrive", headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 202
        redis = Redis.from_url(redis_url)
        try:
            ticket = await eventually(lambda: Tickets(redis).get(rejected), lambda t: sum(d.outcome == "dead_letter" for d in t.deliveries) == 2)
            assert any(h.event == "redriven" and h.actor == "agent:zhang" for h in ticket.history)
        finally:
            await redis.aclose()
    finally:
        await desk.close()
        await agent_desk.close()


async def test_retries_stop_at_the_horizon(make_app, redis_url: str, http: aiohttp.ClientSession) -> None:
    from tests.support.processes import free_port

    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens: every attempt is refused
    base = await make_app(case_system_url=nobody, **{**FAST_RETRIES, "outbox_retry_horizon_seconds": 1.0})
    [ticket_id] = await _submit(http, base, 1, "horizon")
    redis = Redis.from_url(redis_url)
    try:
        ticket = await eventually(lambda: Tickets(redis).get(ticket_id), lambda t: t.deliveries and t.deliveries[-1].outcome == "dead_letter", timeout=20)
        assert len(ticket.deliveries) >= 2
        assert "retry horizon exceeded" in (ticket.deliveries[-1].error or "")
    finally:
        await redis.aclose()


async def test_without_case_system_the_local_inbox_receives_tickets(app_url: str, redis_url: str, http: aiohttp.ClientSession) -> None:
    [ticket_id] = await _submit(http, app_url, 1, "local")
    redis = Redis.from_url(redis_url)
    try:
        ticket = await eventually(lambda: Tickets(redis).get(ticket_id), lambda t: t.status == "forwarded")
        assert ticket.disposition.target == "local-inbox" and ticket.disposition.case_id == f"LOCAL-{ticket_id}"
        assert await redis.hexists(keys.LOCAL_INBOX, f"{ticket_id}:case")
    finally:
        await redis.aclose()
