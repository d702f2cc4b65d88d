"""回访 over WeChat: after the bot's answer and in the closing notice the citizen is asked two
short questions, answered with 1/2/3 or words: 是否解决 (1 已解决, 2 未解决), then 满意度
(1 满意, 2 基本满意, 3 不满意, a reason may follow). What is being asked is kept per user; a
message that is no answer drops it and is handled as usual (the citizen moved on).

The user is known by WeChat's signed push (their OpenID), and only a ticket of that OpenID is
asked about, so no one can answer for someone else's ticket. The answer is the kernel's
(gateway/followup_answers.py): once per ticket."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

from channels.wechat import keys as wx_keys
from gateway.followup_answers import record_followup
from gateway.followups import FollowUpIn, FollowUpRefused
from gateway.ticket import SATISFACTION_LABELS
from gateway.tickets import Tickets

PENDING_TTL = 7 * 24 * 3600  # a week to answer; after that a "1" is an ordinary message again
ASK_RESOLVED = "请您评价：问题是否已解决？回复 1 已解决，2 未解决。"
ASK_SATISFACTION = "您对办理结果是否满意？回复 1 满意，2 基本满意，3 不满意（可在数字后写上原因，如“3 还是很吵”）。"
THANKS = "感谢您的评价（{resolved}，{satisfaction}），我们会持续改进。"
ALREADY = "该诉求已经评价过了，感谢您的支持。"

_YES = re.compile(r"^\s*(1|１|已解决|解决了|已经解决了?|是|是的)\s*[。！!，,]*\s*$")
_NO = re.compile(r"^\s*(2|２|未解决|没解决|没有解决|还没解决|否|没有)\s*[。！!，,]*\s*$")
_SATISFACTION = re.compile(r"^\s*(1|１|非常满意|满意|2|２|基本满意|比较满意|3|３|不满意|很不满意)(?:\s*[，,。:：、\s]\s*|(?=\D)|$)(.*)$", re.S)
_CHOICES = {"1": "satisfied", "１": "satisfied", "非常满意": "satisfied", "满意": "satisfied",
            "2": "basically_satisfied", "２": "basically_satisfied", "基本满意": "basically_satisfied", "比较满意": "basically_satisfied",
            "3": "unsatisfied", "３": "unsatisfied", "不满意": "unsatisfied", "很不满意": "unsatisfied"}


@dataclass
class Asking:
    ticket_id: str
    resolved: bool | None = None  # set once the first question is answered
    skip: str = ""  # the message that released the question is not its answer


def _key(account: str, openid: str) -> str:
    return wx_keys.followup_pending(account, openid)


async def ask(redis: Redis, account: str, openid: str, ticket_id: str, skip: str = "") -> None:
    """Remember that this user was asked about this ticket (the latest question wins)."""
    await redis.set(_key(account, openid), json.dumps(asdict(Asking(ticket_id, skip=skip))), ex=PENDING_TTL)


def parse_resolved(text: str) -> bool | None:
    return True if _YES.match(text) else False if _NO.match(text) else None


def parse_satisfaction(text: str) -> tuple[str, str | None] | None:
    found = _SATISFACTION.match(text)
    if found is None:
        return None
    reason = found.group(2).strip(" ，,。:：、\n") or None
    return _CHOICES[found.group(1)], reason[:500] if reason else None


async def answer(redis: Redis, tickets: Tickets, account: str, openid: str, text: str, msg_key: str) -> str | None:
    """The reply when `text` answers the pending question; None when nothing is asked or the
    message is no answer (then nothing is asked any more)."""
    raw = await redis.get(_key(account, openid))
    if raw is None:
        return None
    asking = Asking(**json.loads(raw))
    if asking.skip and asking.skip == msg_key:
        return None
    if asking.resolved is None:
        resolved = parse_resolved(text)
        if resolved is None:
            await redis.delete(_key(account, openid))
            return None
        asking.resolved, asking.skip = resolved, ""
        await redis.set(_key(account, openid), json.dumps(asdict(asking)), ex=PENDING_TTL)
        return ASK_SATISFACTION
    choice = parse_satisfaction(text)
    await redis.delete(_key(account, openid))
    if choice is None:
        return None
    satisfaction, reason = choice
    try:
        await record_followup(tickets, asking.ticket_id, FollowUpIn(resolved=asking.resolved, satisfaction=satisfaction, reason=reason),
                              "wechat", "citizen")
    except FollowUpRefused as refused:
        return ALREADY if refused.code == "followup_already_answered" else refused.message
    return THANKS.format(resolved="已解决" if asking.resolved else "未解决", satisfaction=SATISFACTION_LABELS[satisfaction])
