"""Bounded input (issue 13): every request body is read within a limit whatever its framing (a
chunked body declares no length), forms are streamed part by part and refused early, JSON nesting
is limited without recursing, out-of-range numbers are a 4xx, and citizens' texts are never cached.
Over real sockets to the in-process app; memory is asserted on the process's RSS."""
from __future__ import annotations

import asyncio
import gc
import threading
import tracemalloc
from collections.abc import AsyncIterator

import aiohttp
import psutil
import pytest

from gateway import clock
from knowledge_base import text as kb_text
from knowledge_base.snapshot import KnowledgeSnapshot
from tests.support.desk import add_user, login
from tests.support.kb import call, content
from triage.decision import Conversation, decide
from triage.evaluation import starter_snapshot

BOUNDARY = "----hotline-flood-boundary-1b2c"
MB = 1024 * 1024
RSS_GROWTH_MAX = 30 * MB


class PeakRss:
    """The process's resident set size, sampled every 10 ms in a thread while the block runs."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.baseline = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> "PeakRss":
        gc.collect()
        self.baseline = self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


async def _field_flood(count: int, size: int) -> AsyncIterator[bytes]:
    """`count` distinct text fields of `size` bytes each, produced as they are sent (never held)."""
    filler = b"x" * size
    batch = bytearray()
    for i in range(count):
        batch += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="field{i}"\r\n\r\n'.encode() + filler + b"\r\n"
        if len(batch) >= 256 * 1024:
            yield bytes(batch)
            batch.clear()
            await asyncio.sleep(0)
    yield bytes(batch) + f"--{BOUNDARY}--\r\n".encode()


async def _urlencoded_flood(size: int) -> AsyncIterator[bytes]:
    """One urlencoded field of `size` bytes (under the attachments limit aiohttp applies)."""
    yield b"kind=complaint&phone=13812345678&description="
    piece = b"%E5%AD%97" * 20000
    for _ in range(size // len(piece)):
        yield piece
        await asyncio.sleep(0)


async def _warm_up(http: aiohttp.ClientSession, base: str) -> None:
    async with http.post(f"{base}/api/v1/requests", json={"description": "短"}) as resp:
        await resp.read()


async def test_chunked_multipart_flood_of_distinct_fields_is_refused_early_in_bounded_memory(app_url: str, http: aiohttp.ClientSession) -> None:
    await _warm_up(http, app_url)
    with PeakRss() as rss:
        async with http.post(f"{app_url}/api/v1/requests", data=_field_flood(50_000, 1900),
                             headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}) as resp:
            assert "Content-Length" not in resp.request_info.headers  # chunked: no declared length to check
            status, body = resp.status, await resp.json()
    assert rss.growth < RSS_GROWTH_MAX, f"RSS grew by {rss.growth / MB:.0f} MB"
    assert status == 422 and body["error"] == "too_many_fields" and "字段过多" in body["message"], body


async def test_chunked_40mb_urlencoded_body_is_refused_in_bounded_memory(app_url: str, http: aiohttp.ClientSession) -> None:
    await _warm_up(http, app_url)
    with PeakRss() as rss:
        async with http.post(f"{app_url}/api/v1/requests", data=_urlencoded_flood(40 * MB),
                             headers={"Content-Type": "application/x-www-form-urlencoded"}) as resp:
            status, body = resp.status, await resp.json()
    assert rss.growth < RSS_GROWTH_MAX, f"RSS grew by {rss.growth / MB:.0f} MB"
    assert status == 413 and body["error"] == "payload_too_large", body


async def test_multipart_with_more_parts_than_the_form_has_is_422_too_many_fields(app_url: str, http: aiohttp.ClientSession) -> None:
    form = aiohttp.FormData()
    for i in range(40):
        form.add_field(f"extra{i}", "值")
    async with http.post(f"{app_url}/api/v1/requests", data=form) as resp:
        status, body = resp.status, await resp.json()
    assert status == 422 and body["error"] == "too_many_fields" and "字段过多" in body["message"], body


async def test_multipart_text_beyond_the_total_text_limit_is_413(app_url: str, http: aiohttp.ClientSession) -> None:
    form = aiohttp.FormData()
    for i in range(8):  # each under the per-field limit, together over the total
        form.add_field(f"extra{i}", "字" * 5000)
    async with http.post(f"{app_url}/api/v1/requests", data=form) as resp:
        status, body = resp.status, await resp.json()
    assert status == 413 and body["error"] == "payload_too_large" and "合计" in body["message"], body


async def test_json_apis_read_at_most_one_megabyte_even_when_chunked(app_url: str, http: aiohttp.ClientSession) -> None:
    async def big() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(32):
            yield b"a" * 65536
        yield b'"}'

    async with http.post(f"{app_url}/api/v1/chat", data=big(), headers={"Content-Type": "application/json"}) as resp:
        status, body = resp.status, await resp.json()
    assert status == 413 and body["error"] == "payload_too_large" and "1MB" in body["message"], body


@pytest.mark.parametrize("path", ["/api/v1/requests", "/api/v1/chat"])
async def test_json_nested_100k_deep_is_400_invalid_json(app_url: str, http: aiohttp.ClientSession, path: str) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    async with http.post(f"{app_url}{path}", data=deep, headers={"Content-Type": "application/json"}) as resp:
        status, body = resp.status, await resp.json()
    assert status == 400 and body["error"] == "invalid_json" and "嵌套" in body["message"], body


async def test_json_nested_object_in_a_field_is_400_not_500(app_url: str, http: aiohttp.ClientSession) -> None:
    deep = '{"description": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + ', "phone": "13812345678"}'
    async with http.post(f"{app_url}/api/v1/requests", data=deep.encode(), headers={"Content-Type": "application/json"}) as resp:
        status, body = resp.status, await resp.json()
    assert status == 400 and body["error"] == "invalid_json", body


@pytest.mark.parametrize("versions", ["from=1&to=99999999999999999999", "from=-99999999999999999999&to=1",
                                      "from=1&to=9223372036854775808", "from=0&to=1", "from=1&to=7"])
async def test_diff_with_an_out_of_range_version_is_404(app_url: str, redis_url: str, versions: str) -> None:
    await add_user(redis_url, "editor-bounds", "kb_editor")
    editor = await login(app_url, "editor-bounds")
    try:
        status, data = await call(*editor, "POST", f"{app_url}/api/v1/kb/entries",
                                  {"id": "kb-bounds-001", "content": content("路灯报修", ["路灯坏了找谁"], "请拨打12345反映。")})
        assert status == 201, data
        status, body = await call(*editor, "GET", f"{app_url}/api/v1/kb/entries/kb-bounds-001/diff?{versions}")
        assert status == 404 and body["error"] == "version_not_found" and "没有第" in body["message"], body
        status, body = await call(*editor, "POST", f"{app_url}/api/v1/kb/entries/kb-bounds-001/rollback", {"to_version": 2**70})
        assert status == 404 and body["error"] == "version_not_found", body
    finally:
        await editor[0].close()


def _citizen_texts(count: int) -> list[str]:
    places = ["朝阳区望京街道", "海淀区中关村街道", "西城区金融街街道", "丰台区卢沟桥街道"]
    return [f"{places[i % 4]}第{i}号楼门口的路灯坏了{i % 97 + 2}天，晚上很黑，老人出门不方便，请尽快派人维修（编号{i * 7919}）"
            for i in range(count)]


def test_tokenising_many_distinct_citizen_texts_keeps_no_memory() -> None:
    snapshot = starter_snapshot()
    now = clock.now()
    texts = _citizen_texts(1500)
    for t in texts[:50]:  # warm jieba and the snapshot's own state
        decide(t, Conversation(), "web", snapshot, now)
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for t in texts[50:]:
            decide(t, Conversation(), "web", snapshot, now)
            snapshot.query_tokens(t)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 1 * MB, f"{(after - before) / MB:.1f} MB kept after tokenising {len(texts) - 50} citizen texts"


def test_an_index_rebuild_reuses_the_kb_tokens_and_keeps_only_the_current_kb(monkeypatch: pytest.MonkeyPatch) -> None:
    base = starter_snapshot()
    versions, synonyms = list(base.entries.values()), [list(g) for g in base.synonyms.groups]
    KnowledgeSnapshot.build(1, versions, synonyms)
    kept = kb_text.index_tokens_kept()
    calls = []
    real = kb_text.tokens
    monkeypatch.setattr(kb_text, "tokens", lambda text: calls.append(text) or real(text))
    changed = versions[0].model_copy(update={"answer": versions[0].answer + "（已更新）"})
    KnowledgeSnapshot.build(2, [changed, *versions[1:]], synonyms)
    assert len(calls) == 1  # only the changed answer was tokenised again
    for t in _citizen_texts(500):
        base.query_tokens(t)
    assert kb_text.index_tokens_kept() == kept  # the KB's texts, not the citizens'

