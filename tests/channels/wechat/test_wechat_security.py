"""Replays and downgrades against the WeChat callback (issue 13, item 5), and `hotline wechat-peer`.

A push's query signature covers token, timestamp and nonce but not the body, so a captured
triple plus a user's OpenID must not let anyone file tickets in that user's name or read the
user's ticket list back. Everything here runs the real app in-process on a real socket, with
the protocol peer signing and encrypting as WeChat does."""
from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from channels.wechat.accounts import load_accounts
from peers import wechat as wx
from tests.channels.wechat.test_wechat import OPENID, configure_account, stored, wechat_tickets
from tests.support.paths import REPO

ROOT = REPO
Start = Callable[..., Awaitable[tuple[wx.WeChatPeer, str]]]


@pytest.fixture
async def start(make_app: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Start]:
    """start(mode) -> (peer, base): account `main` in that mode (None: MODE unset) behind a fresh gateway."""
    peers: list[wx.WeChatPeer] = []

    async def go(mode: str | None, **overrides: Any) -> tuple[wx.WeChatPeer, str]:
        account = configure_account(monkeypatch, mode)
        peer = wx.WeChatPeer(account, "")
        await peer.start()
        peers.append(peer)
        base = await make_app(wechat_accounts="main", wechat_api_base=peer.api_base, ticket_prefix="WX", **overrides)
        peer.gateway_url = f"{base}/wechat/main"
        return peer, base

    yield go
    for peer in peers:
        await peer.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def raw_post_without_body(base: str, query: dict[str, str], declared: int) -> tuple[int, bytes]:
    """POST headers announcing `declared` body bytes, then send none: only a gateway that answers
    before reading the body answers at all."""
    from urllib.parse import urlencode, urlsplit

    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write((f"POST /wechat/main?{urlencode(query)} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                      f"Content-Type: text/xml\r\nContent-Length: {declared}\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")))
        body = await asyncio.wait_for(reader.readexactly(length), 3)
        return int(head.split(b" ", 2)[1]), body
    finally:
        writer.close()


# --------------------------------------------------------------------------- timestamp window

@pytest.mark.parametrize("age", [-400, 400, 10 * 24 * 3600])
async def test_a_triple_outside_the_window_is_refused_before_the_body_is_read(start: Start, redis: Redis, age: int) -> None:
    peer, base = await start("compatible")
    before = await stored(redis)
    old = str(int(time.time()) - age)
    body, query = peer.build_push(wx.text(OPENID, "我要反映：楼下噪音扰民", msg_id=101), "plain", timestamp=old)
    status, answer = await raw_post_without_body(base, query, declared=len(body))
    assert status == 403 and b"stale_timestamp" in answer
    status, text = await peer.push_raw(body, query)  # and with the body sent: the same refusal
    assert status == 403 and "stale_timestamp" in text
    assert await stored(redis) == before and await wechat_tickets(redis) == []


async def test_a_triple_inside_the_window_is_taken_and_the_window_is_configurable(start: Start, redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_WECHAT_TIMESTAMP_WINDOW_SECONDS", "60")
    peer, _ = await start("safe")
    ok = await peer.push(wx.text(OPENID, "居住证怎么办理", msg_id=111), "safe", timestamp=str(int(time.time()) - 50))
    ok.check()
    assert ok.reply is not None and ok.encrypted
    late = await peer.push(wx.text(OPENID, "居住证怎么办理", msg_id=112), "safe", timestamp=str(int(time.time()) - 120))
    assert late.status == 403 and "stale_timestamp" in late.body
    bad = await peer.push(wx.text(OPENID, "居住证怎么办理", msg_id=113), "safe", timestamp="1e9")
    assert bad.status == 403 and "invalid_timestamp" in bad.body


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe", None])
async def test_server_verification_works_in_every_mode_and_only_fresh(start: Start, mode: str | None) -> None:
    peer, _ = await start(mode)
    assert await peer.verify("echo-42") == (200, "echo-42")
    status, body = await peer.verify("echo-42", timestamp=str(int(time.time()) - 3600))
    assert status == 403 and "stale_timestamp" in body


async def test_a_verification_triple_cannot_carry_a_push(start: Start, redis: Redis) -> None:
    """The verification GET is signed like a push: its triple (in any access log) must not
    become a plaintext push in the user's name."""
    peer, _ = await start("plaintext")
    ts, nonce = str(int(time.time())), "verifynonce1"
    assert await peer.verify("echo-7", timestamp=ts, nonce=nonce) == (200, "echo-7")
    assert await peer.verify("echo-7", timestamp=ts, nonce=nonce) == (200, "echo-7")  # WeChat may ask twice
    body, query = peer.build_push(wx.text(OPENID, "我要反映：某某单位违规施工", msg_id=301), "plain", timestamp=ts, nonce=nonce)
    status, text = await peer.push_raw(body, query)
    assert status == 403 and "replayed_nonce" in text, text
    assert await wechat_tickets(redis) == []


# --------------------------------------------------------------------------- nonce memory

@pytest.mark.parametrize("mode", ["plaintext", "compatible"])
async def test_the_same_triple_with_another_body_is_refused_and_nothing_is_stored(start: Start, redis: Redis, mode: str) -> None:
    peer, _ = await start(mode)
    body, query = peer.build_push(wx.text(OPENID, "居住证怎么办理", msg_id=201), "plain")
    status, _ = await peer.push_raw(body, query)
    assert status == 200
    before, tickets_before = await stored(redis), len(await wechat_tickets(redis))
    # An attacker who saw that push (its query is in any access log) writes their own bodies under it:
    # file a report in the user's name, or read the user's tickets back through 查询进度.
    for forged in (wx.text(OPENID, "我要反映：某某单位违规施工", msg_id=202),
                   wx.event(OPENID, "CLICK", EventKey="MENU_PROGRESS"),
                   wx.text("oK3x9-SomeoneElse0000000000001", "居住证怎么办理", msg_id=203)):
        status, text = await peer.push_raw(forged.encode(), query)
        assert status == 403 and "replayed_nonce" in text, text
    assert await stored(redis) == before
    assert len(await wechat_tickets(redis)) == tickets_before
    remembered = [k for k in await redis.keys("*wx:nonce:main:*")]
    assert len(remembered) == 1 and 0 < await redis.ttl(remembered[0]) <= 2 * 300 + 60


async def test_an_encrypted_triple_cannot_carry_a_plaintext_body_in_compatible_mode(start: Start, redis: Redis) -> None:
    peer, _ = await start("compatible")
    result = await peer.push(wx.text(OPENID, "居住证怎么办理", msg_id=211), "compat")
    result.check()
    before = await stored(redis)
    downgraded = {k: v for k, v in result.query.items() if k not in ("encrypt_type", "msg_signature")}
    status, text = await peer.push_raw(wx.text(OPENID, "居住证怎么办理", msg_id=211).encode(), downgraded)
    assert status == 403 and "replayed_nonce" in text
    assert await stored(redis) == before


@pytest.mark.parametrize("mode, push_mode", [("plaintext", "plain"), ("compatible", "compat"), ("safe", "safe")])
async def test_a_wechat_retry_of_the_same_push_still_gets_success_and_no_second_ticket(start: Start, redis: Redis, mode: str, push_mode: str) -> None:
    """Regression guard for the nonce memory: WeChat re-sends the same push under the same triple."""
    peer, _ = await start(mode)
    results = await peer.push_with_retries(wx.text(OPENID, "请问紧急情况打什么电话？着火了", msg_id=301), push_mode, retries=3)
    assert [r.status for r in results] == [200] * 4
    assert results[0].reply is not None and "119" in results[0].reply["Content"]
    assert all(r.is_success_literal for r in results[1:])
    assert len(await wechat_tickets(redis)) == 1


async def test_a_retry_that_wechat_encrypted_afresh_is_still_a_retry(start: Start, redis: Redis) -> None:
    peer, _ = await start("safe")
    xml = wx.text(OPENID, "请问紧急情况打什么电话？着火了", msg_id=302)
    ts, nonce = str(int(time.time())), "1234567890"
    first = await peer.push(xml, "safe", timestamp=ts, nonce=nonce)
    again = await peer.push(xml, "safe", timestamp=ts, nonce=nonce)  # new random prefix, new msg_signature
    assert first.request_body != again.request_body
    assert first.reply is not None and again.status == 200 and again.is_success_literal
    other = await peer.push(wx.text(OPENID, "我要反映：某某单位违规施工", msg_id=303), "safe", timestamp=ts, nonce=nonce)
    assert other.status == 403 and "replayed_nonce" in other.body
    assert len(await wechat_tickets(redis)) == 1


# --------------------------------------------------------------------------- modes

@pytest.mark.parametrize("mode", ["safe", None])
async def test_a_safe_mode_account_refuses_plaintext_pushes_and_takes_encrypted_ones(start: Start, redis: Redis, mode: str | None) -> None:
    peer, _ = await start(mode)  # None: MODE unset, safe is the default
    before = await stored(redis)
    plain = await peer.push(wx.text(OPENID, "我要反映：楼下噪音扰民", msg_id=401), "plain")
    assert plain.status == 403 and "encryption_required" in plain.body
    progress = await peer.push(wx.event(OPENID, "CLICK", EventKey="MENU_PROGRESS"), "plain")
    assert progress.status == 403 and "encryption_required" in progress.body
    # the downgrade: the triple of a genuine encrypted push, its encryption stripped, a forged body
    body, query = peer.build_push(wx.text(OPENID, "居住证怎么办理", msg_id=402), "safe")
    downgraded = {k: v for k, v in query.items() if k not in ("encrypt_type", "msg_signature")}
    status, text = await peer.push_raw(wx.text(OPENID, "我要反映：某某单位违规施工", msg_id=403).encode(), downgraded)
    assert status == 403 and "encryption_required" in text
    assert await stored(redis) == before
    for push_mode in ("safe", "compat"):
        ok = await peer.push(wx.text(OPENID, "请问紧急情况打什么电话？着火了", msg_id=404 + len(push_mode)), push_mode)
        ok.check()
        assert ok.encrypted and "119" in ok.reply["Content"]


async def test_a_plaintext_account_takes_plaintext_and_refuses_encrypted_pushes(start: Start, redis: Redis) -> None:
    peer, _ = await start("plaintext")
    ok = await peer.push(wx.text(OPENID, "请问紧急情况打什么电话？着火了", msg_id=501), "plain")
    ok.check()
    assert not ok.encrypted and "119" in ok.reply["Content"]
    before = await stored(redis)
    for push_mode in ("safe", "compat"):
        refused = await peer.push(wx.text(OPENID, "居住证怎么办理", msg_id=502 + len(push_mode)), push_mode)
        assert refused.status == 400 and "unexpected_encryption" in refused.body
    assert await stored(redis) == before


async def test_a_compatible_account_takes_both_and_answers_in_kind(start: Start) -> None:
    peer, _ = await start("compatible")
    for n, push_mode in enumerate(("plain", "compat", "safe")):
        result = await peer.push(wx.text(OPENID, "请问紧急情况打什么电话？着火了", msg_id=601 + n), push_mode)
        result.check()
        assert result.encrypted == (push_mode != "plain") and "119" in result.reply["Content"]


@pytest.mark.parametrize("value", ["secure", "aes", "明文", "safe-mode"])
def test_a_bad_mode_is_a_clear_configuration_error(value: str) -> None:
    env = wx.Account.generate().env("main", value)
    with pytest.raises(ValueError) as err:
        load_accounts("main", env)
    assert "HOTLINE_WECHAT_MAIN_MODE" in str(err.value) and "plaintext, compatible or safe" in str(err.value) and repr(value) in str(err.value)
    assert load_accounts("main", {**env, "HOTLINE_WECHAT_MAIN_MODE": " Compatible "})["main"].mode == "compatible"
    assert load_accounts("main", {k: v for k, v in env.items() if not k.endswith("_MODE")})["main"].mode == "safe"


async def test_a_gateway_with_a_bad_mode_does_not_start(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    configure_account(monkeypatch, "encrypted")
    with pytest.raises(ValueError, match="HOTLINE_WECHAT_MAIN_MODE must be plaintext, compatible or safe"):
        await make_app(wechat_accounts="main")


# --------------------------------------------------------------------------- hotline wechat-peer

async def run_cli(env: dict[str, str], *argv: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "wechat-peer", *argv, cwd=ROOT,
        env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize("mode", ["safe", "plaintext"])
async def test_the_wechat_peer_command_sends_to_a_running_gateway_and_prints_the_reply(start: Start, redis: Redis, mode: str) -> None:
    peer, base = await start(mode)
    env = peer.account.env("main", mode)
    openid = "oK3x9-CliUser000000000000001"
    code, out, err = await run_cli(env, "--gateway", base, "--account", "main", "--openid", openid, "text", "请问紧急情况打什么电话？着火了")
    assert code == 0, err
    assert "119" in out and ("encrypted" if mode == "safe" else "plaintext") in err
    tickets = await wechat_tickets(redis)
    assert [t.requester.wechat_openid for t in tickets] == [openid]
    code, out, err = await run_cli(env, "--gateway", base, "--openid", openid, "event", "click", "MENU_REPORT")
    assert code == 0 and "描述" in out, err
    code, out, err = await run_cli(env, "--gateway", base, "--openid", openid, "location", "39.9042", "116.4074", "--label", "东城区示例路1号")
    assert code == 0 and out.strip(), err
    code, out, err = await run_cli(env, "--gateway", base, "verify", "echo-cli")
    assert code == 0 and out.strip() == "echo-cli", err
    # the account's mode is what the command sends in; a mismatch is shown as WeChat would see it
    code, out, err = await run_cli(env, "--gateway", base, "--mode", "plain" if mode == "safe" else "safe", "text", "你好")
    assert code == 1 and ("encryption_required" if mode == "safe" else "unexpected_encryption") in err
    code, out, err = await run_cli({**env, "HOTLINE_WECHAT_MAIN_TOKEN": ""}, "--gateway", base, "text", "你好")
    assert code == 2 and "HOTLINE_WECHAT_MAIN_TOKEN" in err
