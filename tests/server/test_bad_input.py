"""Bad input at the public edge: explicit malformed / oversize / mistyped requests against the
in-process app (each answered with the documented status, machine code and a Chinese message),
then generated input from the OpenAPI document (schemathesis) against a gateway process, where
the property is simply: no response is ever a 5xx."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from urllib.parse import quote

import aiohttp
import pytest
import redis as sync_redis
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from redis.asyncio import Redis

from gateway import keys
from server.openapi import openapi_document
from tests.support.desk import PASSWORD, add_user, login
from tests.support.media import png as make_png
from tests.support.processes import Gateway

CJK = re.compile(r"[\u4e00-\u9fff]")
VALID = {"kind": "complaint", "description": "小区门口的路灯坏了一个多星期，晚上很黑", "district": "朝阳区",
         "address": "望京街道某小区东门", "phone": "13812345678", "name": "王先生"}


def png(min_size: int = 0, seed: int = 7) -> bytes:
    return make_png(width=4, height=4, seed=seed, min_size=min_size)


def multipart_body(parts: list[tuple[str, bytes, str | None, str | None]]) -> tuple[bytes, str]:
    """Hand-built multipart/form-data (name, raw bytes, filename, content type), so that the exact
    bytes on the wire are under the test's control (e.g. a text field that is not UTF-8)."""
    boundary = "----hotline-test-boundary-7f3a9c"
    out = b""
    for name, value, filename, ctype in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + value + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def form_parts(fields: dict[str, str]) -> list[tuple[str, bytes, str | None, str | None]]:
    return [(k, v.encode(), None, None) for k, v in fields.items()]


async def post(http: aiohttp.ClientSession, base: str, **kwargs: object) -> tuple[int, dict]:
    async with http.post(f"{base}/api/v1/requests", **kwargs) as resp:
        assert resp.content_type == "application/json", (resp.status, await resp.text())
        return resp.status, await resp.json()


def assert_error(status: int, body: dict, want_status: int, want_code: str) -> None:
    assert (status, body.get("error")) == (want_status, want_code), body
    assert isinstance(body.get("message"), str) and CJK.search(body["message"]), body


def field_error(body: dict, field: str) -> dict:
    matches = [f for f in body.get("fields") or [] if f.get("field") == field]
    assert matches, body
    assert CJK.search(matches[0].get("message", "")), matches[0]
    return matches[0]


async def recent_count(redis_url: str) -> int:
    redis = Redis.from_url(redis_url)
    try:
        return await redis.zcard(keys.RECENT_TICKETS)
    finally:
        await redis.aclose()


# --------------------------------------------------------------------------- explicit checks


async def test_declared_60mb_json_body_is_refused_before_reading(app_url: str) -> None:
    """The Content-Length alone decides: the gateway answers 413 without waiting for 60 MB."""
    host, port = app_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        head = (f"POST /api/v1/requests HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                f"Accept: application/json\r\nContent-Length: {60 * 1024 * 1024}\r\n\r\n")
        writer.write(head.encode() + b'{"description": "' + b"x" * 65536)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        headers = {}
        while (line := await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = json.loads(await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10))
    finally:
        writer.close()
    assert headers["content-type"].startswith("application/json"), status_line
    assert_error(int(status_line.split()[1]), body, 413, "payload_too_large")


async def test_streamed_json_body_over_the_limit_is_413(app_url: str, http: aiohttp.ClientSession, redis_url: str) -> None:
    """No Content-Length (chunked): the limit is enforced while reading."""
    async def body() -> object:
        yield b'{"description": "'
        for _ in range(60):  # 60 MB, more than the 51 MB the app reads at most
            yield b"x" * (1024 * 1024)
        yield b'", "phone": "13812345678"}'

    status, data = await post(http, app_url, data=body(), headers={"Content-Type": "application/json"})
    assert_error(status, data, 413, "payload_too_large")
    assert await recent_count(redis_url) == 0


async def test_attachment_over_the_per_file_limit_is_413_on_attachments(make_app, http: aiohttp.ClientSession, redis_url: str) -> None:
    base = await make_app(attachment_max_bytes=1024)
    image = png(min_size=2048)
    assert len(image) > 1024
    body, ctype = multipart_body(form_parts(VALID) + [("attachments", image, "photo.png", "image/png")])
    status, data = await post(http, base, data=body, headers={"Content-Type": ctype, "Accept": "application/json"})
    assert_error(status, data, 413, "attachment_too_large")
    assert data["fields"][0]["field"] == "attachments"

    status, data = await post(http, base, json={**VALID, "attachments": [
        {"filename": "photo.png", "content_base64": base64.b64encode(image).decode()}]})
    assert_error(status, data, 413, "attachment_too_large")
    assert data["fields"][0]["field"] == "attachments"
    assert await recent_count(redis_url) == 0

    small = png()
    assert len(small) < 1024
    body, ctype = multipart_body(form_parts(VALID) + [("attachments", small, "photo.png", "image/png")])
    status, data = await post(http, base, data=body, headers={"Content-Type": ctype, "Accept": "application/json"})
    assert status == 201, data  # the same request with a file under the limit goes through


async def test_text_plain_body_is_415(app_url: str, http: aiohttp.ClientSession) -> None:
    status, data = await post(http, app_url, data=json.dumps(VALID, ensure_ascii=False).encode(),
                              headers={"Content-Type": "text/plain; charset=utf-8"})
    assert_error(status, data, 415, "unsupported_media_type")


@pytest.mark.parametrize("filename, content", [
    ("scan.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"),
    ("photo.jpg", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run in DOS mode."),
])
async def test_attachment_that_is_not_an_image_or_video_is_415(app_url: str, http: aiohttp.ClientSession, redis_url: str,
                                                              filename: str, content: bytes) -> None:
    # The client claims image/jpeg; only the bytes count.
    body, ctype = multipart_body(form_parts(VALID) + [("attachments", content, filename, "image/jpeg")])
    status, data = await post(http, app_url, data=body, headers={"Content-Type": ctype, "Accept": "application/json"})
    assert_error(status, data, 415, "unsupported_media_type")
    assert data["fields"][0]["field"] == "attachments"

    status, data = await post(http, app_url, json={**VALID, "attachments": [
        {"filename": filename, "content_base64": base64.b64encode(content).decode()}]})
    assert_error(status, data, 415, "unsupported_media_type")
    assert data["fields"][0]["field"] == "attachments"
    assert await recent_count(redis_url) == 0


@pytest.mark.parametrize("phone", ["12345", "99999999999", "138-1234-567", "010-1234567", "电话13812345678"])
async def test_invalid_phone_is_422_with_a_chinese_field_message(app_url: str, http: aiohttp.ClientSession, phone: str) -> None:
    status, data = await post(http, app_url, json={**VALID, "phone": phone})
    assert_error(status, data, 422, "validation_failed")
    entry = field_error(data, "phone")
    assert entry["code"] == "invalid_phone"


async def test_four_character_description_is_422_on_description(app_url: str, http: aiohttp.ClientSession) -> None:
    status, data = await post(http, app_url, json={**VALID, "description": "路灯坏了"})
    assert_error(status, data, 422, "validation_failed")
    assert field_error(data, "description")["code"] == "invalid_description"
    # Padding with spaces does not make it long enough: whitespace is stripped first.
    status, data = await post(http, app_url, json={**VALID, "description": "  路灯坏了   "})
    assert_error(status, data, 422, "validation_failed")
    field_error(data, "description")


@pytest.mark.parametrize("district", ["朝阳", "浦东新区", "Chaoyang"])
async def test_unknown_district_is_422(app_url: str, http: aiohttp.ClientSession, district: str) -> None:
    status, data = await post(http, app_url, json={**VALID, "district": district})
    assert_error(status, data, 422, "validation_failed")
    assert field_error(data, "district")["code"] == "invalid_district"


async def test_filled_honeypot_is_400_and_stores_nothing(app_url: str, http: aiohttp.ClientSession, redis_url: str) -> None:
    status, data = await post(http, app_url, json={**VALID, "website": "http://spam.example"})
    assert_error(status, data, 400, "honeypot_filled")
    body, ctype = multipart_body(form_parts({**VALID, "website": "http://spam.example"}))
    status, data = await post(http, app_url, data=body, headers={"Content-Type": ctype, "Accept": "application/json"})
    assert_error(status, data, 400, "honeypot_filled")
    assert await recent_count(redis_url) == 0
    # The same request with the honeypot empty is stored: the count above is a real observation.
    status, data = await post(http, app_url, json={**VALID, "website": ""})
    assert status == 201, data
    assert await recent_count(redis_url) == 1


async def test_multipart_text_field_that_is_not_utf8_is_400(app_url: str, http: aiohttp.ClientSession, redis_url: str) -> None:
    gbk = "楼下饭店油烟太大，影响居民生活".encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    parts = form_parts({k: v for k, v in VALID.items() if k != "description"}) + [("description", gbk, None, "text/plain; charset=gbk")]
    body, ctype = multipart_body(parts)
    status, data = await post(http, app_url, data=body, headers={"Content-Type": ctype, "Accept": "application/json"})
    assert_error(status, data, 400, "invalid_encoding")
    assert await recent_count(redis_url) == 0


@pytest.mark.parametrize("raw", ['{"description": "路灯坏了很久", "phone": '.encode(), b"\xff\xfe{}", b"[1, 2, 3]", b"null"])
async def test_malformed_json_is_400(app_url: str, http: aiohttp.ClientSession, raw: bytes) -> None:
    status, data = await post(http, app_url, data=raw, headers={"Content-Type": "application/json"})
    assert_error(status, data, 400, "invalid_json")


async def test_idempotency_key_too_long_is_400(app_url: str, http: aiohttp.ClientSession, redis_url: str) -> None:
    status, data = await post(http, app_url, json=VALID, headers={"Idempotency-Key": "k" * 129})
    assert_error(status, data, 400, "invalid_idempotency_key")
    assert await recent_count(redis_url) == 0
    status, data = await post(http, app_url, json=VALID, headers={"Idempotency-Key": "k" * 128})
    assert status == 201, data


async def test_multipart_part_header_with_control_characters_is_400(app_url: str, http: aiohttp.ClientSession) -> None:
    """Found by the generated cases below: aiohttp rejects such a part header with BadHttpMessage,
    which used to escape as a 500."""
    body, ctype = multipart_body([("\x1f", b"null", None, None)] + form_parts(VALID))
    status, data = await post(http, app_url, data=body, headers={"Content-Type": ctype, "Accept": "application/json"})
    assert_error(status, data, 400, "bad_request")


@pytest.mark.parametrize("entry_id", [":", "abc", "1-x", "99999999999999999999999-0", "1" * 5000 + "-0", "１２-3"])
async def test_redrive_of_something_that_is_not_a_stream_id_is_404(app_url: str, redis_url: str, entry_id: str) -> None:
    """Found by the generated cases below: Redis rejects a malformed stream id, which used to be a 500."""
    await add_user(redis_url, "chief1", "supervisor")
    session, csrf = await login(app_url, "chief1")
    async with session:
        async with session.post(f"{app_url}/api/v1/supervisor/dead-letters/{quote(entry_id, safe='')}/redrive",
                                headers={"X-CSRF-Token": csrf}) as resp:
            assert_error(resp.status, await resp.json(), 404, "dead_letter_not_found")


# --------------------------------------------------------------------------- generated input

FUZZ_CONFIG = schemathesis.Config.from_dict({
    "generation": {"mode": "all", "max-examples": 50},
})
FUZZ_SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
PUBLIC_OPERATIONS = ["submitRequest", "trackTicket", "login", "partnerReceiveTransfer", "partnerReceiveStatus", "partnerBlob", "caseSystemUpdate"]
DESK_OPERATIONS = ["me", "listTickets", "getTicket", "patchTicket", "addNote", "forwardTicket", "getBlob",
                   "deskSocket", "deadLetters", "redrive", "redriveDeadLetters", "localInbox", "localInboxMark", "listPartners", "pendingPartnerTransfers", "transferToPartner", "reportPartnerStatus",
                   "adminPartners", "adminPutPartner"]
FUZZ_USER = "fuzzdesk"


@pytest.fixture(scope="module")
def fuzz_gateway(redis_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One gateway process for all generated cases (function-scoped fixtures would restart it)."""
    sync_redis.Redis.from_url(redis_server).flushdb()
    # Generated logins all come from 127.0.0.1: without this the address lock-out would shut out FUZZ_USER.
    # A case-system secret, so generated status reports reach the signature check (without one: 503).
    gw = Gateway(redis_server, tmp_path_factory.mktemp("fuzz-gw"), HOTLINE_LOGIN_FAILURES_PER_ADDRESS="1000000",
                 CASE_SYSTEM_SECRET="fuzz-case-secret")
    gw.start()
    yield gw
    gw.stop()
    assert "Traceback" not in gw.log(), gw.log()[-5000:]


@pytest.fixture(scope="module")
def desk(fuzz_gateway: Gateway) -> dict[str, str]:
    """A logged-in agent+supervisor (cookie and CSRF token) and a real ticket with an attachment,
    so generated desk requests get past authentication and sometimes hit a real ticket."""
    asyncio.run(add_user(fuzz_gateway.env["REDIS_URL"], FUZZ_USER, "agent", "supervisor", "admin"))
    http = requests.Session()
    resp = http.post(f"{fuzz_gateway.base}/api/v1/auth/login", json={"username": FUZZ_USER, "password": PASSWORD}, timeout=10)
    assert resp.status_code == 200, resp.text
    image = png()
    resp = http.post(f"{fuzz_gateway.base}/api/v1/requests", json={**VALID, "attachments": [
        {"filename": "a.png", "content_base64": base64.b64encode(image).decode()}]}, timeout=10)
    assert resp.status_code == 201, resp.text
    return {"session": http.cookies["hl_session"], "csrf": _csrf(http, fuzz_gateway), "ticket_id": resp.json()["ticket_id"],
            "sha256": hashlib.sha256(image).hexdigest()}


def _csrf(http: requests.Session, gw: Gateway) -> str:
    resp = http.get(f"{gw.base}/api/v1/auth/me", timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()["csrf_token"]


# Loaded from the same document the gateway serves (checked below against /openapi.json). Not
# `schemathesis.pytest.from_fixture`: with pytest 9 it fails on `request.node._nodeid`.
schema = schemathesis.openapi.from_dict(openapi_document(), config=FUZZ_CONFIG)


def test_fuzzed_document_is_the_one_the_gateway_serves(fuzz_gateway: Gateway) -> None:
    served = requests.get(f"{fuzz_gateway.base}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(openapi_document()))


def _no_server_error(case, response) -> None:
    assert response.status_code < 500, f"{response.status_code} {response.text[:500]}\n{case.as_curl_command()}"


@schema.include(operation_id=PUBLIC_OPERATIONS).parametrize()
@FUZZ_SETTINGS
def test_public_operations_never_answer_5xx(case, fuzz_gateway: Gateway) -> None:
    response = case.call(base_url=fuzz_gateway.base, timeout=30)
    _no_server_error(case, response)


@schema.include(operation_id=DESK_OPERATIONS).parametrize()
@FUZZ_SETTINGS
def test_desk_operations_never_answer_5xx(case, fuzz_gateway: Gateway, desk: dict[str, str]) -> None:
    # Half the cases (chosen from the generated value, so a failure replays the same way) address
    # the real ticket / attachment instead of one that does not exist.
    for name, real in (("ticket_id", desk["ticket_id"]), ("sha256", desk["sha256"])):
        generated = (case.path_parameters or {}).get(name)
        if isinstance(generated, str) and zlib.crc32(generated.encode("utf-8", "surrogatepass")) % 2:
            case.path_parameters[name] = real
    case.headers = {**(case.headers or {}), "X-CSRF-Token": desk["csrf"]}
    response = case.call(base_url=fuzz_gateway.base, cookies={"hl_session": desk["session"]}, timeout=30)
    _no_server_error(case, response)
    # A live session with every desk role and the right CSRF token is never turned away, whatever
    # else is wrong with the request (otherwise the cases above never reached the handlers).
    assert response.status_code not in (401, 403), f"{response.status_code} {response.text[:300]}\n{case.as_curl_command()}"
