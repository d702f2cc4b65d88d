"""The one policy for what a machine writes on a ticket: only fields a person left empty, each
with provenance; urgency only ever goes up; the dispatch block is proposed by the bot and never
replaces one an agent confirmed or corrected."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.deadlines import due_at
from gateway.ticket import Dispatch, Location, Provenance, Ticket
from triage.decision import Decision

URGENCY_RANK = {"normal": 0, "complex": 0, "utilities": 1, "emergency": 2}


def fill_in(ticket: Ticket, decision: Decision, now: datetime, by: str = "bot") -> dict[str, Any]:
    """Fill what is open on `ticket` from `decision`; returns what was filled (empty: nothing)."""
    filled: dict[str, Any] = {}
    why = "; ".join(decision.reasons)
    if ticket.kind is None and decision.kind:
        ticket.kind = decision.kind  # type: ignore[assignment]  # the value, as use_enum_values stores it
        filled["kind"] = decision.kind
        ticket.provenance.append(Provenance(field="kind", by=by, at=now, detail=why))
    urgency = decision.urgency or ("emergency" if decision.type == "emergency" else None)
    if urgency and URGENCY_RANK.get(urgency, 0) > URGENCY_RANK.get(str(ticket.urgency), 0):
        ticket.urgency = urgency  # type: ignore[assignment]  # the value, as use_enum_values stores it
        ticket.due_at = due_at(ticket.received_at, urgency)
        filled["urgency"] = urgency
        ticket.provenance.append(Provenance(field="urgency", by=by, at=now, detail=why))
    if decision.location and (ticket.location is None or not ticket.location.district):
        place = decision.location
        ticket.location = (ticket.location or Location()).model_copy(update={
            "district": place.get("district"), "district_code": place.get("district_code"),
            "street": (ticket.location.street if ticket.location else None) or place.get("street"),
        })
        filled["location"] = place
        ticket.provenance.append(Provenance(field="location", by=by, at=now, detail="从诉求内容中识别"))
    elif (decision.location and ticket.location is not None and not ticket.location.street
          and decision.location.get("street") and decision.location.get("district") == ticket.location.district):
        # The district was stated, the street (街道/乡镇) only written in the address or story.
        ticket.location = ticket.location.model_copy(update={"street": decision.location["street"]})
        filled["street"] = decision.location["street"]
        ticket.provenance.append(Provenance(field="location.street", by=by, at=now, detail="从地址和诉求内容中识别"))
    if decision.dispatch and (ticket.dispatch is None or ticket.dispatch.by == "bot"):
        proposed = Dispatch.model_validate({**decision.dispatch, "by": by})
        if ticket.dispatch is None or ticket.dispatch.model_dump() != proposed.model_dump():
            ticket.dispatch = proposed
            filled["dispatch"] = {"category": proposed.category, "unit": proposed.unit.name if proposed.unit else None}
            if not any(p.field == "dispatch" for p in ticket.provenance):
                ticket.provenance.append(Provenance(field="dispatch", by=by, at=now, detail="按诉求内容分类并推荐承办单位"))
    return filled
