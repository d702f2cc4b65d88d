"""疑似重复 on the desk: a held ticket beside the open requests it may repeat, and 合并 (the
secondary attached to the primary's case, gateway/merges.py). Desk roles."""
from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.app_keys import OUTBOX, TICKETS
from gateway.auth import actor, requires
from gateway.json_io import json_response, read_model
from gateway.merges import merge
from gateway.phone_numbers import mask
from gateway.route_tickets import ticket_or_404
from gateway.ticket import Ticket
from gateway.tickets import TicketNotFound

DESK = ("agent", "supervisor")


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    into: str = Field(pattern=r"^[A-Z]{2}-\d{8}-\d{6,9}$", description="the primary ticket: one of this ticket's duplicate candidates")


def _side(ticket: Ticket) -> dict[str, Any]:
    """What an agent compares: text, place, topic, requester (masked), status."""
    location = ticket.location
    return {
        "id": ticket.id, "channel": ticket.channel, "status": ticket.status, "received_at": ticket.received_at.isoformat(),
        "content": ticket.content, "district": location.district if location else None, "street": location.street if location else None,
        "place": location.text if location else None, "topic": ticket.dispatch.category if ticket.dispatch else None,
        "unit": ticket.dispatch.unit.name if ticket.dispatch and ticket.dispatch.unit else None,
        "phone_masked": mask(ticket.requester.phone),
    }


@requires(*DESK)
async def duplicates(request: web.Request) -> web.Response:
    ticket = await ticket_or_404(request)
    candidates = []
    for candidate in ticket.links.duplicates:
        try:
            other = await request.app[TICKETS].document(candidate.ticket_id)
        except TicketNotFound:
            continue
        candidates.append({**candidate.model_dump(mode="json"), "ticket": _side(other)})
    return json_response({"ticket": _side(ticket), "candidates": candidates})


@requires(*DESK)
async def merge_into(request: web.Request) -> web.Response:
    body: MergeIn = await read_model(request, MergeIn, summary="合并信息有误")
    merged = await merge(request.app[TICKETS], request.app[OUTBOX], request.match_info["ticket_id"], body.into, actor(request))
    return json_response(merged.public_json())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/agent/tickets/{ticket_id}/duplicates", duplicates, name="ticket_duplicates")
    app.router.add_post("/api/v1/agent/tickets/{ticket_id}/merge", merge_into, name="merge_ticket")
