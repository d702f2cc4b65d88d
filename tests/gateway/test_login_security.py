"""Login lock-outs and the client address (issue 13 item 11), over real sockets to an in-process
gateway: only failures count, per user name from any address and per address across user
names; X-Forwarded-For is believed only from a trusted proxy, and every limit keys on the
address it yields."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest

from gateway.client_address import client_address_from
from gateway.settings import Settings
from tests.support.desk import PASSWORD, add_user

LOGIN_FAILURES_PER_USER = Settings().login_failures_per_user  # 10
LOGIN_FAILURES_PER_ADDRESS = Settings().login_failures_per_address  # 30
FORM = {"kind": "complaint", "description": "楼下餐馆油烟扰民，晚上十点后仍在营业", "district": "海淀区",
        "address": "中关村街道某小区", "phone": "13812345678", "name": "李四"}


async def _login(http: aiohttp.ClientSession, base: str, username: str, password: str, via: str | None = None) -> tuple[int, dict, dict]:
    headers = {"X-Forwarded-For": via} if via else {}
    async with http.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password}, headers=headers) as r:
        return r.status, await r.json(), dict(r.headers)


async def test_one_password_sprayed_over_forty_user_names_from_one_address_is_slowed(make_app, redis_url: str, http) -> None:
    base = await make_app()
    await add_user(redis_url, "agent1", "agent")
    statuses = [(await _login(http, base, f"user{i:02d}", "Spring2026!!"))[0] for i in range(40)]
    assert statuses[:LOGIN_FAILURES_PER_ADDRESS] == [401] * LOGIN_FAILURES_PER_ADDRESS
    assert set(statuses[LOGIN_FAILURES_PER_ADDRESS:]) == {429}, statuses
    # Locked before the password is looked at: even the right one is refused from this address.
    status, body, headers = await _login(http, base, "agent1", PASSWORD)
    assert status == 429 and body["error"] == "login_locked"
    assert body["message"] == "登录失败次数过多，请 15 分钟后再试"
    assert 880 <= int(headers["Retry-After"]) <= 900


async def test_ten_failures_on_one_name_from_ten_addresses_lock_that_name(make_app, redis_url: str, http) -> None:
    base = await make_app(trusted_proxies="127.0.0.1")
    await add_user(redis_url, "agent1", "agent")
    await add_user(redis_url, "agent2", "agent")
    for i in range(LOGIN_FAILURES_PER_USER):
        status, body, _ = await _login(http, base, "agent1", f"guess-{i}-password", via=f"203.0.113.{i + 1}")
        assert status == 401, body
    # The right password from a fresh address: the name is locked whatever the address.
    status, body, headers = await _login(http, base, "agent1", PASSWORD, via="198.51.100.77")
    assert status == 429, body
    assert body["error"] == "login_locked" and "登录失败次数过多" in body["message"] and int(headers["Retry-After"]) > 0
    # Only that name: another user from one of the same addresses logs in.
    status, body, _ = await _login(http, base, "agent2", PASSWORD, via="203.0.113.1")
    assert status == 200, body


async def test_a_burst_of_concurrent_guesses_gets_no_more_tries_than_the_limit(make_app, redis_url: str, http) -> None:
    """All at once, so that no failure is counted before the others have been let in, unless the
    check and the count are one step."""
    base = await make_app()
    await add_user(redis_url, "agent1", "agent")
    statuses = await asyncio.gather(*(_login(http, base, "agent1", f"guess-{i:03d}-password") for i in range(60)))
    codes = sorted(status for status, _, _ in statuses)
    assert codes.count(401) == LOGIN_FAILURES_PER_USER, codes
    assert codes.count(429) == 60 - LOGIN_FAILURES_PER_USER, codes


async def test_successful_logins_never_lock(make_app, redis_url: str, http) -> None:
    base = await make_app()
    await add_user(redis_url, "agent1", "agent")
    for _ in range(LOGIN_FAILURES_PER_USER - 1):
        assert (await _login(http, base, "agent1", "wrong-password-x"))[0] == 401
    for _ in range(LOGIN_FAILURES_PER_USER + 5):
        status, body, _ = await _login(http, base, "agent1", PASSWORD)
        assert status == 200, body


async def test_spoofed_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit(make_app, redis_url: str, http) -> None:
    base = await make_app(rate_limit_ip_per_hour=2)  # no trusted proxies: the peer is the client
    statuses = [(await _login(http, base, f"user{i:02d}", "Spring2026!!", via=f"192.0.2.{i + 1}"))[0]
                for i in range(LOGIN_FAILURES_PER_ADDRESS + 1)]
    assert statuses[-1] == 429, statuses
    for i, expected in enumerate((201, 201, 429)):
        async with http.post(f"{base}/api/v1/requests", json={**FORM, "description": f"第{i}个诉求：楼下餐馆油烟扰民"},
                             headers={"X-Forwarded-For": f"192.0.2.{100 + i}"}) as r:
            assert r.status == expected, await r.text()


async def test_forwarded_for_from_a_trusted_proxy_is_the_client_for_intake_limits(make_app, http) -> None:
    base = await make_app(rate_limit_ip_per_hour=2, trusted_proxies="127.0.0.1, 10.0.0.0/8")

    async def submit(chain: str, n: int) -> int:
        async with http.post(f"{base}/api/v1/requests", json={**FORM, "description": f"第{n}个诉求：楼下餐馆油烟扰民"},
                             headers={"X-Forwarded-For": chain}) as r:
            return r.status

    # A citizen at 198.51.100.1 (what it writes itself, on the left, is ignored), through two proxies.
    assert [await submit(f"6.6.6.{n}, 198.51.100.1, 10.1.2.3", n) for n in range(3)] == [201, 201, 429]
    # Another citizen behind the same proxy has a bucket of their own.
    assert await submit("198.51.100.2", 9) == 201


@pytest.mark.parametrize(("peer", "header", "trusted", "expected"), [
    ("127.0.0.1", ["198.51.100.1"], "", "127.0.0.1"),                        # nobody trusted: the peer
    ("203.0.113.9", ["198.51.100.1"], "127.0.0.1", "203.0.113.9"),           # peer not trusted
    ("127.0.0.1", ["1.1.1.1, 198.51.100.1"], "127.0.0.1", "198.51.100.1"),   # right-most is the client
    ("127.0.0.1", ["1.1.1.1, 198.51.100.1, 10.0.0.5"], "127.0.0.1,10.0.0.0/8", "198.51.100.1"),
    ("127.0.0.1", ["1.1.1.1", "198.51.100.1"], "127.0.0.1", "198.51.100.1"),  # two header lines
    ("127.0.0.1", [], "127.0.0.1", "127.0.0.1"),                               # proxy's own request
    ("127.0.0.1", ["10.0.0.5"], "127.0.0.1,10.0.0.0/8", "10.0.0.5"),          # all trusted: the left-most hop
    ("127.0.0.1", ["1.1.1.1, not-an-ip"], "127.0.0.1", "127.0.0.1"),          # garbage: stop at the last trusted hop
    ("::ffff:127.0.0.1", ["[2001:db8::7]:4711"], "127.0.0.1", "2001:db8::7"),
    ("127.0.0.1", ["198.51.100.1:5555"], "127.0.0.0/8", "198.51.100.1"),
])
def test_client_address(peer: str, header: list[str], trusted: str, expected: str) -> None:
    assert client_address_from(peer, header, trusted) == expected


def test_bad_trusted_proxies_setting_is_refused(tmp_path) -> None:
    from gateway.settings import Settings

    with pytest.raises(ValueError, match="HOTLINE_TRUSTED_PROXIES"):
        Settings(trusted_proxies="10.0.0.0/8, proxy.example")
