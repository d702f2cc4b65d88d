"""Partner sends through the outbox, so every one is retried, in the ledger and dead-lettered
when it cannot be delivered:

* hop `partner:<partner id>`: the transfer envelope to that hotline; its receipt (their ticket
  id) becomes our ticket's disposition;
* hop `partner-status:<status>`: a status callback about a transfer we received, back to the
  hotline that sent it.

The envelope is built when it is sent, from the ticket and the agent's `transfer_requested`
event, so a retry carries the same case and consent decision with fresh signed links."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from redis.asyncio import Redis

from channels.partner.directory import Partner, PartnerDirectory, partner_directory
from channels.partner.envelope import StatusUpdate, build_envelope
from channels.partner.settings import PartnerSettings
from channels.partner.signing import blob_path, link_signature, signed_headers
from gateway import clock
from gateway.delivery_targets import DeliveryResult, DeliveryTarget, HttpTarget, classify_receipt
from gateway.outbox import Outbox
from gateway.settings import Settings
from gateway.ticket import Attachment, DeliveryAttempt, HistoryEvent, Status, Ticket, Transferred

TRANSFER_HOP = "partner"
STATUS_HOP = "partner-status"
TRANSFERS_PATH = "/partners/v1/transfers"


def transfer_hop(partner_id: str) -> str:
    return f"{TRANSFER_HOP}:{partner_id}"


def transfer_id_for(ticket_id: str, partner_id: str) -> str:
    return f"{ticket_id}.{partner_id}"


def status_path(transfer_id: str) -> str:
    return f"{TRANSFERS_PATH}/{transfer_id}/status"


async def queue_transfer(outbox: Outbox, ticket_id: str, partner_id: str, event: HistoryEvent) -> bool:
    """False when this ticket was already sent to that partner."""
    return await outbox.enqueue(ticket_id, transfer_hop(partner_id), event)


async def queue_status(outbox: Outbox, ticket_id: str, status: str, event: HistoryEvent) -> bool:
    return await outbox.enqueue(ticket_id, f"{STATUS_HOP}:{status}", event)


def _last_event(ticket: Ticket, name: str, **match: str) -> HistoryEvent | None:
    for event in reversed(ticket.history):
        if event.event == name and all(event.detail.get(k) == v for k, v in match.items()):
            return event
    return None


class _PartnerTarget(HttpTarget):
    def __init__(self, redis: Redis, directory: PartnerDirectory, timeout: float) -> None:
        super().__init__(timeout)
        self.redis = redis
        self.directory = directory

    async def _send(self, partner: Partner, path: str, payload: bytes, id_field: str | None) -> DeliveryResult:
        secret = self.directory.secret(partner)
        if secret is None:
            return DeliveryResult("reject", error=f"no key configured for {partner.key_id} (HOTLINE_PARTNER_KEYS)")
        headers = signed_headers(self.directory.self_id, partner.key_id, secret, "POST", path, payload)
        return await self.post(partner.base + path, payload, headers,
                               (lambda s, t: classify_receipt(s, t, id_field)) if id_field else _classify_ack)


class PartnerTransferTarget(_PartnerTarget):
    name = "partner-hotline"

    def __init__(self, redis: Redis, directory: PartnerDirectory, timeout: float, link_ttl: int) -> None:
        super().__init__(redis, directory, timeout)
        self.link_ttl = link_ttl

    async def deliver(self, ticket: Ticket, hop: str) -> DeliveryResult:
        partner_id = hop.rpartition(":")[2]
        partner = await self.directory.get(partner_id)
        me = await self.directory.me()
        request = _last_event(ticket, "transfer_requested", partner=partner_id)
        if partner is None or me is None or request is None:
            return DeliveryResult("reject", error=f"partner {partner_id} or the transfer request is no longer known")
        secret = self.directory.secret(partner) or ""
        expires = clock.now() + timedelta(seconds=self.link_ttl)

        def link(item: Attachment) -> tuple[str, object]:
            exp = int(expires.timestamp())
            query = urlencode({"kid": partner.key_id, "exp": exp, "sig": link_signature(secret, item.sha256, exp, partner.key_id)})
            return f"{me.base}{blob_path(item.sha256)}?{query}", expires

        envelope = build_envelope(ticket, origin=me.id, partner=partner, transfer_id=transfer_id_for(ticket.id, partner_id),
                                  request=request, sent_at=clock.now(), link=link)  # type: ignore[arg-type]
        payload = envelope.model_dump_json(by_alias=True, exclude_none=True).encode()
        return await self._send(partner, TRANSFERS_PATH, payload, "ticket_id")

    def record_delivery(self, ticket: Ticket, hop: str, record: DeliveryAttempt) -> None:
        """The partner's receipt is our ticket's disposition (a later status never regresses it)."""
        partner_id = hop.rpartition(":")[2]
        if isinstance(ticket.disposition, Transferred) and ticket.disposition.partner == partner_id:
            ticket.disposition.receipt = record.case_id or ticket.disposition.receipt
            return
        ticket.disposition = Transferred(at=record.at, partner=partner_id, receipt=record.case_id or "",
                                         transfer_id=transfer_id_for(ticket.id, partner_id), status_at=record.at)
        ticket.status = Status.transferred


class PartnerStatusTarget(_PartnerTarget):
    name = "partner-status"

    async def deliver(self, ticket: Ticket, hop: str) -> DeliveryResult:
        status = hop.rpartition(":")[2]
        origin = await self.directory.get(ticket.source.extra.get("origin", ""))
        event = _last_event(ticket, "partner_status_set", status=status)
        transfer_id = ticket.source.extra.get("transfer_id")
        if origin is None or event is None or not transfer_id:
            return DeliveryResult("reject", error="the transfer's origin or this status is no longer known")
        update = StatusUpdate(status=status, at=event.at, ticket_id=ticket.id, result=event.detail.get("result"),
                              agent=event.actor.removeprefix("agent:"))
        return await self._send(origin, status_path(transfer_id), update.model_dump_json(exclude_none=True).encode(), None)


def _classify_ack(status: int, text: str) -> DeliveryResult:
    if 200 <= status < 300:
        return DeliveryResult("delivered", status)
    return classify_receipt(status, text)



def outbound(settings: Settings, redis: Redis) -> dict[str, DeliveryTarget]:
    """The hops this channel delivers: transfers to partner hotlines and status reports back."""
    directory = partner_directory(settings, redis)
    partner = settings.section(PartnerSettings)
    return {TRANSFER_HOP: PartnerTransferTarget(redis, directory, partner.partner_timeout_seconds, partner.partner_link_ttl_seconds),
            STATUS_HOP: PartnerStatusTarget(redis, directory, partner.partner_timeout_seconds)}
