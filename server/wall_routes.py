"""`GET /api/v1/supervisor/wall` (the supervisor wall's data, server/wall.py) and
`GET /api/v1/supervisor/wall.csv?table=...` (each of its tables as CSV). Supervisors only. The
page gets `wall.changed` over the desk WebSocket and refetches (gateway/live_events.py)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from gateway import clock
from gateway.app_keys import REDIS, SETTINGS
from gateway.auth import requires
from gateway.csv_export import csv_response
from gateway.errors import ApiError
from gateway.json_io import json_response
from gateway.rate_report import MAX_HOURS
from server import wall
from server.rates_routes import moment
from triage.hotspots import HotspotRules

CSV_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "deadlines": [("ticket_id", "工单号"), ("state", "状态"), ("due_at", "办理时限"), ("channel", "渠道"), ("district", "区"),
                  ("kind_label", "类型"), ("summary", "诉求摘要")],
    "hotspots": [("id", "热点编号"), ("state", "状态"), ("topic", "问题类别"), ("district", "区"), ("street", "街道"),
                 ("count", "诉求数"), ("first_at", "首次出现"), ("last_at", "最近一次")],
}
DIMENSION_HEADERS = {"channel": "渠道", "kind": "诉求类型", "topic": "问题类别", "district": "区", "hour": "时段"}


def _period(request: web.Request) -> tuple[datetime, datetime]:
    """Whole Beijing days: the wall's counters are kept per day (and per hour within one)."""
    q = request.query
    today = clock.now().date().isoformat()
    raw_from, raw_to = q.get("from") or today, q.get("to") or today
    for name, raw in (("from", raw_from), ("to", raw_to)):
        if len(raw) != 10:
            raise ApiError(422, "validation_failed", "查询条件有误", [{"field": name, "code": "invalid_date", "message": "请填写日期，如 2026-12-01"}])
    start = moment(raw_from, "from", end=False)
    end = moment(raw_to, "to", end=True)
    if end <= start:
        raise ApiError(422, "validation_failed", "查询条件有误", [{"field": "to", "code": "to_not_after_from", "message": "结束时间须晚于开始时间"}])
    if (end - start).total_seconds() > MAX_HOURS * 3600:
        raise ApiError(422, "validation_failed", "查询条件有误", [{"field": "to", "code": "range_too_long", "message": "一次最多查询92天，请分段查询"}])
    return start, end


async def _snapshot(request: web.Request, start: datetime, end: datetime) -> dict[str, Any]:
    return await wall.snapshot(request.app[REDIS], start, end, HotspotRules.of(request.app[SETTINGS]).window)


@requires("supervisor")
async def wall_data(request: web.Request) -> web.Response:
    start, end = _period(request)
    return json_response(await _snapshot(request, start, end))


def _rows(table: str, data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    if table == "deadlines":
        columns = CSV_COLUMNS[table]
        rows = [{**r, "state": "已超期"} for r in data["deadlines"]["overdue"]] + \
               [{**r, "state": "2小时内到期"} for r in data["deadlines"]["due_soon"]]
    elif table == "hotspots":
        columns = CSV_COLUMNS[table]
        rows = [{**h, "state": "处置中" if h["state"] == "open" else "已关闭"} for h in data["hotspots"]]
    else:
        columns = [("label", DIMENSION_HEADERS[table]), ("count", "受理数")]
        rows = data["volume"][f"by_{table}"]
    return [label for _, label in columns], [[row.get(name, "") for name, _ in columns] for row in rows]


@requires("supervisor")
async def wall_csv(request: web.Request) -> web.Response:
    table = request.query.get("table", "")
    if table not in wall.TABLES:
        raise ApiError(422, "validation_failed", "查询条件有误", [
            {"field": "table", "code": "invalid_table", "message": "表格须为 " + "、".join(wall.TABLES) + " 之一"}])
    start, end = _period(request)
    return csv_response(f"wall-{table}-{start:%Y%m%d}-{end:%Y%m%d}.csv", *_rows(table, await _snapshot(request, start, end)))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/supervisor/wall", wall_data, name="supervisor_wall")
    app.router.add_get("/api/v1/supervisor/wall.csv", wall_csv, name="supervisor_wall_csv")
