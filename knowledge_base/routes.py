"""Editor and reviewer API of the knowledge base, and the /kb page."""
from __future__ import annotations

import asyncio
import difflib
import json
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway import clock, keys
from gateway.app_keys import REDIS
from gateway.auth import requires
from gateway.bodies import read_request
from gateway.errors import ApiError
from gateway.json_io import json_response as _json
from gateway.json_io import read_model
from gateway.sessions import STAFF_SESSION
from knowledge_base import transfer
from knowledge_base.app_keys import IMPORT_TASKS, KNOWLEDGE
from knowledge_base.models import EntryContent, EntryStatus
from knowledge_base.store import KnowledgeBase, WorkflowError

STATIC = Path(__file__).with_name("static")
READ = ("kb_editor", "kb_reviewer", "admin")
EDIT = ("kb_editor", "admin")
REVIEW = ("kb_reviewer", "admin")
IMPORT_MAX_BYTES = 20 * 1024 * 1024


class NewEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, description="optional entry id (lower-case letters, digits, '-')")
    content: EntryContent


class SaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_version: int = Field(ge=1, description="the version the editor started from")
    content: EntryContent


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(None, ge=1)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_version: int = Field(ge=1)


class TryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)


class SynonymsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groups: list[list[str]] = Field(max_length=5000)


async def read_body(request: web.Request, model: type[BaseModel]) -> Any:
    return await read_model(request, model, transfer._message, "内容有误，请按提示修改")


def _kb(request: web.Request) -> KnowledgeBase:
    return request.app[KNOWLEDGE].kb


def _user(request: web.Request) -> str:
    return request[STAFF_SESSION]["user"]


@web.middleware
async def workflow_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except WorkflowError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


async def page(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "kb.html")


@requires(*READ)
async def list_entries(request: web.Request) -> web.Response:
    q = request.query.get("q", "").strip().lower()
    status = request.query.get("status")
    category = request.query.get("category")
    now = clock.now()
    try:
        days = min(max(int(request.query.get("expiring_days", "30")), 0), 3650)
    except ValueError:
        raise ApiError(422, "validation_failed", "expiring_days 须为天数", [{"field": "expiring_days", "code": "invalid", "message": "请输入天数"}]) from None
    soon = (now + timedelta(days=days)).date()
    states = await _kb(request).list_states()
    published = {v.entry_id: v for v in await _kb(request).published_versions(states)}
    latest = {v.entry_id: v for v in await _kb(request).latest_versions(states)}
    items = []
    for state in states:
        version = latest[state.id]
        live = published.get(state.id)
        row = state.public() | {
            "expires_at": live.expires_at if live else version.expires_at,
            "review_due": version.review_due,
            "expiring_soon": bool(live and live.expires_at and now.date() <= live.expires_at <= soon),
            "expired": bool(live and not live.in_force(now) and live.expires_at and live.expires_at <= now.date()),
            "review_overdue": bool(version.review_due and version.review_due < now.date()),
            "sample": version.sample,
        }
        if status and state.status != status:
            continue
        if category and state.category != category:
            continue
        if request.query.get("expiring") == "1" and not row["expiring_soon"]:
            continue
        if request.query.get("review_overdue") == "1" and not row["review_overdue"]:
            continue
        if q and q not in (state.id + version.title + " ".join(version.phrasings) + version.answer).lower():
            continue
        items.append(row)
    items.sort(key=lambda r: r["updated_at"], reverse=True)
    categories = sorted({s.category for s in states})
    return _json({"items": items, "categories": categories})


@requires(*EDIT)
async def create_entry(request: web.Request) -> web.Response:
    body: NewEntryIn = await read_body(request, NewEntryIn)
    state = await _kb(request).create(body.content, _user(request), body.id)
    return _json(state.public(), status=201)


@requires(*READ)
async def get_entry(request: web.Request) -> web.Response:
    entry_id = request.match_info["entry_id"]
    kb = _kb(request)
    state = await kb.state(entry_id)
    versions = await kb.versions(entry_id)
    return _json({"state": state.public(), "versions": [v.model_dump(mode="json") for v in versions]})


@requires(*EDIT)
async def save_entry(request: web.Request) -> web.Response:
    body: SaveIn = await read_body(request, SaveIn)
    state = await _kb(request).save(request.match_info["entry_id"], body.content, _user(request), body.base_version)
    return _json(state.public())


@requires(*EDIT)
async def submit_entry(request: web.Request) -> web.Response:
    return _json((await _kb(request).submit(request.match_info["entry_id"], _user(request))).public())


@requires(*REVIEW)
async def publish_entry(request: web.Request) -> web.Response:
    body: PublishIn = await read_body(request, PublishIn) if request.can_read_body else PublishIn()
    return _json((await _kb(request).publish(request.match_info["entry_id"], _user(request), body.version)).public())


@requires(*REVIEW)
async def reject_entry(request: web.Request) -> web.Response:
    body: RejectIn = await read_body(request, RejectIn)
    return _json((await _kb(request).reject(request.match_info["entry_id"], _user(request), body.reason)).public())


@requires(*REVIEW)
async def archive_entry(request: web.Request) -> web.Response:
    return _json((await _kb(request).archive(request.match_info["entry_id"], _user(request))).public())


@requires(*EDIT)
async def rollback_entry(request: web.Request) -> web.Response:
    body: RollbackIn = await read_body(request, RollbackIn)
    return _json((await _kb(request).rollback(request.match_info["entry_id"], body.to_version, _user(request))).public())


@requires(*READ)
async def diff_entry(request: web.Request) -> web.Response:
    entry_id = request.match_info["entry_id"]
    try:
        a, b = int(request.query["from"]), int(request.query["to"])
    except (KeyError, ValueError):
        raise ApiError(422, "validation_failed", "请指定要比较的两个版本号（from、to）") from None
    old, new = await _kb(request).version(entry_id, a), await _kb(request).version(entry_id, b)
    fields = []
    old_data, new_data = old.content().model_dump(mode="json"), new.content().model_dump(mode="json")
    for name in old_data:
        left, right = _as_text(old_data[name]), _as_text(new_data[name])
        fields.append({"field": name, "changed": left != right, "left": left, "right": right,
                       "ops": difflib.SequenceMatcher(None, left, right, autojunk=False).get_opcodes() if left != right else []})
    return _json({"entry_id": entry_id, "from": old.model_dump(mode="json"), "to": new.model_dump(mode="json"), "fields": fields})


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else str(v) for v in value)
    return "" if value is None else str(value)


@requires(*REVIEW)
async def review_queue(request: web.Request) -> web.Response:
    states = [s for s in await _kb(request).list_states() if s.status == EntryStatus.in_review]
    authors = {v.entry_id: v.author for v in await _kb(request).latest_versions(states)}
    items = [s.public() | {"author": authors.get(s.id)} for s in sorted(states, key=lambda s: s.updated_at)]
    return _json({"items": items})


@requires(*READ)
async def recall(request: web.Request) -> web.Response:
    entry_id = request.match_info["entry_id"]
    by_version = await _kb(request).answered_with_superseded(entry_id)
    if request.query.get("format") == "csv":
        lines = ["entry_id,version,ticket_id"] + [f"{entry_id},{v},{t}" for v, ids in sorted(by_version.items()) for t in ids]
        return web.Response(body=("\ufeff" + "\n".join(lines) + "\n").encode(), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{entry_id}-recall.csv"'})
    return _json({"entry_id": entry_id, "versions": [{"version": v, "tickets": ids} for v, ids in sorted(by_version.items())]})


@requires(*READ)
async def get_synonyms(request: web.Request) -> web.Response:
    return _json({"groups": await _kb(request).synonyms()})


@requires(*EDIT)
async def put_synonyms(request: web.Request) -> web.Response:
    body: SynonymsIn = await read_body(request, SynonymsIn)
    groups = [[t.strip() for t in g if t.strip()] for g in body.groups]
    groups = [g for g in groups if len(g) >= 2]
    await _kb(request).set_synonyms(groups, _user(request))
    return _json({"groups": groups})


@requires(*READ)
async def audit(request: web.Request) -> web.Response:
    return _json({"items": await _kb(request).audit(request.query.get("entry"), count=200)})


@requires(*READ)
async def export_entries(request: web.Request) -> web.Response:
    fmt = request.query.get("format", "yaml")
    if fmt not in ("yaml", "csv"):
        raise ApiError(422, "validation_failed", "导出格式只支持 yaml 或 csv")
    data = transfer.export(await _kb(request).latest_versions(), fmt)
    ctype = "text/csv" if fmt == "csv" else "application/yaml"
    return web.Response(body=data, content_type=ctype, charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="knowledge-base.{fmt}"'})


@requires(*EDIT)
async def start_import(request: web.Request) -> web.Response:
    fmt = request.query.get("format", "")
    if fmt not in ("yaml", "csv"):
        raise ApiError(422, "validation_failed", "请指定导入格式：yaml 或 csv")
    data = await read_request(request, IMPORT_MAX_BYTES, message="导入文件不能超过20MB")
    try:
        rows = transfer.parse(data, fmt)
    except transfer.ImportFormatError as exc:
        raise ApiError(422, "invalid_import_file", str(exc)) from None
    state = {"id": secrets.token_hex(8), "phase": "validating", "total": len(rows), "done": 0, "errors": [], "result": None}
    await _save_job(request.app, state)
    task = asyncio.create_task(_run_import(request.app, state, rows, _user(request)))
    request.app[IMPORT_TASKS].add(task)
    task.add_done_callback(request.app[IMPORT_TASKS].discard)
    return _json(state, status=202)


IMPORT_JOB_TTL = 24 * 3600


def _job_key(job: str) -> str:
    return f"{keys.P}kb:import:{job}"


async def _save_job(app: web.Application, state: dict[str, Any]) -> None:
    # In Redis, so that any gateway instance can report the progress.
    await app[REDIS].set(_job_key(state["id"]), json.dumps(state, ensure_ascii=False, default=str), ex=IMPORT_JOB_TTL)


async def _run_import(app: web.Application, state: dict[str, Any], rows: list[dict[str, Any]], author: str) -> None:
    parsed = transfer.ParsedImport()
    seen: set[str] = set()
    for start in range(0, len(rows), 200):  # validate in slices so the progress bar moves
        part = await asyncio.to_thread(transfer.validate, rows[start:start + 200], start + 1, seen)
        parsed.rows += part.rows
        parsed.errors += part.errors
        state["done"] = min(start + 200, len(rows))
        await _save_job(app, state)
    if parsed.errors:
        state.update(phase="failed", errors=[e.__dict__ for e in parsed.errors[:1000]])
    else:
        state["phase"] = "applying"
        await _save_job(app, state)
        try:
            state.update(phase="done", result=await app[KNOWLEDGE].kb.import_rows(parsed.rows, author))
        except Exception as exc:  # nothing was applied: the transaction did not run
            state.update(phase="failed", errors=[{"row": 0, "entry_id": None, "field": "import", "message": f"写入失败，未导入任何条目：{exc}"}])
    await _save_job(app, state)


@requires(*EDIT)
async def import_status(request: web.Request) -> web.Response:
    raw = await request.app[REDIS].get(_job_key(request.match_info["job"][:64]))
    if raw is None:
        raise ApiError(404, "import_not_found", "导入任务不存在或已过期")
    return web.Response(body=raw, content_type="application/json")


def setup(app: web.Application) -> None:
    app.middlewares.append(workflow_errors)
    app[IMPORT_TASKS] = set()
    r = app.router
    r.add_get("/kb", page, name="kb_page")
    r.add_static("/static/kb/", STATIC, name="kb_static")
    r.add_get("/api/v1/kb/entries", list_entries, name="kb_list")
    r.add_post("/api/v1/kb/entries", create_entry, name="kb_create")
    r.add_get("/api/v1/kb/entries/{entry_id}", get_entry, name="kb_get")
    r.add_put("/api/v1/kb/entries/{entry_id}", save_entry, name="kb_save")
    r.add_post("/api/v1/kb/entries/{entry_id}/submit", submit_entry, name="kb_submit")
    r.add_post("/api/v1/kb/entries/{entry_id}/publish", publish_entry, name="kb_publish")
    r.add_post("/api/v1/kb/entries/{entry_id}/reject", reject_entry, name="kb_reject")
    r.add_post("/api/v1/kb/entries/{entry_id}/archive", archive_entry, name="kb_archive")
    r.add_post("/api/v1/kb/entries/{entry_id}/rollback", rollback_entry, name="kb_rollback")
    r.add_get("/api/v1/kb/entries/{entry_id}/diff", diff_entry, name="kb_diff")
    r.add_get("/api/v1/kb/entries/{entry_id}/recall", recall, name="kb_recall")
    r.add_get("/api/v1/kb/review-queue", review_queue, name="kb_review_queue")
    r.add_get("/api/v1/kb/synonyms", get_synonyms, name="kb_synonyms")
    r.add_put("/api/v1/kb/synonyms", put_synonyms, name="kb_put_synonyms")
    r.add_get("/api/v1/kb/audit", audit, name="kb_audit")
    r.add_get("/api/v1/kb/export", export_entries, name="kb_export")
    r.add_post("/api/v1/kb/import", start_import, name="kb_import")
    r.add_get("/api/v1/kb/import/{job}", import_status, name="kb_import_status")
