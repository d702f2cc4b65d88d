"""`GET /api/v1/supervisor/rates`: the three rates (响应率, 解决率, 满意率) and their counts for a
period, grouped by hour, day, channel, topic, district or handling unit; JSON, or CSV with
`format=csv`. Supervisors only. Definitions: docs/rates.md."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from aiohttp import web

from gateway import clock
from gateway.app_keys import REDIS
from gateway.auth import requires
from gateway.clock import BEIJING
from gateway.csv_export import csv_response
from gateway.errors import ApiError
from gateway.json_io import json_response
from gateway.rate_report import GROUPS, MAX_HOURS, report


def moment(raw: str, field: str, end: bool) -> datetime:
    """A date (Beijing; `to` includes the whole day) or an ISO time with offset (to the hour)."""
    try:
        if len(raw) == 10:
            day = datetime.combine(date.fromisoformat(raw), datetime.min.time(), BEIJING)
            return day + timedelta(days=1) if end else day
        at = datetime.fromisoformat(raw)
        if at.tzinfo is None:
            raise ValueError("no offset")
        return at.astimezone(BEIJING).replace(minute=0, second=0, microsecond=0)
    except ValueError:
        raise ApiError(422, "validation_failed", "查询时间格式不正确", [
            {"field": field, "code": "invalid_time", "message": "请填写日期（如 2026-12-01）或带时区的时间（如 2026-12-01T08:00:00+08:00）"}]) from None


@requires("supervisor")
async def rates(request: web.Request) -> web.Response:
    q = request.query
    today = clock.now().date().isoformat()
    start = moment(q.get("from") or (clock.now().date() - timedelta(days=6)).isoformat(), "from", end=False)
    end = moment(q.get("to") or today, "to", end=True)
    by = q.get("by", "day")
    errors = []
    if by not in GROUPS:
        errors.append({"field": "by", "code": "invalid_group", "message": "分组须为 hour、day、channel、kind、topic、district、unit 或 total"})
    if end <= start:
        errors.append({"field": "to", "code": "to_not_after_from", "message": "结束时间须晚于开始时间"})
    elif (end - start) > timedelta(hours=MAX_HOURS):
        errors.append({"field": "to", "code": "range_too_long", "message": "一次最多查询92天，请分段查询"})
    if q.get("format", "json") not in ("json", "csv"):
        errors.append({"field": "format", "code": "invalid_format", "message": "格式须为 json 或 csv"})
    if errors:
        raise ApiError(422, "validation_failed", "查询条件有误", errors)
    result = await report(request.app[REDIS], start, end, by)
    if q.get("format") == "csv":
        name = f"rates-{start.strftime('%Y%m%d%H')}-{end.strftime('%Y%m%d%H')}-{by}.csv"
        return csv_response(name, *result.table())
    return json_response(result.as_dict())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/supervisor/rates", rates, name="supervisor_rates")
