"""Agent desktop and supervisor routes: login, live ticket list, ticket detail and actions,
dead letters (the local inbox is in local_inbox_routes.py). Every route declares its roles with `requires`."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from gateway import clock, keys
from gateway.app_keys import BLOBS, LIVE_HUB, METRICS, OUTBOX, REDIS, SESSIONS, SETTINGS, TICKETS
from gateway.auth import actor, change_password, log_in, requires
from gateway.errors import ApiError
from gateway.geography import district_code, districts
from gateway.json_io import json_response as _json
from gateway.json_io import read_model as _body
from gateway.live_events import DeskConnection
from gateway.media_types import sniff
from gateway.outbox import ALREADY_REDRIVEN, CASE_HOP, DEAD_LETTER_PAGE_MAX, NOT_FOUND, RedriveCounts, is_stream_id
from gateway.phone_numbers import InvalidPhone, mask, to_e164
from gateway.redis_faults import REDIS_UNREACHABLE
from gateway.route_tickets import ticket_or_404
from gateway.sessions import STAFF_SESSION
from gateway.ticket import Dispatch, HandlingUnit, HistoryEvent, Kind, Location, Message, Provenance, Ticket
from knowledge_base.app_keys import KNOWLEDGE
from server.registry import channels
from triage import corrections
from triage.app_keys import CATALOGUE
from triage.assessment import assess_and_fill
from triage.dispatch import Catalogue
from triage.hotspots import HotspotRules
from triage.taxonomy import topics

STATIC = Path(__file__).resolve().parents[1] / "gateway" / "static" / "agent"  # the desk page and what every panel shares
DESK = ("agent", "supervisor")
PRESENCE_SECONDS = 30  # how often an open desk socket refreshes the wall's 在线坐席 (server/wall.py reads 75 s)


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: str = Field(min_length=1, max_length=2000)


class LocationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    district: str | None = None
    street: str | None = Field(None, max_length=200)
    text: str | None = Field(None, max_length=300)


class DispatchPatch(BaseModel):
    """An agent confirms triage's topic and handling unit, or corrects them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    confirm: bool = False
    category: str | None = Field(None, max_length=40, description="second-level topic from the taxonomy")
    unit: str | None = Field(None, min_length=2, max_length=100, description="承办单位 name")


class DepartmentNames(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    district: str = Field(min_length=2, max_length=100, description="name at district level; {district} and {district_short} are filled in")
    city: str = Field(min_length=2, max_length=100)


class CatalogueIn(BaseModel):
    """The 派单目录 (triage/data/dispatch_catalogue.yaml explains each part)."""

    model_config = ConfigDict(extra="forbid")
    street_units: dict[str, str] = Field(max_length=8)
    street_share: float = Field(0.75, ge=0, le=1)
    departments: dict[str, DepartmentNames] = Field(max_length=200)


class TicketPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind | None = None
    location: LocationPatch | None = None
    callback_phone: str | None = Field(None, max_length=32)
    dispatch: DispatchPatch | None = None


class ForwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=500)


async def desk_page(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "agent.html")


async def login(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "请以 JSON 格式提交")  # also blocks cross-site form posts
    body: LoginIn = await _body(request, LoginIn)
    return await log_in(request, body.username, body.password)  # lock-outs and the session: gateway/auth.py


@requires(before_password_change=True)
async def logout(request: web.Request) -> web.Response:
    response = _json({"ok": True})
    await request.app[SESSIONS].destroy(request, response)
    return response


@requires(before_password_change=True)
async def me(request: web.Request) -> web.Response:
    s = request[STAFF_SESSION]
    return _json({"user": {"username": s["user"], "display_name": s["display_name"], "roles": s["roles"],
                           "must_change_password": bool(s.get("must_change_password"))}, "csrf_token": s["csrf"]})


@requires(*DESK)
async def list_tickets(request: web.Request) -> web.Response:
    try:
        limit = min(max(int(request.query.get("limit", "50")), 1), 200)
        before = int(request.query["before"]) if "before" in request.query else None
    except ValueError:
        raise ApiError(422, "validation_failed", "参数格式不正确", [{"field": "limit", "code": "invalid", "message": "须为整数"}]) from None
    return _json({"tickets": await request.app[TICKETS].recent(limit, before)})


@requires(*DESK)
async def get_ticket(request: web.Request) -> web.Response:
    return _json((await ticket_or_404(request)).public_json())


@requires(*DESK)
async def add_note(request: web.Request) -> web.Response:
    body: NoteIn = await _body(request, NoteIn)
    await ticket_or_404(request)
    user = request[STAFF_SESSION]["user"]
    at = clock.now()

    def change(ticket: Ticket) -> None:
        ticket.messages.append(Message(who="agent", at=at, text=body.text, source="note", author=user))
        return None

    await request.app[TICKETS].update(request.match_info["ticket_id"], change, HistoryEvent(at=at, actor=actor(request), event="note_added"))
    return _json((await ticket_or_404(request)).public_json())


@requires(*DESK)
async def patch_ticket(request: web.Request) -> web.Response:
    body: TicketPatch = await _body(request, TicketPatch)
    if body.location and body.location.district and body.location.district not in districts():
        raise ApiError(422, "validation_failed", "请从列表中选择北京市的区", [{"field": "location.district", "code": "invalid_district", "message": "请从列表中选择北京市的区"}])
    callback = _callback_phone(body.callback_phone)
    if body.dispatch and body.dispatch.category and body.dispatch.category not in topics():
        raise ApiError(422, "validation_failed", "请从列表中选择诉求分类",
                       [{"field": "dispatch.category", "code": "invalid_category", "message": "请从列表中选择诉求分类"}])
    before = await ticket_or_404(request)
    who = actor(request)

    def change(ticket: Ticket) -> dict[str, Any]:
        changed: dict[str, Any] = {}
        if body.dispatch is not None and (moved := set_dispatch(ticket, body.dispatch, who)):
            changed["dispatch"] = moved
        if callback is not None and callback != ticket.requester.callback_phone:
            changed["callback_phone"] = {"from": mask(ticket.requester.callback_phone), "to": mask(callback)}
            ticket.requester.callback_phone = callback
        if body.kind is not None and body.kind != ticket.kind:
            changed["kind"] = {"from": ticket.kind, "to": body.kind.value}
            ticket.kind = body.kind.value  # type: ignore[assignment]  # stored as its value (use_enum_values)
        if body.location is not None:
            old = ticket.location or Location()
            new = old.model_copy(update={k: v for k, v in body.location.model_dump(exclude_unset=True).items()})
            new.district_code = district_code(new.district) if new.district else None
            if new != old:
                changed["location"] = {"from": old.model_dump(exclude_none=True), "to": new.model_dump(exclude_none=True)}
                ticket.location = new
        # A person's correction outranks any machine-filled value: say who set it last.
        for name in changed:
            if name == "dispatch" and changed[name].get("confirmed"):
                continue
            ticket.provenance.append(Provenance(field=name, by=who, at=clock.now(), detail="坐席更正"))
        return changed

    corrected: dict[str, Any] = {}

    def recorded(ticket: Ticket) -> dict[str, Any]:
        corrected.clear()
        corrected.update(change(ticket))
        return corrected

    await request.app[TICKETS].update(
        request.match_info["ticket_id"], recorded, HistoryEvent(at=clock.now(), actor=who, event="corrected")
    )
    changes = {k: v for k, v in corrected.items() if k != "callback_phone" and not (k == "dispatch" and v.get("confirmed"))}
    if changes:
        await corrections.record(request.app[REDIS], before, changes, who, clock.now())
    return _json((await ticket_or_404(request)).public_json())


@requires(*DESK)
async def taxonomy(_: web.Request) -> web.Response:
    """The topic classes agents choose from when they correct triage."""
    levels: dict[str, list[str]] = {}
    for topic in topics().values():
        levels.setdefault(topic.l1, []).append(topic.name)
    return _json({"levels": [{"name": l1, "children": children} for l1, children in levels.items()]})


@requires("supervisor")
async def get_catalogue(request: web.Request) -> web.Response:
    return _json((await request.app[CATALOGUE].get()).as_dict())


@requires("supervisor")
async def put_catalogue(request: web.Request) -> web.Response:
    body: CatalogueIn = await _body(request, CatalogueIn)
    catalogue = Catalogue.from_dict(body.model_dump())
    if problems := catalogue.problems():
        raise ApiError(422, "invalid_catalogue", "派单目录不完整，未保存",
                       [{"field": "catalogue", "code": "invalid", "message": p} for p in problems])
    await request.app[CATALOGUE].put(catalogue)
    return _json(catalogue.as_dict())


def set_dispatch(ticket: Ticket, patch: DispatchPatch, who: str) -> dict[str, Any]:
    """Apply an agent's confirmation or correction of the dispatch block; what changed."""
    old = ticket.dispatch or Dispatch()
    new = old.model_copy(deep=True)
    if patch.category and patch.category != old.category:
        new.category, new.category_l1 = patch.category, topics()[patch.category].l1
    if patch.unit and (old.unit is None or patch.unit != old.unit.name):
        known = next((u for u in [*old.alternatives, *([old.unit] if old.unit else [])] if u.name == patch.unit), None)
        new.unit = HandlingUnit(name=patch.unit, type=known.type if known else "坐席指定")
    if new.model_dump(exclude={"by"}) == old.model_dump(exclude={"by"}):
        if not patch.confirm or old.by != "bot" or ticket.dispatch is None:
            return {}
        ticket.dispatch.by = who
        for p in ticket.provenance:
            if p.field == "dispatch" and p.confirmed_by is None:
                p.confirmed_by = who
        return {"confirmed": True}
    new.by = who
    ticket.dispatch = new
    return {"from": {"category": old.category, "unit": old.unit.name if old.unit else None},
            "to": {"category": new.category, "unit": new.unit.name if new.unit else None}}


def _callback_phone(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return to_e164(raw)
    except InvalidPhone:
        raise ApiError(422, "validation_failed", "回拨电话号码格式不正确", [{"field": "callback_phone", "code": "invalid_phone", "message": "请填写11位手机号或带区号的固定电话"}]) from None


@requires(*DESK)
async def forward(request: web.Request) -> web.Response:
    body: ForwardIn = await _body(request, ForwardIn) if request.can_read_body else ForwardIn()
    ticket = await ticket_or_404(request)
    # Triage assesses what the agent filed (call, video, partner transfer) and fills only what
    # the agent left open, so the case system gets a topic and a recommended unit.
    assessment = await assess_and_fill(request.app[TICKETS], ticket.id, request.app[KNOWLEDGE].snapshot, clock.now(),
                                      HotspotRules.of(request.app[SETTINGS]))
    event = HistoryEvent(at=clock.now(), actor=actor(request), event="forward_requested",
                         detail={"hop": CASE_HOP, "reason": body.reason, "bot": assessment.record})
    if not await request.app[OUTBOX].enqueue(ticket.id, CASE_HOP, event):
        raise ApiError(409, "already_forwarded", "该工单已转派，无需重复操作")
    return _json({"queued": True}, status=202)


@requires(*DESK)
async def blob(request: web.Request) -> web.Response:
    sha = request.match_info["sha256"]
    data = request.app[BLOBS].get(sha)
    if data is None:
        raise ApiError(404, "blob_not_found", "附件不存在")
    return web.Response(body=data, content_type=sniff(data[:32]) or "application/octet-stream",
                        headers={"Content-Disposition": "inline", "X-Content-Type-Options": "nosniff"})


def _dead_letter_query(request: web.Request) -> tuple[str | None, int, str | None]:
    q = request.query
    before = q.get("before") or None
    hop = q.get("hop") or None
    try:
        limit = int(q.get("limit", "100"))
    except ValueError:
        limit = 0
    errors = []
    if before is not None and not is_stream_id(before):
        errors.append({"field": "before", "code": "invalid", "message": "须为上一页返回的 next 值"})
    if not 1 <= limit <= DEAD_LETTER_PAGE_MAX:
        errors.append({"field": "limit", "code": "invalid", "message": f"须为 1 到 {DEAD_LETTER_PAGE_MAX} 的整数"})
    if hop is not None and len(hop) > 64:
        errors.append({"field": "hop", "code": "too_long", "message": "环节名称过长"})
    if errors:
        raise ApiError(422, "validation_failed", "参数格式不正确", errors)
    return before, limit, hop


@requires("supervisor")
async def dead_letters(request: web.Request) -> web.Response:
    before, limit, hop = _dead_letter_query(request)
    page = await request.app[OUTBOX].dead_letters(before, limit, hop)
    return _json({"items": page.items, "next": page.next, "total": page.total})


@requires("supervisor")
async def redrive(request: web.Request) -> web.Response:
    entry_id = request.match_info["entry_id"]
    result = await request.app[OUTBOX].redrive(entry_id, actor(request)) if is_stream_id(entry_id) else None
    if result is None or result.outcome == NOT_FOUND:
        raise ApiError(404, "dead_letter_not_found", "该死信不存在或已重新投递")
    if result.outcome == ALREADY_REDRIVEN:
        raise ApiError(409, "already_redriven", "该条已被重新投递")
    return _json({"queued": True, "ticket_id": result.ticket_id}, status=202)


class BulkRedriveIn(BaseModel):
    """Either `entry_ids`, or `all: true` (optionally only one hop or hop family, `hop`)."""
    model_config = ConfigDict(extra="forbid")
    entry_ids: list[str] | None = Field(None, min_length=1, max_length=DEAD_LETTER_PAGE_MAX)
    all: bool = False
    hop: str | None = Field(None, min_length=1, max_length=64)


@requires("supervisor")
async def redrive_bulk(request: web.Request) -> web.Response:
    body: BulkRedriveIn = await _body(request, BulkRedriveIn)
    outbox = request.app[OUTBOX]
    if body.all == (body.entry_ids is not None):
        raise ApiError(422, "validation_failed", "请选择要重新投递的死信，或选择全部", [
            {"field": "entry_ids", "code": "entry_ids_or_all", "message": "须提供 entry_ids 或 all: true 二者之一"}])
    if body.entry_ids is not None:
        bad = [i for i in body.entry_ids if not is_stream_id(i)]
        if bad:
            raise ApiError(422, "validation_failed", "死信编号格式不正确", [
                {"field": "entry_ids", "code": "invalid_entry_id", "message": f"无效的编号：{bad[0][:40]}"}])
        counts = RedriveCounts()
        for result in await outbox.redrive_many(body.entry_ids, actor(request)):
            counts.add(result)
    else:
        counts = await outbox.redrive_matching(actor(request), hop=body.hop)
    message = f"已重新投递 {counts.redriven} 条" + (f"，{counts.already_gone} 条已被他人处理或不存在" if counts.already_gone else "")
    return _json({"redriven": counts.redriven, "already_gone": counts.already_gone, "message": message}, status=202)


@requires(*DESK)
async def desk_socket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=20)
    session = request[STAFF_SESSION]
    hub = request.app[LIVE_HUB]
    conn = DeskConnection(ws=ws, username=session["user"], roles=frozenset(session["roles"]))
    request.app[METRICS].websockets.inc()
    sender: asyncio.Task[None] | None = None
    presence: asyncio.Task[None] | None = None
    try:
        # Subscribed before the socket opens: the desk reloads its list on open, and no event
        # may fall between that reload and the first push.
        await hub.add(conn)
        await ws.prepare(request)
        sender = asyncio.create_task(_pump(conn))
        if request.query.get("watch") != "wall":  # the supervisor wall listens, it takes no calls
            presence = asyncio.create_task(_present(request.app[REDIS], conn))
        await ws.send_str(json.dumps({"type": "hello", "instance": request.app[SETTINGS].instance_id}))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == "ping":
                await ws.send_str('{"type":"pong"}')
    finally:
        hub.remove(conn)
        for task in (sender, presence):
            if task is not None:
                task.cancel()
        request.app[METRICS].websockets.dec()
    return ws


async def _present(redis: Redis, conn: DeskConnection) -> None:
    """Keep the user on the wall's 在线坐席 while this socket is open (a missed refresh, e.g. in
    a Redis outage, only drops them from the count until the next one)."""
    while not conn.ws.closed:
        try:
            await redis.zadd(keys.DESKS_ONLINE, {conn.username: time.time()})
        except REDIS_UNREACHABLE:
            pass
        await asyncio.sleep(PRESENCE_SECONDS)


async def _pump(conn: DeskConnection) -> None:
    while not conn.ws.closed:
        await conn.ws.send_str(await conn.queue.get())


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/agent", desk_page, name="desk_page")
    r.add_get("/api/v1/agent/desk-panels", desk_panels, name="desk_panels")
    r.add_static("/static/agent/", STATIC, name="desk_static")
    r.add_static("/static/common/", STATIC.with_name("common"), name="common_static")  # staff.js / staff.css for /agent and /kb
    r.add_post("/api/v1/auth/login", login, name="login")
    r.add_post("/api/v1/auth/logout", logout, name="logout")
    r.add_get("/api/v1/auth/me", me, name="me")
    r.add_post("/api/v1/auth/password", change_password, name="change_password")
    r.add_get("/api/v1/agent/tickets", list_tickets, name="list_tickets")
    r.add_get("/api/v1/agent/tickets/{ticket_id}", get_ticket, name="get_ticket")
    r.add_patch("/api/v1/agent/tickets/{ticket_id}", patch_ticket, name="patch_ticket")
    r.add_post("/api/v1/agent/tickets/{ticket_id}/notes", add_note, name="add_note")
    r.add_post("/api/v1/agent/tickets/{ticket_id}/forward", forward, name="forward")
    r.add_get("/api/v1/agent/blobs/{sha256}", blob, name="blob")
    r.add_get("/api/v1/agent/ws", desk_socket, name="desk_socket")
    r.add_get("/api/v1/supervisor/dead-letters", dead_letters, name="dead_letters")
    r.add_post("/api/v1/supervisor/dead-letters/{entry_id}/redrive", redrive, name="redrive")
    r.add_post("/api/v1/supervisor/dead-letters/redrive", redrive_bulk, name="redrive_bulk")
    r.add_get("/api/v1/agent/taxonomy", taxonomy, name="taxonomy")
    r.add_get("/api/v1/supervisor/dispatch-catalogue", get_catalogue, name="get_dispatch_catalogue")
    r.add_put("/api/v1/supervisor/dispatch-catalogue", put_catalogue, name="put_dispatch_catalogue")


@requires(*DESK)
async def desk_panels(request: web.Request) -> web.Response:
    """The channels' panels of the agent desk (each a module that calls AgentDesk.register)."""
    panels = [{"channel": c.name, "script": f"/static/{c.name}/{c.desk_panel}",
               "styles": [f"/static/{c.name}/{style}" for style in c.desk_styles]}
              for c in channels() if c.desk_panel is not None]
    return _json({"panels": panels})
