"""The gateway with a real Rasa server: consultations answered from the KB through the
gateway's action endpoint, entities to the ticket, and the embedded engine deciding when
Rasa hangs or is killed."""
from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from bot.rasa.server import RasaServer
from gateway.ticket import Ticket
from gateway.tickets import Tickets
from tests.conftest import settings_for
from tests.support.rasa import ACTION_TOKEN, free_port, gateway_on, start_rasa, trained_model

# The first test may train the model (about 1.5–4 min on two busy cores) before Rasa starts.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="session")
def rasa_model_path() -> Path:
    return trained_model()


@pytest.fixture(scope="session")
def shared_rasa(rasa_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RasaServer, int]]:
    """One Rasa for the session; its actions go to a gateway on `port` (each test starts one)."""
    port = free_port()
    server = start_rasa(rasa_model_path, port, tmp_path_factory.mktemp("rasa") / "rasa.log")
    yield server, port
    server.stop()


@pytest.fixture
async def rasa_gateway(shared_rasa: tuple[RasaServer, int], tmp_path: Path, redis_url: str) -> AsyncIterator[str]:
    rasa, port = shared_rasa
    # No emergency guard: Rasa's own emergency intents and action are under test here.
    settings = settings_for(tmp_path, redis_url, nlu="rasa", rasa_url=rasa.url, rasa_action_token=ACTION_TOKEN,
                            rasa_timeout_seconds=10.0, rasa_retry_seconds=0.0, kb_seed=True, rasa_emergency_guard=False)
    server = await gateway_on(port, settings)
    yield f"http://127.0.0.1:{port}"
    await server.close()


async def _chat(http: aiohttp.ClientSession, base: str, text: str, session: str) -> dict:
    async with http.post(f"{base}/api/v1/chat", json={"session_id": session, "text": text}) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def _decided(redis_url: str, ticket_id: str) -> tuple[list[dict], Ticket]:
    redis = Redis.from_url(redis_url)
    try:
        ticket = await Tickets(redis).get(ticket_id)
    finally:
        await redis.aclose()
    return [h.detail for h in ticket.history if h.event == "bot_decided"], ticket


async def test_consultation_is_answered_from_the_kb_through_the_action_endpoint(rasa_gateway: str, redis_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        reply = await _chat(http, rasa_gateway, "外地人在北京办居住证需要满足什么条件", "rasa-consult-0001")
    assert reply["decision"] == "answer", reply
    assert reply["entry"] == {"id": "kb-juzhu-001", "version": 1}
    assert reply["reply"].startswith("非京籍人员在京办理居住登记后")  # the KB's answer text, served by our action
    decided, ticket = await _decided(redis_url, reply["ticket_id"])
    assert decided[-1]["engine"] == "rasa" and "fallback" not in decided[-1]
    assert any(r.startswith("rasa intent consult_kb-juzhu-001") for r in decided[-1]["reasons"])
    assert ticket.disposition.kb_entry_id == "kb-juzhu-001" and ticket.disposition.kb_version == 1


async def test_complaint_is_forwarded_with_rasa_entities(rasa_gateway: str, redis_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        reply = await _chat(http, rasa_gateway, "我要投诉海淀区中关村街道一家饭馆油烟太大，电话13912345678", "rasa-forward-0001")
    # The phone is in the message, so the request is filed at once, with Rasa's kind and place.
    assert reply["decision"] == "forward" and reply["filed"] is True, reply
    decided, ticket = await _decided(redis_url, reply["ticket_id"])
    assert decided[-1]["engine"] == "rasa"
    assert ticket.kind == "complaint" and ticket.requester.phone == "+8613912345678"
    assert ticket.location is not None and (ticket.location.district, ticket.location.street) == ("海淀区", "中关村街道")
    assert ticket.dispatch is not None and ticket.dispatch.unit is not None  # triage completes Rasa's forward


async def test_emergency_and_greeting_through_rasa(rasa_gateway: str, redis_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        greeting = await _chat(http, rasa_gateway, "您好", "rasa-mixed-0001")
        fire = await _chat(http, rasa_gateway, "楼下饭馆起火了，烟很大", "rasa-mixed-0001")
    assert greeting["decision"] == "clarify" and "12345" in greeting["reply"]  # utter_greet from Rasa's domain
    assert fire["decision"] == "emergency" and fire["line"] == "119"
    decided, _ = await _decided(redis_url, fire["ticket_id"])
    assert decided[-1]["engine"] == "rasa" and "guard" not in decided[-1]


@pytest.fixture
async def own_rasa(rasa_model_path: Path, tmp_path: Path) -> AsyncIterator[tuple[RasaServer, int]]:
    """A Rasa of this test's own, to hang and kill."""
    port = free_port()
    server = start_rasa(rasa_model_path, port, tmp_path / "rasa.log")
    yield server, port
    server.stop()


async def test_hung_or_killed_rasa_falls_back_to_the_embedded_engine_within_the_timeout(
        own_rasa: tuple[RasaServer, int], tmp_path: Path, redis_url: str) -> None:
    rasa, port = own_rasa
    timeout = 1.0
    settings = settings_for(tmp_path, redis_url, nlu="rasa", rasa_url=rasa.url, rasa_action_token=ACTION_TOKEN,
                            rasa_timeout_seconds=timeout, rasa_retry_seconds=0.0, kb_seed=True)
    server: TestServer = await gateway_on(port, settings)
    base = f"http://127.0.0.1:{port}"
    question = "公积金贷款买房需要什么条件"
    try:
        async with aiohttp.ClientSession() as http:
            before = await _chat(http, base, question, "rasa-fallback-0001")
            decided, _ = await _decided(redis_url, before["ticket_id"])
            assert decided[-1]["engine"] == "rasa"

            rasa.pause()  # hung: accepts connections, answers nothing
            started = time.monotonic()
            hung = await _chat(http, base, question, "rasa-fallback-0002")
            elapsed = time.monotonic() - started
            assert elapsed >= timeout * 0.9, elapsed  # it waited for Rasa (an upper bound would be a timing test)
            decided, _ = await _decided(redis_url, hung["ticket_id"])
            assert decided[-1]["engine"] == "embedded" and decided[-1]["fallback"] == "rasa_timeout"
            assert hung["decision"] == before["decision"] and hung.get("entry") == before.get("entry")

            rasa.kill()  # killed in the middle of the conversation
            started = time.monotonic()
            down = await _chat(http, base, question, "rasa-fallback-0002")
            assert time.monotonic() - started < timeout
            decided, ticket = await _decided(redis_url, down["ticket_id"])
            assert decided[-1]["engine"] == "embedded" and decided[-1]["fallback"] == "rasa_down"
            assert decided[-1]["reasons"][0].startswith("rasa_down")
            assert down["decision"] == "answer" and ticket.disposition.kb_entry_id == down["entry"]["id"]
    finally:
        await server.close()
