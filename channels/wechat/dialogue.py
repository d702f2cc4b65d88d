"""What the hotline says back to a WeChat user, one message at a time, with state per OpenID.

- A consultation is answered by the bot, as in the portal chat: one ticket per settled request
  (mode chat), every answer recorded with its KB entry and version.
- 我要反映 (menu or words) collects the description, the place (a shared location or words) and
  a phone number, with any pictures or videos sent meanwhile, then files a ticket that goes to
  the case system and replies with its id.
- 查询进度 lists the user's tickets and their state.
- 回访: after an answer (and in the closing notice) the user is asked 是否解决 and 满意度, and
  answers with 1/2/3 or words (followup.py).
- Menu keys with preset answers point at knowledge-base entries that editors keep.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from channels.wechat import adapter, followup
from channels.wechat import keys as wx_keys
from channels.wechat.accounts import WeChatAccount
from gateway import clock, keys
from gateway.blobs import BlobStore
from gateway.intake import Intake
from gateway.media_types import attachment_kind, sniff
from gateway.outbox import Outbox
from gateway.phone_numbers import phone_in_text
from gateway.redis_values import text
from gateway.summaries import summary
from gateway.ticket import (
    Abandoned,
    Attachment,
    HistoryEvent,
    Location,
    Message,
    Status,
    Ticket,
)
from gateway.tickets import TicketNotFound, Tickets
from knowledge_base.live import LiveKnowledge
from triage.assessment import assess_and_fill, filed_reply, place_said
from triage.decision import Decision
from triage.hotspots import HotspotRules
from triage.router import send_on
from triage.turn import Turns

DRAFT_TTL = 30 * 60
OPEN_DRAFTS = wx_keys.OPEN_DRAFTS
DRAFT_EXPIRED = "市民未在30分钟内完成登记，诉求草稿已过期"
PROGRESS_LIMIT = 5

MENU_CONSULT, MENU_REPORT, MENU_PROGRESS, MENU_WEATHER = "MENU_CONSULT", "MENU_REPORT", "MENU_PROGRESS", "MENU_WEATHER"
MENU_ENTRIES = {MENU_WEATHER: "kb-menu-flood-001"}  # menu key -> KB entry editors keep current

WELCOME = ("您好，欢迎关注北京12345市民服务热线！\n"
           "· 点击“我要咨询”或直接发送问题，我们马上为您解答；\n"
           "· 点击“我要反映”，按提示描述问题、发送位置和电话即可登记诉求；\n"
           "· 点击“查询进度”查看您提交的诉求；\n"
           "· “防汛/极端天气专栏”提供最新提示。\n"
           "紧急情况请直接拨打 110、119、120、122。")
CONSULT_PROMPT = "请直接发送您想咨询的问题，例如“居住证怎么办理”。"
REPORT_START = "好的，请用一两句话描述您要反映的问题（可以同时发送图片或视频）。"
ASK_PLACE = "请告诉我们问题发生的具体位置：可以点击“+”发送位置，也可以直接输入区、街道和小区名称。"
ASK_PHONE = "请留下您的手机号码，方便承办单位联系您（例如 13812345678）。"
BAD_PHONE = "这个号码好像不完整，请输入11位手机号或带区号的固定电话。"

_REPORT_WORDS = re.compile(r"^\s*(我要反映|我要投诉|我要举报|反映问题)\s*[。！!]?\s*$")
_PROGRESS_WORDS = re.compile(r"^\s*(查询进度|查进度|进度查询|我的诉求)\s*[？?]?\s*$")
_CANCEL_WORDS = re.compile(r"^\s*(取消|算了|不反映了)\s*$")


@dataclass(frozen=True)
class Reply:
    text: str
    ticket_id: str | None = None  # the ticket the exchange belongs to (a late reply is queued on it)


@dataclass
class Draft:
    """A 我要反映 request being collected."""

    started: str
    ticket_id: str | None = None
    description: str = ""
    location: dict[str, Any] | None = None
    phone: str | None = None

    def missing(self) -> str | None:
        return "description" if not self.description else "location" if not self.location else "phone" if not self.phone else None


class Dialogue:
    def __init__(self, redis: Redis, intake: Intake, tickets: Tickets, knowledge: LiveKnowledge, turns: Turns,
                 blobs: BlobStore, outbox: Outbox, hotspot_rules: HotspotRules) -> None:
        self.redis = redis
        self.hotspot_rules = hotspot_rules
        self.turns = turns  # triage decides; HOTLINE_NLU picks its engine
        self.intake = intake
        self.tickets = tickets
        self.knowledge = knowledge
        self.blobs = blobs
        self.outbox = outbox

    # -- state ---------------------------------------------------------------------------

    def _draft_key(self, account: WeChatAccount, openid: str) -> str:
        return wx_keys.draft(account.name, openid)

    def _tickets_key(self, account: WeChatAccount, openid: str) -> str:
        return wx_keys.user_tickets(account.name, openid)

    async def _draft(self, account: WeChatAccount, openid: str) -> Draft | None:
        raw = await self.redis.get(self._draft_key(account, openid))
        return Draft(**json.loads(raw)) if raw else None

    async def _save_draft(self, account: WeChatAccount, openid: str, draft: Draft) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._draft_key(account, openid), json.dumps(asdict(draft), ensure_ascii=False), ex=DRAFT_TTL)
            if draft.ticket_id:  # its ticket is closed if the draft expires (close_expired_drafts)
                pipe.zadd(OPEN_DRAFTS, {draft.ticket_id: clock.now().timestamp() + DRAFT_TTL})
            await pipe.execute()

    async def _forget_draft(self, account: WeChatAccount, openid: str, draft: Draft) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._draft_key(account, openid))
            if draft.ticket_id:
                pipe.zrem(OPEN_DRAFTS, draft.ticket_id)
            await pipe.execute()

    async def close_expired_drafts(self) -> int:
        """Close the tickets of 我要反映 drafts nobody finished in time, with the reason; how many.
        Several instances may sweep at once: the one whose ZREM removes an entry closes it."""
        now = clock.now()
        closed = 0
        for raw in await self.redis.zrangebyscore(OPEN_DRAFTS, "-inf", now.timestamp(), start=0, num=100):
            ticket_id = text(raw)
            if not await self.redis.zrem(OPEN_DRAFTS, ticket_id):
                continue

            def close(ticket: Ticket) -> dict[str, Any] | None:
                filed = ticket.requester.phone is not None  # the phone is the last thing a report collects
                if filed or ticket.status != Status.received or ticket.source.extra.get("mode") != "collecting":
                    return None
                ticket.status = Status.abandoned
                ticket.disposition = Abandoned(at=now, reason=DRAFT_EXPIRED)
                return {"reason": DRAFT_EXPIRED}

            try:
                await self.tickets.update(ticket_id, close, HistoryEvent(at=now, actor="wechat", event="draft_expired"))
                closed += 1
            except TicketNotFound:
                continue
        return closed

    # -- entry points (one per kind of push) ---------------------------------------------

    async def text(self, account: WeChatAccount, openid: str, text: str, msg_key: str, source: str = "typed") -> Reply:
        draft = await self._draft(account, openid)
        if _CANCEL_WORDS.match(text) and draft is not None:
            await self._cancel(account, openid, draft)
            return Reply("已取消本次反映。如需帮助，随时发送消息给我们。")
        # Any message that is no answer to a pending 回访 question (a menu word too) drops it.
        if draft is None and (rated := await followup.answer(self.redis, self.tickets, account.name, openid, text, msg_key)) is not None:
            return Reply(rated)
        if _REPORT_WORDS.match(text):
            return await self.start_report(account, openid)
        if _PROGRESS_WORDS.match(text):
            return await self.progress(account, openid)
        if draft is not None:
            return await self._fill(account, openid, draft, text, msg_key, source)
        return await self._consult(account, openid, text, msg_key, source)

    async def start_report(self, account: WeChatAccount, openid: str) -> Reply:
        if await self._draft(account, openid) is None:
            await self._save_draft(account, openid, Draft(started=clock.now().isoformat()))
        return Reply(REPORT_START)

    async def location(self, account: WeChatAccount, openid: str, latitude: float, longitude: float, label: str, msg_key: str) -> Reply:
        place = {"text": label or None, "latitude": latitude, "longitude": longitude}
        place.update(place_said(label or "") or {})
        draft = await self._draft(account, openid)
        fresh = draft is None
        draft = draft or Draft(started=clock.now().isoformat())  # a location on its own most likely starts a report
        draft.location = place
        ticket_id = await self._report_ticket(account, openid, draft)
        await self._change(ticket_id, lambda t: setattr(t, "location", _location(place)), "location_shared")
        if fresh:
            await self._save_draft(account, openid, draft)
            return Reply(f"已收到您的位置：{label or '（已定位）'}。请描述您要反映的问题。", ticket_id)
        return await self._advance(account, openid, draft)

    async def media(self, account: WeChatAccount, openid: str, data: bytes, declared_kind: str, msg_key: str) -> Reply:
        mime = sniff(data[:32]) or "application/octet-stream"
        sha = self.blobs.put(data)
        attachment = Attachment(kind=attachment_kind(mime), sha256=sha, size=len(data), mime=mime, blob=f"blob:sha256:{sha}")
        draft = await self._draft(account, openid) or Draft(started=clock.now().isoformat())
        ticket_id = await self._report_ticket(account, openid, draft)

        def attach(ticket: Ticket) -> None:
            if all(a.sha256 != sha for a in ticket.attachments):
                ticket.attachments.append(attachment)

        await self._change(ticket_id, attach, "attachment_added")
        await self._save_draft(account, openid, draft)
        label = {"image": "图片", "video": "视频"}.get(attachment.kind, "文件")
        following = {"description": "请用文字描述您要反映的问题。", "location": ASK_PLACE, "phone": ASK_PHONE}.get(draft.missing() or "", "")
        return Reply(f"已收到{label}。{following}".strip(), ticket_id)

    async def menu(self, account: WeChatAccount, openid: str, key: str) -> Reply:
        if key == MENU_CONSULT:
            return Reply(CONSULT_PROMPT)
        if key == MENU_REPORT:
            return await self.start_report(account, openid)
        if key == MENU_PROGRESS:
            return await self.progress(account, openid)
        entry_id = MENU_ENTRIES.get(key)
        entry = self.knowledge.snapshot.entries.get(entry_id or "")
        if entry is not None and entry.in_force(clock.now()):
            return Reply(entry.answer)
        return Reply(WELCOME)

    async def progress(self, account: WeChatAccount, openid: str) -> Reply:
        ids = [text(i) for i in await self.redis.zrevrange(self._tickets_key(account, openid), 0, PROGRESS_LIMIT - 1)]
        docs = await self.redis.mget([keys.ticket(i) for i in ids]) if ids else []
        rows = [summary(Ticket.model_validate_json(d)) for d in docs if d]
        if not rows:
            return Reply("您还没有通过本公众号提交的诉求。点击“我要反映”即可登记。")
        lines = [f"{r['id']}｜{r['status_label']}｜{r['received_at'][:10]}｜{r['summary'][:20]}" for r in rows]
        return Reply("您最近的诉求：\n" + "\n".join(lines) + "\n如需了解详情，可拨打12345并提供工单号。")

    # -- consultation --------------------------------------------------------------------

    async def _consult(self, account: WeChatAccount, openid: str, text: str, msg_key: str, source: str) -> Reply:
        def new_ticket(now: datetime, message: Message, _: int) -> Ticket:
            return adapter.consultation_ticket(account.name, openid, msg_key, text, now, message)

        turn = await self.turns.take("wechat", f"{account.name}:{openid}", text, new_ticket, source)
        if turn.opened:
            await self.redis.zadd(self._tickets_key(account, openid), {turn.ticket_id: clock.now().timestamp()})
        reply = turn.reply
        if turn.decision.type == "answer":  # 回访 of the on-the-spot answer
            reply += "\n\n" + followup.ASK_RESOLVED
            await followup.ask(self.redis, account.name, openid, turn.ticket_id)
        if turn.decision.type == "forward" and not turn.filed:
            reply += "\n如需补充位置、图片，也可以回复“我要反映”。"
        return Reply(reply, turn.ticket_id)

    # -- 我要反映 ------------------------------------------------------------------------

    async def _report_ticket(self, account: WeChatAccount, openid: str, draft: Draft) -> str:
        """The request's ticket, opened with the first thing the citizen sends for it: nothing they
        say lives only in a draft that could expire. The router leaves it alone until it is filed."""
        if draft.ticket_id:
            return draft.ticket_id
        now = clock.now()
        ticket = adapter.report_ticket(account.name, openid, draft.started, now)
        result = await self.intake(ticket, actor="citizen")
        assert result.ticket_id is not None
        draft.ticket_id = result.ticket_id
        await self.redis.zadd(self._tickets_key(account, openid), {result.ticket_id: now.timestamp()})
        return result.ticket_id

    async def _change(self, ticket_id: str, change: Callable[[Ticket], None], event: str) -> None:
        await self.tickets.update(ticket_id, change, HistoryEvent(at=clock.now(), actor="citizen", event=event))

    async def _fill(self, account: WeChatAccount, openid: str, draft: Draft, text: str, msg_key: str, source: str) -> Reply:
        ticket_id = await self._report_ticket(account, openid, draft)
        said = Message(who="citizen", at=clock.now(), text=text, source=source)
        await self._change(ticket_id, lambda t: t.messages.append(said), "message")
        missing = draft.missing()
        if missing == "description":
            draft.description = text.strip()[:2000]
            if draft.location is None and (found := place_said(text)) is not None:
                draft.location = {"text": None, **found}
        elif missing == "location":
            draft.location = {"text": text.strip()[:300], **(place_said(text) or {})}
        elif missing == "phone":
            phone = phone_in_text(text)
            if phone is None:
                await self._save_draft(account, openid, draft)
                return Reply(BAD_PHONE, ticket_id)
            draft.phone = phone
        return await self._advance(account, openid, draft)

    async def _advance(self, account: WeChatAccount, openid: str, draft: Draft) -> Reply:
        missing = draft.missing()
        if missing is not None:
            await self._save_draft(account, openid, draft)
            return Reply({"description": "请描述您要反映的问题。", "location": ASK_PLACE, "phone": ASK_PHONE}[missing], draft.ticket_id)
        ticket_id, decision = await self._file(account, openid, draft)
        await self._forget_draft(account, openid, draft)
        return Reply(filed_reply(ticket_id, decision, "办理结果会通过电话或本公众号告知您。回复“查询进度”可随时查看。"), ticket_id)

    async def _file(self, account: WeChatAccount, openid: str, draft: Draft) -> tuple[str, Decision]:
        """Complete the ticket, let triage assess it like any filed request, and send it on (once,
        even if this step is retried)."""
        ticket_id = await self._report_ticket(account, openid, draft)

        def complete(ticket: Ticket) -> None:
            ticket.content = draft.description
            ticket.location = _location(draft.location or {})
            ticket.requester.phone = draft.phone

        await self._change(ticket_id, complete, "filed")
        assessment = await assess_and_fill(self.tickets, ticket_id, self.knowledge.snapshot, clock.now(), self.hotspot_rules)
        await send_on(self.outbox, self.tickets, ticket_id, assessment, "市民通过公众号登记的诉求，转派承办单位办理")
        return ticket_id, assessment.decision

    async def _cancel(self, account: WeChatAccount, openid: str, draft: Draft) -> None:
        await self._forget_draft(account, openid, draft)
        if draft.ticket_id:
            def close(ticket: Ticket) -> None:
                ticket.status = Status.abandoned
                ticket.disposition = Abandoned(at=clock.now(), reason="市民在公众号中取消了登记")
            await self._change(draft.ticket_id, close, "cancelled")


def _location(place: dict[str, Any]) -> Location:
    return Location(**{k: v for k, v in place.items() if k in Location.model_fields})
