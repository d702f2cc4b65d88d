"""The action endpoint speaks rasa_sdk's protocol (requests shaped as Rasa 3.6 sends them),
refuses bad input specifically, and the export turns KB phrasings into Rasa training data.
No Rasa server needed: these run everywhere."""
from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import yaml

from bot.rasa import export as rasa_export
from bot.rasa.actions import TOKEN_HEADER
from bot.rasa.client import RasaUnavailable, to_decision
from triage.evaluation import starter_snapshot

TOKEN = "unit-action-token"


def _call(action: str, intent: str, text: str, entities: list[dict[str, Any]] | None = None,
          slots: dict[str, Any] | None = None, ranking: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A request body as Rasa's RemoteAction builds it."""
    latest = {"intent": {"name": intent, "confidence": 0.93}, "entities": entities or [], "text": text,
              "message_id": "m1", "metadata": {}, "intent_ranking": ranking or [{"name": intent, "confidence": 0.93}]}
    tracker = {"sender_id": "web:s-1", "slots": slots or {}, "latest_message": latest, "latest_event_time": 1.0,
               "followup_action": None, "paused": False, "events": [], "latest_input_channel": "rest",
               "active_loop": {}, "latest_action": {"action_name": "action_listen"}, "latest_action_name": "action_listen"}
    return {"next_action": action, "sender_id": "web:s-1", "tracker": tracker, "domain": {}, "version": "3.6.21"}


@pytest.fixture
async def action_url(make_app) -> str:
    base = await make_app(nlu="rasa", rasa_action_token=TOKEN, kb_seed=True, rasa_url="http://127.0.0.1:9")
    return f"{base}/rasa/actions"


async def _post(url: str, body: Any, token: str | None = TOKEN, raw: bytes | None = None,
                content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers[TOKEN_HEADER] = token
    async with aiohttp.ClientSession() as http:
        data = raw if raw is not None else __import__("json").dumps(body, ensure_ascii=False).encode()
        async with http.post(url, data=data, headers=headers) as r:
            return r.status, await r.json()


async def test_answer_from_kb_records_entry_and_version(action_url: str) -> None:
    status, body = await _post(action_url, _call("action_answer_from_kb", "consult_kb-juzhu-001", "居住证怎么办"))
    assert status == 200
    decision = body["responses"][0]["custom"]["hotline"]
    assert decision["type"] == "answer" and decision["entry_id"] == "kb-juzhu-001" and decision["version"] == 1
    assert body["responses"][0]["text"] == decision["reply"]
    slots = {e["name"]: e["value"] for e in body["events"] if e["event"] == "slot"}
    assert slots["kb_entry"] == "kb-juzhu-001" and slots["kb_version"] == 1.0
    assert to_decision([{"text": decision["reply"]}, {"custom": body["responses"][0]["custom"]}]).entry_id == "kb-juzhu-001"


async def test_close_kb_intents_ask_which_one_then_the_choice_answers(action_url: str) -> None:
    ranking = [{"name": "consult_kb-juzhu-001", "confidence": 0.46}, {"name": "consult_kb-juzhu-002", "confidence": 0.44}]
    status, body = await _post(action_url, _call("action_answer_from_kb", "consult_kb-juzhu-001", "居住证", ranking=ranking))
    decision = body["responses"][0]["custom"]["hotline"]
    assert status == 200 and decision["type"] == "clarify"
    options = [o["entry_id"] for o in decision["options"]]
    assert options == ["kb-juzhu-001", "kb-juzhu-002"]
    status, body = await _post(action_url, _call("action_choose_option", "choose_option", "第二个", slots={"kb_options": options}))
    assert body["responses"][0]["custom"]["hotline"]["entry_id"] == "kb-juzhu-002"


async def test_forward_takes_place_and_phone_from_entities(action_url: str) -> None:
    entities = [{"entity": "street", "value": "望京", "extractor": "RegexEntityExtractor"},
                {"entity": "phone", "value": "13912345678", "extractor": "RegexEntityExtractor"},
                {"entity": "time", "value": "每天晚上", "extractor": "RegexEntityExtractor"}]
    status, body = await _post(action_url, _call("action_forward_request", "complaint", "望京这边每天晚上施工太吵了 13912345678", entities))
    decision = body["responses"][0]["custom"]["hotline"]
    assert status == 200 and decision["type"] == "forward" and decision["kind"] == "complaint"
    assert decision["location"]["district"] == "朝阳区" and decision["location"]["street"] == "望京街道"
    assert decision["phone"] == "+8613912345678" and any("每天晚上" in r for r in decision["reasons"])


async def test_entry_no_longer_served_is_not_answered(action_url: str) -> None:
    status, body = await _post(action_url, _call("action_answer_from_kb", "consult_kb-gone-999", "旧政策"))
    decision = body["responses"][0]["custom"]["hotline"]
    assert status == 200 and decision["type"] == "forward" and decision["kind"] == "consultation"


@pytest.mark.parametrize("case, status, code", [
    ("no token", 401, "action_token_invalid"),
    ("wrong token", 401, "action_token_invalid"),
    ("not json", 415, "unsupported_media_type"),
    ("broken json", 400, "invalid_json"),
    ("no tracker", 400, "invalid_action_call"),
    ("unknown action", 404, "action_not_found"),
])
async def test_bad_action_calls_are_refused_specifically(action_url: str, case: str, status: int, code: str) -> None:
    good = _call("action_handoff", "handoff", "转人工")
    if case == "no token":
        got = await _post(action_url, good, token=None)
    elif case == "wrong token":
        got = await _post(action_url, good, token="guess")
    elif case == "not json":
        got = await _post(action_url, good, raw=b"next_action=x", content_type="application/x-www-form-urlencoded")
    elif case == "broken json":
        got = await _post(action_url, None, raw=b'{"next_action": ')
    elif case == "no tracker":
        got = await _post(action_url, {"next_action": "action_handoff"})
    else:
        got = await _post(action_url, _call("action_make_coffee", "handoff", "x"))
    assert got[0] == status, got
    assert got[1]["error"] == code and got[1]["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in got[1]["message"])  # Chinese for people
    if case == "unknown action":
        assert got[1]["action_name"] == "action_make_coffee"  # what Rasa's RemoteAction reads


async def test_without_a_token_only_loopback_may_call(make_app) -> None:
    base = await make_app(nlu="rasa", kb_seed=True)
    status, _ = await _post(f"{base}/rasa/actions", _call("action_handoff", "handoff", "转人工"), token=None)
    assert status == 200  # the test client is on loopback


async def test_embedded_engine_does_not_mount_the_action_endpoint(app_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{app_url}/rasa/actions", json={}) as r:
            assert r.status in (404, 405)


async def test_rasa_unreachable_means_the_embedded_engine_decides(make_app, redis_url: str) -> None:
    base = await make_app(nlu="rasa", kb_seed=True, rasa_url="http://127.0.0.1:9", rasa_timeout_seconds=1.0)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/v1/chat", json={"session_id": "no-rasa-0001", "text": "居住证怎么申请"}) as r:
            reply = await r.json()
    assert reply["decision"] == "answer" and reply["entry"]["id"] == "kb-juzhu-001"


async def test_emergency_guard_decides_before_rasa_is_asked(make_app, redis_url: str) -> None:
    from redis.asyncio import Redis

    from gateway.tickets import Tickets

    # Rasa is unreachable, yet this is no fallback: the guard decided before asking it.
    base = await make_app(nlu="rasa", kb_seed=True, rasa_url="http://127.0.0.1:9", rasa_timeout_seconds=1.0)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/v1/chat", json={"session_id": "guard-000001", "text": "厨房着火了，火苗很大"}) as r:
            reply = await r.json()
    assert reply["decision"] == "emergency" and reply["line"] == "119"
    redis = Redis.from_url(redis_url)
    try:
        ticket = await Tickets(redis).get(reply["ticket_id"])
    finally:
        await redis.aclose()
    decided = [h.detail for h in ticket.history if h.event == "bot_decided"][-1]
    assert decided["engine"] == "embedded" and decided["guard"] == "emergency" and "fallback" not in decided


def test_reply_without_a_decision_payload() -> None:
    assert to_decision([{"recipient_id": "x", "text": "您好"}]).type == "clarify"
    with pytest.raises(RasaUnavailable) as err:
        to_decision([])
    assert err.value.code == "rasa_bad_reply"


def test_export_makes_one_consultation_intent_per_entry_from_its_phrasings() -> None:
    versions = list(starter_snapshot().entries.values())
    files = rasa_export.kb_files(versions, "test")
    nlu = yaml.safe_load(files["data/kb_nlu.yml"])["nlu"]
    assert len(nlu) == len(versions)
    first = next(i for i in nlu if i["intent"] == "consult_kb-juzhu-001")
    examples = [line[2:] for line in first["examples"].splitlines()]
    entry = starter_snapshot().entries["kb-juzhu-001"]
    assert examples[0] == entry.title and set(entry.phrasings) <= set(examples)
    domain = yaml.safe_load(files["domain/kb.yml"])
    assert "consult_kb-juzhu-001" in domain["intents"]
    assert rasa_export.entry_for("consult_kb-juzhu-001") == "kb-juzhu-001" and rasa_export.entry_for("consult_other") is None


def test_committed_training_data_matches_the_sample_kb() -> None:
    """bot/rasa/ holds the export of the sample KB; after editing it, run `hotline rasa export --from-seed`."""
    from bot.rasa.cli import SEED_SOURCE

    files = {**rasa_export.kb_files(list(starter_snapshot().entries.values()), SEED_SOURCE), **rasa_export.place_files()}
    for rel, content in files.items():
        assert (rasa_export.PROJECT / rel).read_text(encoding="utf-8") == content, rel


def test_venv_marker_holds_the_recipe_hash(tmp_path) -> None:
    """`hotline rasa setup` skips a venv built from this recipe and rebuilds any other."""
    import sys

    from bot.rasa import venv as rasa_venv

    home = tmp_path / "rasa-home"
    (home / "venv" / "bin").mkdir(parents=True)
    (home / "venv" / "bin" / "rasa").write_text("#!/bin/sh\n")
    assert not rasa_venv.is_complete(home, sys.executable)  # no marker: half-built
    (home / "venv" / rasa_venv.MARKER).write_text("0" * 64 + "\n")
    assert not rasa_venv.is_complete(home, sys.executable)  # another recipe
    (home / "venv" / rasa_venv.MARKER).write_text(rasa_venv.recipe_hash(sys.executable) + "\n")
    assert rasa_venv.is_complete(home, sys.executable)
    assert rasa_venv.setup(home, sys.executable) == home / "venv"  # complete: nothing to do, no pip


def test_model_name_follows_the_training_data(tmp_path) -> None:
    import shutil

    from bot.rasa import model as rasa_model

    project = tmp_path / "project"
    shutil.copytree(rasa_export.PROJECT, project, ignore=shutil.ignore_patterns(".rasa", "models"))
    before = rasa_model.model_path(project, tmp_path)
    assert before == rasa_model.model_path(project, tmp_path)  # stable
    nlu = project / "data" / "nlu.yml"
    nlu.write_text(nlu.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert rasa_model.model_path(project, tmp_path) != before
