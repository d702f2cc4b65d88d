"""The WeChat peer must be byte-exact: its crypto and signatures are cross-checked against wechatpy
(the gateway's library) both ways, its pushes go over real sockets to a tiny wechatpy-based
gateway, and its api.weixin.qq.com stand-in is driven by an aiohttp client and by wechatpy's own
WeChatClient. Waits are on conditions, never fixed sleeps."""
from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from wechatpy import create_reply, parse_message
from wechatpy.client import WeChatClient
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException, WeChatClientException
from wechatpy.utils import check_signature

from peers import wechat as wx
from peers.wechat import Account, PushResult, ReplyError, WeChatPeer

ACCOUNT = Account(token="hotline12345", appid="wx5a1b2c3d4e5f6a7b",
                  encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
                  appsecret="0123456789abcdef0123456789abcdef")
OPENID = "oK3x9-ExampleOpenId000000001"
OTHER = "oK3x9-ExampleOpenId000000002"


def wcrypto(account: Account = ACCOUNT) -> WeChatCrypto:
    return WeChatCrypto(account.token, account.encoding_aes_key, account.appid)


# ============================================================================================
# crypto and signatures, against wechatpy
# ============================================================================================

SAMPLES = ["", "a", "<xml>中文</xml>", wx.text(OPENID, "小区路灯不亮", 24571000000000001),
           *("x" * n for n in (11, 12, 13, 27, 28, 29, 43, 44, 45, 100, 1000))]


def test_encrypt_is_byte_identical_to_wechatpy_with_the_same_random(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: "abcdefghijklmnop")
    for xml in SAMPLES:
        theirs = PrpCrypto(ACCOUNT.aes_key).encrypt(xml, ACCOUNT.appid).decode()
        assert wx.encrypt(ACCOUNT, xml, b"abcdefghijklmnop") == theirs


@pytest.mark.parametrize("xml", SAMPLES)
def test_our_encrypt_is_decrypted_by_wechatpy(xml: str) -> None:
    enc = wx.encrypt(ACCOUNT, xml)
    body = wx.safe_envelope("gh_0a1b2c3d4e5f", enc)
    assert wcrypto().decrypt_message(body, wx.msg_signature(ACCOUNT.token, "1718000000", "123456", enc),
                                     "1718000000", "123456") == xml


@pytest.mark.parametrize("xml", SAMPLES)
def test_wechatpy_encrypt_is_decrypted_and_signature_checked_by_us(xml: str) -> None:
    envelope = wcrypto().encrypt_message(xml, "998877", "1718000001")
    outer = wx.parse_xml(envelope)
    assert outer["MsgSignature"] == wx.msg_signature(ACCOUNT.token, "1718000001", "998877", outer["Encrypt"])
    assert wx.decrypt(ACCOUNT, outer["Encrypt"]) == xml


def test_padding_is_pkcs7_to_32_bytes() -> None:
    for n in range(0, 80):
        raw = base64.b64decode(wx.encrypt(ACCOUNT, "y" * n))
        assert len(raw) % 32 == 0
        assert len(raw) >= 16 + 4 + n + len(ACCOUNT.appid) + 1
    assert wx.pkcs7_pad(b"a" * 32) == b"a" * 32 + bytes([32]) * 32
    assert wx.pkcs7_pad(b"a" * 31) == b"a" * 31 + b"\x01"
    assert wx.pkcs7_pad(b"a" * 17) == b"a" * 17 + bytes([15]) * 15  # 16-byte PKCS#7 would add 15 bytes of 0x0f too,
    assert wx.pkcs7_pad(b"a" * 16) == b"a" * 16 + bytes([16]) * 16  # but a whole 16-byte block of 0x10 here
    assert wx.pkcs7_unpad(wx.pkcs7_pad(b"abc")) == b"abc"
    for bad in (b"a" * 31 + b"\x00", b"a" * 31 + b"\x21", b"a" * 30 + b"\x01\x02"):
        with pytest.raises(ValueError):
            wx.pkcs7_unpad(bad)


def test_buffer_layout_random_length_msg_appid() -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key = base64.b64decode(ACCOUNT.encoding_aes_key + "=")
    raw = base64.b64decode(wx.encrypt(ACCOUNT, "<xml>hi</xml>", b"R" * 16))
    d = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    buf = d.update(raw) + d.finalize()
    pad = buf[-1]
    assert buf[:16] == b"R" * 16
    assert buf[16:20] == (13).to_bytes(4, "big")
    assert buf[20:33] == b"<xml>hi</xml>"
    assert buf[33:-pad] == ACCOUNT.appid.encode()


def test_appid_trailer_is_checked_both_ways() -> None:
    other = Account(ACCOUNT.token, "wxffffffffffffffff", ACCOUNT.encoding_aes_key, ACCOUNT.appsecret)
    enc = wx.encrypt(other, "<xml/>")
    with pytest.raises(InvalidAppIdException):
        wcrypto().decrypt_message(wx.safe_envelope("gh", enc), wx.msg_signature(ACCOUNT.token, "1", "2", enc), "1", "2")
    theirs = wx.parse_xml(wcrypto(other).encrypt_message("<xml/>", "2", "1"))["Encrypt"]
    with pytest.raises(ValueError, match="appid"):
        wx.decrypt(ACCOUNT, theirs)
    for junk in ("not base64!!", base64.b64encode(b"0123456789").decode(), ""):
        with pytest.raises(ValueError):
            wx.decrypt(ACCOUNT, junk)


def test_signatures_agree_with_wechatpy() -> None:
    for ts, nonce in (("1718000000", "1320562132"), ("0", "a"), ("1718000000", "中文nonce")):
        sig = wx.signature(ACCOUNT.token, ts, nonce)
        assert re.fullmatch(r"[0-9a-f]{40}", sig)
        check_signature(ACCOUNT.token, sig, ts, nonce)  # raises if wrong
        with pytest.raises(InvalidSignatureException):
            check_signature(ACCOUNT.token, wx._corrupt(sig), ts, nonce)
        with pytest.raises(InvalidSignatureException):
            check_signature("othertoken", sig, ts, nonce)
    enc = wx.encrypt(ACCOUNT, "<xml/>")
    with pytest.raises(InvalidSignatureException):  # wechatpy refuses a msg_signature over another Encrypt
        wcrypto().decrypt_message(wx.safe_envelope("gh", enc),
                                  wx.msg_signature(ACCOUNT.token, "1", "2", enc + "x"), "1", "2")


def test_account_checks_shapes() -> None:
    with pytest.raises(ValueError):
        Account("tok", "wx1", "short", "s")
    with pytest.raises(ValueError):
        Account("t", "wx1", "a" * 43, "s")  # token 3-32
    acc = Account.generate()
    assert len(acc.aes_key) == 32 and wx.decrypt(acc, wx.encrypt(acc, "ok")) == "ok"


# ============================================================================================
# message builders, parsed by wechatpy
# ============================================================================================

def test_builders_write_wechat_xml_that_wechatpy_parses() -> None:
    xml = wx.text(OPENID, "小区路灯不亮 ]]> <b>", 24571000000000001, create_time=1718000000)
    assert xml.startswith("<xml><ToUserName><![CDATA[gh_0a1b2c3d4e5f]]></ToUserName>\n")
    assert "<CreateTime>1718000000</CreateTime>" in xml and "<MsgId>24571000000000001</MsgId>" in xml
    m = parse_message(xml)
    assert (m.type, m.content, m.id, m.source, m.target, m.time) == (
        "text", "小区路灯不亮 ]]> <b>", 24571000000000001, OPENID, "gh_0a1b2c3d4e5f", 1718000000)

    m = parse_message(wx.image(OPENID, "http://127.0.0.1/pic/a.jpg", "mEdIa-1", 2))
    assert (m.type, m.image, m.media_id, m.id) == ("image", "http://127.0.0.1/pic/a.jpg", "mEdIa-1", 2)
    m = parse_message(wx.voice(OPENID, "mEdIa-2", 3, recognition="我要反映噪音扰民"))
    assert (m.type, m.media_id, m.format, m.recognition) == ("voice", "mEdIa-2", "amr", "我要反映噪音扰民")
    assert "Recognition" not in wx.voice(OPENID, "m", 4, fmt="speex")
    m = parse_message(wx.video(OPENID, "v1", "t1", 5))
    assert (m.type, m.media_id, m.thumb_media_id) == ("video", "v1", "t1")
    assert parse_message(wx.shortvideo(OPENID, "v2", "t2", 6)).type == "shortvideo"
    xml = wx.location(OPENID, 39.9042, 116.4074, 15, "东城区示例路1号", 7)
    assert "<Location_X>39.904200</Location_X>" in xml and "<Scale>15</Scale>" in xml
    m = parse_message(xml)
    assert (float(m.location_x), float(m.location_y), int(m.scale), m.label) == (39.9042, 116.4074, 15, "东城区示例路1号")
    m = parse_message(wx.link(OPENID, "标题", "描述", "https://example.invalid/a", 8))
    assert (m.type, m.title, m.description, m.url) == ("link", "标题", "描述", "https://example.invalid/a")
    xml = wx.text(OPENID, "x", 9, MsgDataId=2247483650, Idx=1)
    assert xml.index("<MsgId>") < xml.index("<MsgDataId>2247483650</MsgDataId>") < xml.index("<Idx>1</Idx>")

    m = parse_message(wx.event(OPENID, "subscribe"))
    assert (m.event, m.id) == ("subscribe", 0) and "MsgId" not in wx.event(OPENID, "subscribe")
    m = parse_message(wx.event(OPENID, "subscribe", EventKey="qrscene_hotline01", Ticket="TICKET"))
    assert (m.event, m.scene_id, m.ticket) == ("subscribe_scan", "hotline01", "TICKET")
    m = parse_message(wx.event(OPENID, "SCAN", EventKey="123", Ticket="T"))
    assert (m.event, m.scene_id, m.ticket) == ("scan", "123", "T")
    m = parse_message(wx.event(OPENID, "CLICK", EventKey="MENU_REPORT"))
    assert (m.event, m.key) == ("click", "MENU_REPORT")
    m = parse_message(wx.event(OPENID, "VIEW", EventKey="https://example.invalid/m"))
    assert (m.event, m.url) == ("view", "https://example.invalid/m")
    xml = wx.event(OPENID, "LOCATION", Latitude=39.9042, Longitude=116.4074, Precision=30.0)
    assert "<Latitude>39.904200</Latitude>" in xml
    m = parse_message(xml)
    assert (m.event, m.latitude, m.longitude, m.precision) == ("location", 39.9042, 116.4074, 30.0)
    assert parse_message(wx.event(OPENID, "unsubscribe")).event == "unsubscribe"


def test_generated_msg_ids_are_unique_64_bit() -> None:
    ids = {parse_message(wx.text(OPENID, "x")).id for _ in range(200)}
    assert len(ids) == 200 and all(0 < i < 2**63 for i in ids)


# ============================================================================================
# a tiny wechatpy gateway receiving the peer's pushes
# ============================================================================================

class MiniGateway:
    """What a developer server built on wechatpy does with a push; `behaviour` picks the answer."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.crypto = wcrypto(account)
        self.behaviour = "reply"
        self.requests: list[dict[str, Any]] = []
        self.messages: list[Any] = []
        self.release = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/wechat/main", self.get)
        app.router.add_post("/wechat/main", self.post)
        return app

    async def get(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            check_signature(self.account.token, q["signature"], q["timestamp"], q["nonce"])
        except (InvalidSignatureException, KeyError):
            return web.Response(status=403, text="bad signature")
        return web.Response(text=q["echostr"])

    async def post(self, request: web.Request) -> web.Response:
        raw = await request.read()
        q = request.query
        self.requests.append({"query_string": request.query_string, "query": dict(q), "body": raw,
                              "content_type": request.headers.get("Content-Type")})
        if self.behaviour == "slow":
            await self.release.wait()
            return web.Response(text="success")
        try:
            check_signature(self.account.token, q["signature"], q["timestamp"], q["nonce"])
        except (InvalidSignatureException, KeyError):
            return web.Response(status=403, text="bad signature")
        if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
            return web.Response(status=400, text="refused")
        encrypted = q.get("encrypt_type") == "aes"
        if encrypted:
            try:
                xml = self.crypto.decrypt_message(raw, q["msg_signature"], q["timestamp"], q["nonce"])
            except (InvalidSignatureException, InvalidAppIdException, KeyError):
                return web.Response(status=403, text="bad msg_signature")
        else:
            xml = raw.decode()
        msg = parse_message(xml)
        self.messages.append(msg)
        if self.behaviour in ("success", "empty"):
            return web.Response(text="success" if self.behaviour == "success" else "")
        content = f"已收到 {msg.type}" + (f": {msg.content}" if msg.type == "text" else "")
        reply = create_reply(content, msg).render()
        if self.behaviour == "wrong_to":
            reply = reply.replace(msg.source, OTHER)
        if encrypted and self.behaviour != "plain_reply":
            body = self.crypto.encrypt_message(reply, q["nonce"], q["timestamp"])
            if self.behaviour == "tamper":
                sig = wx.parse_xml(body)["MsgSignature"]
                body = body.replace(sig, wx._corrupt(sig))
            return web.Response(text=body, content_type="application/xml")
        return web.Response(text=reply, content_type="application/xml")


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[MiniGateway, str]]:
    gw = MiniGateway(ACCOUNT)
    server = TestServer(gw.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield gw, str(server.make_url("/wechat/main"))
    finally:
        gw.release.set()
        await server.close()


@pytest.fixture
async def peer(gateway: tuple[MiniGateway, str]) -> AsyncIterator[WeChatPeer]:
    async with WeChatPeer(ACCOUNT, gateway[1]) as p:
        yield p


async def test_verify_get(gateway: tuple[MiniGateway, str], peer: WeChatPeer) -> None:
    assert await peer.verify("1234567890123456789") == (200, "1234567890123456789")
    status, _ = await peer.verify(bad_signature=True)
    assert status == 403


@pytest.mark.parametrize("mode", ["plain", "compat", "safe"])
async def test_push_in_each_mode_gets_a_verified_passive_reply(
        mode: wx.Mode, gateway: tuple[MiniGateway, str], peer: WeChatPeer) -> None:
    gw, _ = gateway
    xml = wx.text(OPENID, "小区路灯不亮", 24571000000000001)
    r = await peer.push(xml, mode)
    assert r.ok, r.error
    r.check()
    assert r.status == 200 and not r.is_success_literal
    assert r.encrypted is (mode != "plain")
    assert r.reply is not None
    assert r.reply["MsgType"] == "text" and r.reply["Content"] == "已收到 text: 小区路灯不亮"
    assert (r.reply["ToUserName"], r.reply["FromUserName"]) == (OPENID, "gh_0a1b2c3d4e5f")
    assert gw.messages[-1].content == "小区路灯不亮" and gw.messages[-1].id == 24571000000000001

    req = gw.requests[-1]
    assert req["content_type"] == "text/xml"
    keys = list(req["query"])
    body = req["body"].decode()
    if mode == "plain":
        assert keys == ["signature", "timestamp", "nonce", "openid"]
        assert body == xml
    else:
        assert keys == ["signature", "timestamp", "nonce", "openid", "encrypt_type", "msg_signature"]
        assert req["query"]["encrypt_type"] == "aes"
        outer = wx.parse_xml(body)
        assert wx.decrypt(ACCOUNT, outer["Encrypt"]) == xml
        if mode == "safe":
            assert list(outer) == ["ToUserName", "Encrypt"] and outer["ToUserName"] == "gh_0a1b2c3d4e5f"
        else:
            assert outer["Content"] == "小区路灯不亮" and list(outer)[-1] == "Encrypt"
    assert req["query"]["openid"] == OPENID
    check_signature(ACCOUNT.token, req["query"]["signature"], req["query"]["timestamp"], req["query"]["nonce"])
    assert re.fullmatch(r"\d{10}", req["query"]["nonce"])
    assert abs(int(req["query"]["timestamp"]) - time.time()) < 60


async def test_every_builder_reaches_wechatpy_through_safe_mode(
        gateway: tuple[MiniGateway, str], peer: WeChatPeer) -> None:
    gw, _ = gateway
    pushes = [
        wx.image(OPENID, peer.pic_url("a.jpg"), "m1", 11), wx.voice(OPENID, "m2", 12, recognition="噪音"),
        wx.video(OPENID, "m3", "t3", 13), wx.shortvideo(OPENID, "m4", "t4", 14),
        wx.location(OPENID, 39.9, 116.4, 15, "东城区"), wx.link(OPENID, "t", "d", "https://x.invalid", 16),
        wx.event(OPENID, "subscribe", EventKey="qrscene_hotline01", Ticket="T"), wx.event(OPENID, "CLICK", EventKey="K"),
        wx.event(OPENID, "LOCATION", Latitude=39.9, Longitude=116.4, Precision=30.0),
    ]
    for xml in pushes:
        (await peer.push(xml, "safe")).check()
    got = [(m.type, getattr(m, "event", None)) for m in gw.messages]
    assert got == [("image", None), ("voice", None), ("video", None), ("shortvideo", None), ("location", None),
                   ("link", None), ("event", "subscribe_scan"), ("event", "click"), ("event", "location")]
    assert gw.messages[1].recognition == "噪音"


@pytest.mark.parametrize("mode", ["compat", "safe"])
async def test_bad_signatures_are_refused_by_wechatpy(
        mode: wx.Mode, gateway: tuple[MiniGateway, str], peer: WeChatPeer) -> None:
    r = await peer.push(wx.text(OPENID, "x", 1), mode, bad_signature=True)
    assert (r.status, r.error) == (403, "HTTP 403")
    r = await peer.push(wx.text(OPENID, "x", 2), mode, bad_msg_signature=True)
    assert r.status == 403 and not r.ok
    with pytest.raises(ReplyError):
        r.check()
    assert gateway[0].messages == []


async def test_a_wrong_reply_msg_signature_is_flagged(gateway: tuple[MiniGateway, str], peer: WeChatPeer) -> None:
    gateway[0].behaviour = "tamper"
    r = await peer.push(wx.text(OPENID, "x", 1), "safe")
    assert r.encrypted and r.reply is None and "MsgSignature" in (r.error or "")
    with pytest.raises(ReplyError):
        r.check()


async def test_plaintext_reply_in_safe_mode_is_flagged_but_fine_in_compat(
        gateway: tuple[MiniGateway, str], peer: WeChatPeer) -> None:
    gateway[0].behaviour = "plain_reply"
    r = await peer.push(wx.text(OPENID, "x", 1), "safe")
    assert r.reply is not None and not r.encrypted and "safe mode" in (r.error or "")
    r = await peer.push(wx.text(OPENID, "x", 2), "compat")
    assert r.ok and r.reply["Content"] == "已收到 text: x"


async def test_reply_to_the_wrong_user_is_flagged(gateway: tuple[MiniGateway, str], peer: WeChatPeer) -> None:
    gateway[0].behaviour = "wrong_to"
    r = await peer.push(wx.text(OPENID, "x", 1), "plain")
    assert r.reply is not None and "ToUserName" in (r.error or "")


@pytest.mark.parametrize("behaviour", ["success", "empty"])
async def test_success_literal_and_empty_body(
        behaviour: str, gateway: tuple[MiniGateway, str], peer: WeChatPeer) -> None:
    gateway[0].behaviour = behaviour
    r = await peer.push(wx.event(OPENID, "CLICK", EventKey="MENU_REPORT"), "safe")
    assert r.ok and r.is_success_literal and r.reply is None and r.body == ("success" if behaviour == "success" else "")


async def test_timeout_and_retries_resend_the_same_bytes(gateway: tuple[MiniGateway, str], peer: WeChatPeer) -> None:
    gw, _ = gateway
    gw.behaviour = "slow"
    r = await peer.push(wx.text(OPENID, "x", 1), "safe", timeout=0.2)
    assert r.timed_out and r.status == 0 and not r.ok
    gw.requests.clear()
    results = await peer.push_with_retries(wx.text(OPENID, "y", 2), "safe", retries=3, timeout=0.2, always=False)
    assert len(results) == 4 and all(x.timed_out for x in results)
    assert len(gw.requests) == 4
    assert len({(q["query_string"], q["body"]) for q in gw.requests}) == 1  # same query, same bytes

    gw.behaviour = "reply"
    gw.requests.clear()
    results = await peer.push_with_retries(wx.text(OPENID, "z", 3), "safe", retries=3)
    assert len(results) == 4 and all(x.ok for x in results)
    assert len({(q["query_string"], q["body"]) for q in gw.requests}) == 1 and len(gw.requests) == 4
    assert {m.id for m in gw.messages} == {3}
    results = await peer.push_with_retries(wx.text(OPENID, "z", 4), "safe", retries=3, always=False)
    assert len(results) == 1  # WeChat stops once answered


async def test_push_raw_sends_exact_bytes(gateway: tuple[MiniGateway, str], peer: WeChatPeer) -> None:
    gw, _ = gateway
    xxe = (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b"<xml><ToUserName>&x;</ToUserName></xml>")
    status, _ = await peer.push_raw(xxe, peer.signed_query("plain", openid=OPENID))
    assert status == 400 and gw.requests[-1]["body"] == xxe
    body, query = peer.build_push(wx.text(OPENID, "raw", 5), "safe")
    status, answer = await peer.push_raw(body, query)
    assert status == 200 and gw.requests[-1]["body"] == body and list(gw.requests[-1]["query"]) == list(query)
    assert wx.parse_xml(answer)["MsgSignature"] and gw.messages[-1].content == "raw"
    status, _ = await peer.push_raw(body, query, content_type=None)
    assert status == 200
    with pytest.raises(ValueError):
        peer.signed_query("safe")  # needs the Encrypt value


# ============================================================================================
# the api.weixin.qq.com stand-in
# ============================================================================================

class GatewaySideApi:
    """What the gateway's async WeChat client does: cache the token, refresh on 40001/40014/42001."""

    def __init__(self, base: str, account: Account) -> None:
        self.base, self.account = base, account
        self.http = aiohttp.ClientSession()
        self.token: str | None = None

    async def close(self) -> None:
        await self.http.close()

    async def fetch_token(self) -> dict[str, Any]:
        async with self.http.get(f"{self.base}/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self.account.appid,
                "secret": self.account.appsecret}) as resp:
            if resp.status != 200:
                return {"http_status": resp.status}
            data = await resp.json()
        self.token = data.get("access_token")
        return data

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        for _ in range(2):
            if self.token is None:
                got = await self.fetch_token()
                if "http_status" in got:
                    return got["http_status"], got
            async with self.http.request(method, f"{self.base}{path}",
                                         params={**kw.pop("params", {}), "access_token": self.token}, **kw) as resp:
                if resp.status != 200:
                    return resp.status, await resp.text()
                if resp.content_type != "application/json":
                    return resp.status, (resp.content_type, await resp.read(), resp.headers.copy())
                data = await resp.json()
            if data.get("errcode") in (40001, 40014, 42001):
                self.token = None
                continue
            return 200, data
        return 200, data

    async def send_text(self, openid: str, content: str) -> dict[str, Any]:
        body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        status, data = await self.call("POST", "/cgi-bin/message/custom/send",
                                       data=json.dumps(body, ensure_ascii=False).encode())
        assert status == 200
        return data


@pytest.fixture
async def api(peer: WeChatPeer) -> AsyncIterator[GatewaySideApi]:
    client = GatewaySideApi(peer.api_base, ACCOUNT)
    try:
        yield client
    finally:
        await client.close()


async def test_token_endpoint(peer: WeChatPeer, api: GatewaySideApi) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", peer.api_base)
    data = await api.fetch_token()
    assert data["expires_in"] == 7200 and data["access_token"] == peer.current_token and peer.token_fetches == 1
    async with api.http.get(f"{peer.api_base}/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": "wxnope", "secret": ACCOUNT.appsecret}) as resp:
        assert resp.headers["Content-Type"].startswith("application/json")
        assert (await resp.json())["errcode"] == 40013
    async with api.http.get(f"{peer.api_base}/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": ACCOUNT.appid, "secret": "nope"}) as resp:
        bad = await resp.json()
        assert bad["errcode"] == 40125 and bad["errmsg"].startswith("invalid appsecret")
    assert peer.token_fetches == 1


async def test_media_and_pictures(peer: WeChatPeer, api: GatewaySideApi) -> None:
    peer.add_media("img-1", b"\xff\xd8jpegbytes", "image/jpeg")
    peer.add_media("amr-1", b"#!AMR\n....", "audio/amr")
    peer.add_media("mp4-1", b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    for media_id, ctype, data, ext in (("img-1", "image/jpeg", b"\xff\xd8jpegbytes", "jpg"),
                                       ("amr-1", "audio/amr", b"#!AMR\n....", "amr"),
                                       ("mp4-1", "video/mp4", b"\x00\x00\x00\x18ftypmp42", "mp4")):
        status, (got_type, body, headers) = await api.call("GET", "/cgi-bin/media/get", params={"media_id": media_id})
        assert (status, got_type, body) == (200, ctype, data)
        assert headers["Content-disposition"] == f'attachment; filename="{media_id}.{ext}"'
    status, data = await api.call("GET", "/cgi-bin/media/get", params={"media_id": "nope"})
    assert data["errcode"] == 40007 and data["errmsg"].startswith("invalid media_id")
    async with api.http.get(f"{peer.api_base}/cgi-bin/media/get",
                            params={"access_token": "forged", "media_id": "img-1"}) as resp:
        assert (await resp.json())["errcode"] == 40001
    peer.add_media("vid-2", b"mp4", "video/mp4", as_video_url=True)
    status, data = await api.call("GET", "/cgi-bin/media/get", params={"media_id": "vid-2"})
    async with api.http.get(data["video_url"]) as resp:
        assert await resp.read() == b"mp4"
    url = peer.add_picture("a.jpg", b"\xff\xd8pic")
    assert url == peer.pic_url("a.jpg")
    async with api.http.get(url) as resp:
        assert (resp.status, resp.content_type, await resp.read()) == (200, "image/jpeg", b"\xff\xd8pic")


async def test_custom_send_refreshes_after_invalidated_token(peer: WeChatPeer, api: GatewaySideApi) -> None:
    await peer.push(wx.text(OPENID, "你好", 1), "plain")  # opens the 48 h window
    assert (await api.send_text(OPENID, "第一条"))["errcode"] == 0
    assert peer.token_fetches == 1
    peer.invalidate_token()
    assert (await api.send_text(OPENID, "第二条"))["errcode"] == 0
    assert peer.token_fetches == 2
    assert [c.errcode for c in peer.api_calls if c.path.endswith("custom/send")] == [0, 40001, 0]
    msg = await peer.wait_sent(lambda m: m["text"]["content"] == "第二条", timeout=10)
    assert msg == {"touser": OPENID, "msgtype": "text", "text": {"content": "第二条"}}
    with pytest.raises(asyncio.TimeoutError):
        await peer.wait_sent(lambda m: m["text"]["content"] == "never", timeout=0.05)


async def test_wait_sent_wakes_on_a_later_send(peer: WeChatPeer, api: GatewaySideApi) -> None:
    peer.open_window(OPENID)
    waiter = asyncio.create_task(peer.wait_sent(lambda m: m["touser"] == OPENID, timeout=5))
    await asyncio.sleep(0)
    assert not waiter.done()
    await api.send_text(OPENID, "later")
    assert (await waiter)["text"]["content"] == "later"


async def test_expired_token_is_42001_and_old_token_lives_five_minutes(peer: WeChatPeer, api: GatewaySideApi) -> None:
    peer.open_window(OPENID)
    first = (await api.fetch_token())["access_token"]
    second = (await api.fetch_token())["access_token"]
    assert first != second

    async def send_with(token: str) -> int:
        async with api.http.post(f"{peer.api_base}/cgi-bin/message/custom/send", params={"access_token": token},
                                 json={"touser": OPENID, "msgtype": "text", "text": {"content": "x"}}) as resp:
            return (await resp.json())["errcode"]

    assert await send_with(first) == 0
    peer.advance(301)
    assert await send_with(first) == 42001 and await send_with(second) == 0
    peer.advance(7200)
    assert await send_with(second) == 42001


async def test_window_45015_and_quota_45047(peer: WeChatPeer, api: GatewaySideApi) -> None:
    assert (await api.send_text(OPENID, "never wrote"))["errcode"] == 45015
    await peer.push(wx.text(OPENID, "诉求", 1), "plain")
    codes = [(await api.send_text(OPENID, f"#{i}"))["errcode"] for i in range(6)]
    assert codes == [0, 0, 0, 0, 0, 45047]
    assert peer.quota_left(OPENID) == 0 and len(peer.sent) == 5
    await peer.push(wx.text(OPENID, "又一条", 2), "plain")  # a new user message renews the quota
    assert (await api.send_text(OPENID, "again"))["errcode"] == 0
    peer.advance(48 * 3600 + 1)
    assert (await api.send_text(OPENID, "too late"))["errcode"] == 45015
    await peer.push(wx.text(OPENID, "再来", 3), "plain")
    peer.close_window(OPENID)
    assert (await api.send_text(OPENID, "closed"))["errcode"] == 45015
    await peer.push(wx.text(OPENID, "最后", 4), "plain")
    await peer.push(wx.event(OPENID, "unsubscribe"), "safe")  # unfollowed: window gone
    assert (await api.send_text(OPENID, "unfollowed"))["errcode"] == 45015


async def test_event_window_is_three_in_a_minute(peer: WeChatPeer, api: GatewaySideApi) -> None:
    await peer.push(wx.event(OTHER, "CLICK", EventKey="MENU_REPORT"), "safe")
    codes = [(await api.send_text(OTHER, f"#{i}"))["errcode"] for i in range(4)]
    assert codes == [0, 0, 0, 45047]
    await peer.push(wx.event(OTHER, "CLICK", EventKey="MENU_REPORT"), "safe")
    peer.advance(61)
    assert (await api.send_text(OTHER, "late"))["errcode"] == 45015
    await peer.push(wx.event(OTHER, "LOCATION", Latitude=1.0, Longitude=2.0, Precision=3.0), "safe")
    assert (await api.send_text(OTHER, "location opens nothing"))["errcode"] == 45015


async def test_custom_send_validates_json(peer: WeChatPeer, api: GatewaySideApi) -> None:
    peer.open_window(OPENID)
    await api.fetch_token()

    async def post(body: bytes) -> int:
        async with api.http.post(f"{peer.api_base}/cgi-bin/message/custom/send",
                                 params={"access_token": api.token}, data=body) as resp:
            return (await resp.json())["errcode"]

    assert await post(b"{not json") == 47001
    assert await post(json.dumps({"touser": OPENID, "msgtype": "sms", "sms": {}}).encode()) == 40008
    assert await post(json.dumps({"touser": OPENID, "msgtype": "text", "text": {"content": ""}}).encode()) == 44004
    assert await post(json.dumps({"touser": "", "msgtype": "text", "text": {"content": "x"}}).encode()) == 40003
    assert await post(json.dumps({"touser": OPENID, "msgtype": "image", "image": {}}).encode()) == 47001
    assert await post(json.dumps({"touser": OPENID, "msgtype": "text", "text": {"content": "x"},
                                  "customservice": {"kf_account": "agent01@gh_example"}}).encode()) == 0
    assert peer.sent[-1]["customservice"]["kf_account"] == "agent01@gh_example"
    assert len(peer.sent) == 1  # the invalid ones were not recorded as sent


async def test_outage_503_and_injected_errors(peer: WeChatPeer, api: GatewaySideApi) -> None:
    peer.open_window(OPENID)
    peer.down(True)
    async with api.http.get(f"{peer.api_base}/cgi-bin/token") as resp:
        assert resp.status == 503
    status, _ = await api.call("POST", "/cgi-bin/message/custom/send", json={})
    assert status == 503
    peer.down(False)
    peer.fail_next(2, 45009)
    assert (await api.send_text(OPENID, "a"))["errcode"] == 45009
    assert (await api.send_text(OPENID, "b"))["errcode"] == 45009
    assert (await api.send_text(OPENID, "c"))["errcode"] == 0
    assert [m["text"]["content"] for m in peer.sent] == ["c"]
    fetches = peer.token_fetches
    peer.fail_next(1, 40001)  # an injected 40001 makes the client refresh and retry
    assert (await api.send_text(OPENID, "d"))["errcode"] == 0
    assert peer.token_fetches == fetches + 1


async def test_wechatpy_client_works_against_the_peer(peer: WeChatPeer) -> None:
    """wechatpy's own WeChatClient (requests, in a thread): token, custom send, 40001 refresh, 45015."""
    base = peer.api_base

    class LocalClient(WeChatClient):
        API_BASE_URL = base + "/cgi-bin/"

        def fetch_access_token(self) -> dict[str, Any]:
            return self._fetch_access_token(url=base + "/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})

    client = LocalClient(ACCOUNT.appid, ACCOUNT.appsecret)
    client._http.trust_env = False
    await peer.push(wx.text(OPENID, "hi", 1), "safe")
    res = await asyncio.to_thread(client.message.send_text, OPENID, "您的诉求已转办", "agent01@gh_example")
    assert res["errcode"] == 0
    peer.invalidate_token()
    assert (await asyncio.to_thread(client.message.send_text, OPENID, "二"))["errcode"] == 0
    assert peer.token_fetches == 2
    assert [m["text"]["content"] for m in peer.sent] == ["您的诉求已转办", "二"]
    assert peer.sent[0]["customservice"] == {"kf_account": "agent01@gh_example"}
    with pytest.raises(WeChatClientException) as exc:
        await asyncio.to_thread(client.message.send_text, OTHER, "没有窗口")
    assert exc.value.errcode == 45015
    peer.add_media("img-9", b"\xff\xd8x", "image/jpeg")
    resp = await asyncio.to_thread(client.media.download, "img-9")
    assert resp.content == b"\xff\xd8x" and resp.headers["Content-Type"] == "image/jpeg"


def test_push_result_check() -> None:
    PushResult(200, "success", 0.01, None, True).check()
    with pytest.raises(ReplyError):
        PushResult(0, "", 5.0, None, False, timed_out=True, error="no answer").check()
