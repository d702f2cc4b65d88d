"""热点 for supervisors: list them, publish a notice from one (a knowledge-base entry the bot
answers with at once, with an expiry), close one. Detection: triage/hotspots.py."""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway import clock
from gateway.app_keys import REDIS, SETTINGS
from gateway.auth import actor, requires
from gateway.errors import ApiError
from gateway.json_io import json_response, read_model
from gateway.tickets import documents
from knowledge_base.app_keys import KNOWLEDGE
from knowledge_base.models import EntryContent
from knowledge_base.store import NOTICE_MAX_DAYS, WorkflowError
from triage import hotspots
from triage.hotspots import Hotspot, HotspotRules

_LONG_DIGITS = re.compile(r"\d{5,}")  # phone numbers, ids: never copied from a citizen's text
SAMPLE_PHRASINGS = 5


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: str = Field(min_length=5, max_length=1000, description="what the bot tells citizens, e.g. 望京街道停水，预计18时恢复")
    expires_at: date | None = Field(None, description=f"the day it stops being served (Beijing); default tomorrow, at most {NOTICE_MAX_DAYS} days")


async def _hotspot(request: web.Request) -> Hotspot:
    found = await hotspots.load(request.app[REDIS], request.match_info["hotspot_id"])
    if found is None:
        raise ApiError(404, "hotspot_not_found", "该热点不存在")
    return found


def _view(request: web.Request, hotspot: Hotspot) -> dict[str, Any]:
    return hotspot.view(HotspotRules.of(request.app[SETTINGS]).window, clock.now().timestamp() * 1000)


@requires("supervisor")
async def list_hotspots(request: web.Request) -> web.Response:
    rules = HotspotRules.of(request.app[SETTINGS])
    found = await hotspots.listed(request.app[REDIS])
    return json_response({"hotspots": [_view(request, h) for h in found],
                          "rules": {"min_citizens": rules.min_citizens, "window_minutes": int(rules.window.total_seconds() // 60)}})


@requires("supervisor")
async def get_hotspot(request: web.Request) -> web.Response:
    return json_response(_view(request, await _hotspot(request)))


async def _phrasings(request: web.Request, hotspot: Hotspot) -> list[str]:
    """How citizens put it: the area and topic, and the first requests' own words (long digit
    runs removed), so the bot finds the notice for the next citizen who asks the same."""
    place = hotspot.street or hotspot.district
    said = [f"{place}{hotspot.topic}", f"{place}{hotspot.topic}什么时候恢复", f"{hotspot.district}{place}{hotspot.topic}问题"]
    ids = [t for t, _ in hotspot.tickets[:SAMPLE_PHRASINGS]]
    for ticket in await documents(request.app[REDIS], ids):
        content = _LONG_DIGITS.sub("", ticket.content).strip()[:200]
        if len(content) >= 4:
            said.append(content)
    return said


@requires("supervisor")
async def publish_notice(request: web.Request) -> web.Response:
    body = await read_model(request, NoticeIn)
    hotspot = await _hotspot(request)
    if hotspot.state != "open":
        raise ApiError(409, "hotspot_closed", "该热点已关闭，不能再发布公告")
    today = clock.now().date()
    expires = body.expires_at or today + timedelta(days=1)
    if expires <= today:
        raise ApiError(422, "validation_failed", "公告失效日期须晚于今天", [
            {"field": "expires_at", "code": "expires_not_after_today", "message": "请选择明天或以后的日期"}])
    place = hotspot.street or hotspot.district
    content = EntryContent(
        title=f"{hotspot.district}{place if place != hotspot.district else ''}{hotspot.topic}情况通报"[:200],
        phrasings=await _phrasings(request, hotspot), answer=body.text, category=hotspot.topic[:40] or "热点公告",
        department="北京12345市民服务热线", expires_at=expires, tags=["热点公告", hotspot.id])
    store = request.app[KNOWLEDGE].kb
    user = actor(request)
    try:
        state = await store.create(content, user)
        state = await store.publish_notice(state.id, user, hotspot.id)
    except WorkflowError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    notice = {"entry_id": state.id, "text": body.text, "expires_at": expires.isoformat(), "by": user, "at": clock.now().isoformat()}
    await hotspots.set_notice(request.app[REDIS], hotspot, notice)
    return json_response({"notice": notice, "hotspot": _view(request, await _hotspot(request))}, status=201)


@requires("supervisor")
async def close_hotspot(request: web.Request) -> web.Response:
    hotspot = await _hotspot(request)
    if not await hotspots.close(request.app[REDIS], hotspot, actor(request), clock.now()):
        raise ApiError(409, "hotspot_closed", "该热点已关闭")
    return json_response(_view(request, await _hotspot(request)))


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/supervisor/hotspots", list_hotspots, name="list_hotspots")
    r.add_get("/api/v1/supervisor/hotspots/{hotspot_id}", get_hotspot, name="get_hotspot")
    r.add_post("/api/v1/supervisor/hotspots/{hotspot_id}/notice", publish_notice, name="hotspot_notice")
    r.add_post("/api/v1/supervisor/hotspots/{hotspot_id}/close", close_hotspot, name="close_hotspot")
