"""Knowledge base: two-person publishing, rollback, audit, expiry, import/export, and publishes
reaching every instance."""
from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support.desk import add_user, login
from tests.support.kb import call, content, publish_new
from tests.support.waiting import eventually

LIBRARY = content("社区图书室几点开放？", ["社区图书室开放时间", "图书室周末开门吗", "小区图书室什么时候能去借书"],
                  "社区图书室周二至周日9:00-17:00开放，周一闭馆。")


@pytest.fixture
async def people(app_url: str, redis_url: str) -> AsyncIterator[dict[str, tuple[aiohttp.ClientSession, str]]]:
    await add_user(redis_url, "editor1", "kb_editor")
    await add_user(redis_url, "reviewer1", "kb_reviewer")
    await add_user(redis_url, "agent1", "agent")
    sessions = {name: await login(app_url, name) for name in ("editor1", "reviewer1", "agent1")}
    yield sessions
    for session, _ in sessions.values():
        await session.close()


async def _ask(http: aiohttp.ClientSession, base: str, text: str, session_id: str = "test-session-0001") -> dict:
    async with http.post(f"{base}/api/v1/chat", json={"session_id": session_id, "text": text}) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_two_person_rule_and_publishing_changes_the_answer(app_url: str, people, http: aiohttp.ClientSession) -> None:
    editor, reviewer = people["editor1"], people["reviewer1"]
    status, _ = await call(*editor, "POST", f"{app_url}/api/v1/kb/entries", {"id": "kb-test-001", "content": LIBRARY})
    assert status == 201
    assert (await _ask(http, app_url, "社区图书室开放时间"))["decision"] != "answer"  # a draft is not served

    await call(*editor, "POST", f"{app_url}/api/v1/kb/entries/kb-test-001/submit")
    status, body = await call(*editor, "POST", f"{app_url}/api/v1/kb/entries/kb-test-001/publish")
    assert status == 403 and body["error"] == "forbidden"  # editors have no publish right at all
    status, body = await call(*reviewer, "POST", f"{app_url}/api/v1/kb/entries/kb-test-001/publish")
    assert status == 200 and body["published_version"] == 1

    reply = await eventually(lambda: _ask(http, app_url, "社区图书室开放时间"), lambda r: r["decision"] == "answer", timeout=30)
    assert reply["entry"] == {"id": "kb-test-001", "version": 1} and "周一闭馆" in reply["reply"]

    # A new version goes through review again; saving from a stale version is refused.
    changed = {**LIBRARY, "answer": "社区图书室每天8:30-20:00开放，节假日照常。"}
    status, _ = await call(*editor, "PUT", f"{app_url}/api/v1/kb/entries/kb-test-001", {"base_version": 1, "content": changed})
    assert status == 200
    status, body = await call(*editor, "PUT", f"{app_url}/api/v1/kb/entries/kb-test-001", {"base_version": 1, "content": LIBRARY})
    assert status == 409 and body["error"] == "stale_version"
    await call(*editor, "POST", f"{app_url}/api/v1/kb/entries/kb-test-001/submit")
    status, _ = await call(*reviewer, "POST", f"{app_url}/api/v1/kb/entries/kb-test-001/publish")
    assert status == 200
    reply = await eventually(lambda: _ask(http, app_url, "社区图书室开放时间", "test-session-0002"), lambda r: r.get("entry", {}).get("version") == 2, timeout=30)
    assert "节假日照常" in reply["reply"]


async def test_author_may_not_publish_own_version(app_url: str, redis_url: str, http: aiohttp.ClientSession) -> None:
    await add_user(redis_url, "both1", "kb_editor", "kb_reviewer")
    both = await login(app_url, "both1")
    try:
        await call(*both, "POST", f"{app_url}/api/v1/kb/entries", {"id": "kb-test-002", "content": LIBRARY})
        await call(*both, "POST", f"{app_url}/api/v1/kb/entries/kb-test-002/submit")
        status, body = await call(*both, "POST", f"{app_url}/api/v1/kb/entries/kb-test-002/publish")
        assert status == 403 and body["error"] == "two_person_rule" and "另一位审核人" in body["message"]
    finally:
        await both[0].close()


async def test_rollback_is_a_new_reviewed_version_and_everything_is_audited(app_url: str, people) -> None:
    editor, reviewer = people["editor1"], people["reviewer1"]
    await publish_new(editor, reviewer, app_url, "kb-test-003", LIBRARY)
    await call(*editor, "PUT", f"{app_url}/api/v1/kb/entries/kb-test-003", {"base_version": 1, "content": {**LIBRARY, "answer": "临时闭馆装修，恢复时间另行通知。"}})
    await call(*editor, "POST", f"{app_url}/api/v1/kb/entries/kb-test-003/submit")
    await call(*reviewer, "POST", f"{app_url}/api/v1/kb/entries/kb-test-003/publish")

    status, state = await call(*editor, "POST", f"{app_url}/api/v1/kb/entries/kb-test-003/rollback", {"to_version": 1})
    assert status == 200 and state["latest_version"] == 3 and state["status"] == "in_review" and state["published_version"] == 2
    await call(*reviewer, "POST", f"{app_url}/api/v1/kb/entries/kb-test-003/publish")
    status, entry = await call(*editor, "GET", f"{app_url}/api/v1/kb/entries/kb-test-003")
    v1, _, v3 = entry["versions"]
    assert v3["answer"] == v1["answer"] and v3["note"] == "回滚至第 1 版"
    assert v3["author"] == "editor1" and v3["reviewer"] == "reviewer1"

    status, diff = await call(*editor, "GET", f"{app_url}/api/v1/kb/entries/kb-test-003/diff?from=2&to=3")
    assert [f["field"] for f in diff["fields"] if f["changed"]] == ["answer"]

    status, audit = await call(*editor, "GET", f"{app_url}/api/v1/kb/audit?entry=kb-test-003")
    actions = [(row["action"], row["actor"], row["version"]) for row in reversed(audit["items"])]
    assert actions == [("created", "editor1", 1), ("submitted", "editor1", 1), ("published", "reviewer1", 1),
                       ("saved", "editor1", 2), ("submitted", "editor1", 2), ("published", "reviewer1", 2),
                       ("rolled_back", "editor1", 3), ("published", "reviewer1", 3)]
    assert audit["items"][-4]["detail"]["changed"] == ["answer"]


async def test_expired_and_archived_entries_are_never_served(app_url: str, people, http: aiohttp.ClientSession) -> None:
    editor, reviewer = people["editor1"], people["reviewer1"]
    await publish_new(editor, reviewer, app_url, "kb-test-004",
                      content("夏季高温补贴发放标准是什么？", ["高温补贴多少钱", "高温津贴标准", "夏天高温补贴怎么发"],
                              "高温补贴示例答复。", effective_from="2025-06-01", expires_at="2025-09-01"))
    await publish_new(editor, reviewer, app_url, "kb-test-005",
                      content("冬季供暖什么时候开始？", ["供暖开始时间", "今年啥时候来暖气", "几号开始供暖"], "供暖示例答复：11月15日开始。"))
    assert (await _ask(http, app_url, "高温补贴多少钱"))["decision"] != "answer"
    answer = await eventually(lambda: _ask(http, app_url, "今年啥时候来暖气", "s-heating-01"), lambda r: r["decision"] == "answer")
    assert answer["entry"]["id"] == "kb-test-005"
    status, _ = await call(*reviewer, "POST", f"{app_url}/api/v1/kb/entries/kb-test-005/archive")
    assert status == 200
    await eventually(lambda: _ask(http, app_url, "今年啥时候来暖气", "s-heating-02"), lambda r: r["decision"] != "answer", timeout=30)


async def test_publish_on_one_instance_reaches_another(make_app, redis_url: str, http: aiohttp.ClientSession) -> None:
    a = await make_app(instance_id="kb-a")
    b = await make_app(instance_id="kb-b")
    await add_user(redis_url, "editor1", "kb_editor")
    await add_user(redis_url, "reviewer1", "kb_reviewer")
    editor, reviewer = await login(a, "editor1"), await login(a, "reviewer1")
    try:
        await call(*editor, "POST", f"{a}/api/v1/kb/entries", {"id": "kb-test-006", "content": LIBRARY})
        await call(*editor, "POST", f"{a}/api/v1/kb/entries/kb-test-006/submit")
        published = time.monotonic()
        await call(*reviewer, "POST", f"{a}/api/v1/kb/entries/kb-test-006/publish")
        reply = await eventually(lambda: _ask(http, b, "社区图书室开放时间"), lambda r: r["decision"] == "answer", timeout=30)
        print(f"\npublish on A answered on B after {time.monotonic() - published:.3f}s")
        assert reply["entry"]["id"] == "kb-test-006"
    finally:
        await editor[0].close()
        await reviewer[0].close()


async def test_import_is_all_or_nothing_with_row_errors_and_export_round_trips(app_url: str, people) -> None:
    editor = people["editor1"]
    session, csrf = editor
    bad = ("- id: kb-imp-001\n  title: 第一条导入测试问题\n  answer: 这是一条正确的答复内容。\n  category: 导入\n"
           "- id: kb-imp-002\n  title: 缺少答复\n  category: 导入\n"
           "- id: kb-imp-001\n  title: 重复编号的问题\n  answer: 这是一条重复编号的答复。\n  category: 导入\n")
    job = await _import(session, csrf, app_url, bad.encode(), "yaml")
    assert job["phase"] == "failed"
    assert {(e["row"], e["field"]) for e in job["errors"]} == {(2, "answer"), (3, "id")}
    status, listing = await call(session, csrf, "GET", f"{app_url}/api/v1/kb/entries")
    assert listing["items"] == []  # nothing half-applied

    good = bad.split("- id: kb-imp-002")[0] + "- id: kb-imp-003\n  title: 第三条导入测试问题\n  answer: 第三条的答复内容。\n  category: 导入\n  phrasings: [第三条别的问法, 另一个问法]\n"
    job = await _import(session, csrf, app_url, good.encode(), "yaml")
    assert job["phase"] == "done" and job["result"] == {"created": 2, "updated": 0, "unchanged": 0}

    async with session.get(f"{app_url}/api/v1/kb/export?format=csv") as r:
        exported = await r.read()
    job = await _import(session, csrf, app_url, exported, "csv")
    assert job["result"] == {"created": 0, "updated": 0, "unchanged": 2}

    job_status, body = await call(session, csrf, "POST", f"{app_url}/api/v1/kb/import?format=csv")
    assert job_status in (415, 422)


async def test_bad_import_files_get_specific_errors(app_url: str, people) -> None:
    session, csrf = people["editor1"]
    cases = [
        ("yaml", "标题: [未闭合".encode(), "YAML 格式错误"),
        ("yaml", "就是一段文字".encode(), "YAML 须为条目列表"),
        ("csv", "id,title\nkb-x-001,问题\n".encode(), "缺少必需的列"),
        ("csv", "id,title,answer,category\nkb-x-001,问题,答复内容,分类\n".encode("gbk"), "UTF-8"),
    ]
    for fmt, data, expected in cases:
        async with session.post(f"{app_url}/api/v1/kb/import?format={fmt}", data=data, headers={"X-CSRF-Token": csrf}) as r:
            body = await r.json()
            assert r.status == 422 and body["error"] == "invalid_import_file" and expected in body["message"], body


async def _import(session: aiohttp.ClientSession, csrf: str, base: str, data: bytes, fmt: str) -> dict:
    async with session.post(f"{base}/api/v1/kb/import?format={fmt}", data=data, headers={"X-CSRF-Token": csrf}) as r:
        assert r.status == 202, await r.text()
        job = (await r.json())["id"]

    async def status() -> dict:
        async with session.get(f"{base}/api/v1/kb/import/{job}") as r:
            return await r.json()

    return await eventually(status, lambda s: s["phase"] in ("done", "failed"))


@pytest.mark.parametrize("payload,status,code", [
    ({"session_id": "s-bad-input-01", "text": ""}, 422, "validation_failed"),
    ({"session_id": "s-bad-input-01", "text": "居" * 100_000}, 422, "validation_failed"),
    ({"session_id": "短", "text": "居住证怎么办"}, 422, "validation_failed"),
    ({"session_id": "s-bad-input-01"}, 422, "validation_failed"),
    ({"session_id": "s-bad-input-01", "text": "居住证", "extra": 1}, 422, "validation_failed"),
])
async def test_chat_rejects_bad_input_specifically(app_url: str, http: aiohttp.ClientSession, payload: dict, status: int, code: str) -> None:
    async with http.post(f"{app_url}/api/v1/chat", json=payload) as r:
        body = await r.json()
        assert r.status == status and body["error"] == code and body["message"]


@pytest.mark.parametrize("text", ["😀😀😀", "\x00\x01控制字符\x7f", "Hello 你好 Привет مرحبا", "\u202e居住证", "   。。。   "])
async def test_chat_answers_odd_text_gracefully(app_url: str, http: aiohttp.ClientSession, text: str) -> None:
    reply = await _ask(http, app_url, text, "s-odd-text-0001")
    assert reply["decision"] in {"clarify", "forward", "answer"} and reply["reply"]


async def test_chat_records_answer_provenance_and_recall_lists_superseded_answers(app_url: str, people, http: aiohttp.ClientSession) -> None:
    editor, reviewer = people["editor1"], people["reviewer1"]
    await publish_new(editor, reviewer, app_url, "kb-test-007", LIBRARY)
    await eventually(lambda: call(*editor, "POST", f"{app_url}/api/v1/kb/try", {"text": "社区图书室开放时间"}),
                     lambda r: r[1].get("entry_id") == "kb-test-007")  # the index has the new entry
    first = await _ask(http, app_url, "社区图书室开放时间", "s-recall-0001")
    assert first["decision"] == "answer"
    status, ticket = await call(*people["agent1"], "GET", f"{app_url}/api/v1/agent/tickets/{first['ticket_id']}")
    assert ticket["disposition"] == {**ticket["disposition"], "type": "answered", "kb_entry_id": "kb-test-007", "kb_version": 1}
    assert ticket["status"] == "answered" and ticket["kind"] == "consultation"
    assert [m["who"] for m in ticket["messages"]] == ["citizen", "bot"]

    await call(*editor, "PUT", f"{app_url}/api/v1/kb/entries/kb-test-007", {"base_version": 1, "content": {**LIBRARY, "answer": "即日起图书室改为每天开放。"}})
    await call(*editor, "POST", f"{app_url}/api/v1/kb/entries/kb-test-007/submit")
    await call(*reviewer, "POST", f"{app_url}/api/v1/kb/entries/kb-test-007/publish")
    status, recall = await call(*editor, "GET", f"{app_url}/api/v1/kb/entries/kb-test-007/recall")
    assert recall["versions"] == [{"version": 1, "tickets": [first["ticket_id"]]}]
    async with editor[0].get(f"{app_url}/api/v1/kb/entries/kb-test-007/recall?format=csv") as r:
        assert first["ticket_id"] in (await r.text())


async def test_a_chat_forward_asks_for_a_phone_and_files_the_request_with_the_bots_fields(app_url: str, people, http: aiohttp.ClientSession) -> None:
    session = "s-chat-phone-0001"
    reply = await _ask(http, app_url, "朝阳区望京街道花家地小区门口的井盖丢了好几天，晚上路过很危险，一直没人管", session)
    assert reply["decision"] == "forward" and "电话" in reply["reply"]
    ticket_id = reply["ticket_id"]
    wrong = await _ask(http, app_url, "1381234", session)
    assert "不完整" in wrong["reply"] and wrong["ticket_id"] == ticket_id
    filed = await _ask(http, app_url, "我的电话是13812345678", session)
    assert filed["filed"] is True and filed["ticket_id"] == ticket_id and ticket_id in filed["reply"]
    agent = people["agent1"]
    ticket = await eventually(lambda: call(*agent, "GET", f"{app_url}/api/v1/agent/tickets/{ticket_id}"),
                              lambda r: any(d["outcome"] == "delivered" for d in r[1]["deliveries"]))
    ticket = ticket[1]
    assert ticket["requester"]["phone"] == "+8613812345678" and ticket["kind"] in ("complaint", "help")
    assert ticket["location"]["district"] == "朝阳区" and ticket["location"]["street"] == "望京街道"
    assert ticket["dispatch"]["unit"]["name"] and ticket["dispatch"]["by"] == "bot"
    assert {p["field"] for p in ticket["provenance"]} >= {"kind", "location", "dispatch"}
    assert [d["hop"] for d in ticket["deliveries"]] == ["case"]
    after = await _ask(http, app_url, "居住证怎么办理", session)
    assert after["ticket_id"] != ticket_id  # settled: a new request


async def test_import_errors_name_the_right_row_in_large_files(app_url: str, people) -> None:
    session, csrf = people["editor1"]
    rows = "".join(f"- id: kb-big-{i:04d}\n  title: 第{i}条批量导入的问题\n  answer: 第{i}条批量导入的答复。\n  category: 批量\n" for i in range(1, 301))
    rows += "- id: kb-big-0001\n  title: 与第一条重复的编号\n  answer: 这一条的编号重复了。\n  category: 批量\n"
    job = await _import(session, csrf, app_url, rows.encode(), "yaml")
    assert job["phase"] == "failed" and [(e["row"], e["field"]) for e in job["errors"]] == [(301, "id")]
    async with session.get(f"{app_url}/api/v1/kb/entries?expiring_days=abc") as r:
        assert r.status == 422


async def test_a_chat_handed_over_to_the_form_links_both_tickets(app_url: str, people, http: aiohttp.ClientSession) -> None:
    reply = await _ask(http, app_url, "楼下饭馆油烟太大，熏得家里没法开窗，一直没人管", "s-handover-0001")
    assert reply["decision"] == "forward" and reply["prefill"]["kind"] == "complaint"
    chat_ticket = reply["prefill"]["related_ticket"]
    assert chat_ticket == reply["ticket_id"]
    form = {"kind": reply["prefill"]["kind"], "description": reply["prefill"]["description"], "phone": "13700002222",
            "related_ticket": chat_ticket}
    async with http.post(f"{app_url}/api/v1/requests", json=form) as r:
        assert r.status == 201
        filed = (await r.json())["ticket_id"]
    agent = people["agent1"]
    _, filed_ticket = await call(*agent, "GET", f"{app_url}/api/v1/agent/tickets/{filed}")
    _, chat = await call(*agent, "GET", f"{app_url}/api/v1/agent/tickets/{chat_ticket}")
    assert filed_ticket["links"]["related"] == [chat_ticket] and chat["links"]["related"] == [filed]
    assert chat["status"] == "closed"  # closed and linked, not left open
    again = await _ask(http, app_url, "另外想问一下居住证怎么办理", "s-handover-0001")
    assert again["ticket_id"] not in (chat_ticket, filed)  # the session's next request is a new one

    async with http.post(f"{app_url}/api/v1/requests", json={**form, "related_ticket": "not-a-ticket"}) as r:
        body = await r.json()
        assert r.status == 422 and body["fields"][0]["field"] == "related_ticket"
    async with http.post(f"{app_url}/api/v1/requests", json={**form, "related_ticket": filed}) as r:
        assert r.status == 201  # a form ticket is not a chat: accepted, and nothing is linked back to it
    _, filed_again = await call(*agent, "GET", f"{app_url}/api/v1/agent/tickets/{filed}")
    assert filed_again["links"]["related"] == [chat_ticket]
