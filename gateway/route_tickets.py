"""The ticket a staff route names, shared by the desk and the channels' desk routes."""
from __future__ import annotations

from aiohttp import web

from gateway.app_keys import TICKETS
from gateway.errors import ApiError
from gateway.ticket import Ticket
from gateway.tickets import TicketNotFound


async def ticket_or_404(request: web.Request) -> Ticket:
    """The ticket named by the route's `ticket_id`, or 404 `ticket_not_found`."""
    try:
        return await request.app[TICKETS].get(request.match_info["ticket_id"])
    except TicketNotFound:
        raise ApiError(404, "ticket_not_found", "工单不存在") from None
