"""`hotline.ticket/v1`: the one ticket format every channel produces.

The stored document holds everything except `history` and `deliveries`, which live in
append-only Redis lists beside it (appends never race with edits) and are merged on read.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_ID: Literal["hotline.ticket/v1"] = "hotline.ticket/v1"
PENDING_ID = "__TICKET_ID__"  # replaced by the intake script with the allocated id


class Channel(StrEnum):
    phone = "phone"
    wechat = "wechat"
    web = "web"
    video = "video"
    partner = "partner"


class Kind(StrEnum):
    consultation = "consultation"
    help = "help"
    complaint = "complaint"
    report = "report"
    suggestion = "suggestion"


KIND_LABELS: dict[str | None, str] = {
    "consultation": "咨询",
    "help": "求助",
    "complaint": "投诉",
    "report": "举报",
    "suggestion": "建议",
    None: "待分类",
}


class Status(StrEnum):
    received = "received"
    forwarded = "forwarded"
    answered = "answered"
    transferred = "transferred"
    diverted = "diverted"
    closed = "closed"
    abandoned = "abandoned"
    merged = "merged"  # a duplicate attached to another ticket's case (Merged)


STATUS_LABELS: dict[str, str] = {
    "received": "已受理",
    "forwarded": "已转派",
    "answered": "已答复",
    "transferred": "已转外省市",
    "diverted": "已分流",
    "closed": "已办结",
    "abandoned": "已撤回",
    "merged": "已并案",
}


class Urgency(StrEnum):
    normal = "normal"
    utilities = "utilities"  # water, power, gas, heating: 24 h
    complex = "complex"  # 15 days
    emergency = "emergency"  # 2 h


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)


class Requester(Model):
    phone: str | None = Field(None, description="E.164, e.g. +8613812345678")
    wechat_openid: str | None = None
    name: str | None = None
    confidential: bool = Field(False, description="诉求人要求保密")
    consent_share_partner: bool = False
    callback_phone: str | None = Field(None, description="E.164 number to call back, when it differs from the caller ID")


class Message(Model):
    who: Literal["citizen", "agent", "bot", "system", "partner"]
    at: datetime
    text: str
    source: Literal["typed", "asr", "wechat-recognition", "note", "form", "kb"] = "typed"
    author: str | None = Field(None, description="agent username for notes")


class TranscriptSegment(Model):
    leg: Literal["caller", "agent"]
    start: float = Field(ge=0, description="seconds from call start")
    end: float = Field(ge=0)
    text: str
    confidence: float = Field(ge=0, le=1)


class Attachment(Model):
    kind: Literal["image", "video", "audio", "document"]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    mime: str
    filename: str | None = None
    blob: str = Field(description="blob reference, `blob:sha256:<hex>`")


class Location(Model):
    text: str | None = None
    district: str | None = None
    district_code: str | None = None
    street: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class Provenance(Model):
    """Where a machine filled a field: e.g. location from the transcript at 00:41."""

    field: str
    by: str
    at: datetime
    detail: str | None = None
    segment: int | None = Field(None, description="index in `transcript` of the utterance the value came from")
    confirmed_by: str | None = Field(None, description="agent who confirmed a machine-filled value")


class Answered(Model):
    type: Literal["answered"] = "answered"
    at: datetime
    kb_entry_id: str
    kb_version: int


class Forwarded(Model):
    type: Literal["forwarded"] = "forwarded"
    at: datetime
    target: str = Field(description="case-system, or local-inbox when no case system is configured")
    case_id: str


PartnerStatus = Literal["received", "accepted", "in_progress", "resolved"]
PARTNER_STATUS_RANK: dict[str, int] = {"received": 0, "accepted": 1, "in_progress": 2, "resolved": 3}


class Transferred(Model):
    type: Literal["transferred"] = "transferred"
    at: datetime
    partner: str
    receipt: str = Field(description="the partner hotline's ticket id for the transfer")
    transfer_id: str | None = None
    partner_status: PartnerStatus = Field("received", description="the latest status the partner reported back")
    status_at: datetime | None = None
    result: str | None = Field(None, description="the partner's result, with `resolved`")


CaseStatus = Literal["accepted", "in_progress", "postponed", "closed"]
# An update applies only if it moves the case forward: a lower rank (or the same rank reported
# for an earlier time) is out of order; 办结 is final.
CASE_STATUS_RANK: dict[str, int] = {"accepted": 1, "in_progress": 2, "postponed": 2, "closed": 3}


class CaseProgress(Model):
    """What the core case system reported back (docs/case-system.md, status updates)."""

    case_id: str
    status: CaseStatus = Field(description="accepted 受理, in_progress 办理中, postponed 延期, closed 办结")
    status_at: datetime = Field(description="when the case system says the latest applied update happened")
    unit: str | None = Field(None, description="承办单位, as the case system reported it")
    due_at: datetime | None = Field(None, description="the new due date after a postponement")
    postponed_reason: str | None = None
    result: str | None = Field(None, description="办理结果, with `closed`")
    closed_at: datetime | None = None
    update_ids: list[str] = Field(default_factory=list, description="the case system's ids of the updates applied (a repeat is one event)")


class Diverted(Model):
    type: Literal["diverted"] = "diverted"
    at: datetime
    to: str = Field(description="110, 119, 120, 122 or a legal channel")
    reason: str


class Abandoned(Model):
    type: Literal["abandoned"] = "abandoned"
    at: datetime
    reason: str


class Merged(Model):
    """A duplicate attached to the primary ticket's case instead of being forwarded again."""

    type: Literal["merged"] = "merged"
    at: datetime
    into: str = Field(description="the primary ticket, whose case handles this request too")
    by: str = Field(description="agent:<username> who merged it")


Disposition = Annotated[Answered | Forwarded | Transferred | Diverted | Abandoned | Merged, Field(discriminator="type")]


class Source(Model):
    channel_id: str = Field(description="the channel's own id: AMI Linkedid, WeChat MsgId, web submission key, partner transfer id")
    extra: dict[str, str] = Field(default_factory=dict)


class HandlingUnit(Model):
    name: str = Field(description="承办单位, e.g. 朝阳区望京街道办事处 or 北京市朝阳区市场监督管理局")
    type: str = Field(description="unit type from the 派单目录, e.g. 街道乡镇, 市场监督管理局")
    confidence: float | None = Field(None, ge=0, le=1)


class Dispatch(Model):
    """Topic and recommended handling unit (精准派单). Filled by triage, confirmed or corrected by agents."""

    category_l1: str | None = Field(None, description="first-level topic, e.g. 城乡建设")
    category: str | None = Field(None, description="second-level topic, e.g. 住房与物业")
    unit: HandlingUnit | None = None
    alternatives: list[HandlingUnit] = Field(default_factory=list, description="the next two candidate units")
    partner: str | None = Field(None, description="partner hotline id when the matter is in Tianjin or Hebei (转外省市)")
    by: str = Field("bot", description="bot, or agent:<username> once an agent confirmed or corrected it")
    model: str | None = Field(None, description="classifier version that proposed it")


class DuplicateCandidate(Model):
    """An open ticket this one may repeat (triage/duplicates.py): the agent merges or forwards."""

    ticket_id: str
    score: float = Field(ge=0, le=1, description="cosine similarity of the two texts (TF-IDF, character n-grams)")
    reason: Literal["same_requester", "same_place_topic"]
    at: datetime = Field(description="when it was found")


class Links(Model):
    duplicates: list[DuplicateCandidate] = Field(default_factory=list, description="疑似重复: candidates with their score, best first")
    repeat_caller: list[str] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)


Satisfaction = Literal["satisfied", "basically_satisfied", "unsatisfied"]
SATISFACTION_LABELS: dict[str, str] = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}


class FollowUp(Model):
    """回访: the citizen's answer after an on-the-spot answer or after 办结 (one per ticket)."""

    resolved: bool = Field(description="是否解决")
    satisfaction: Satisfaction = Field(description="满意 / 基本满意 / 不满意")
    reason: str | None = Field(None, max_length=500, description="the citizen's optional reason")
    at: datetime
    channel: str = Field(description="where the answer was given: web-chat, web-track, wechat, phone")
    by: str = Field(description="citizen, or agent:<username> who recorded it on a callback")


class HistoryEvent(Model):
    at: datetime
    actor: str = Field(description="system, bot, outbox, or agent:<username>")
    event: str
    detail: dict[str, Any] = Field(default_factory=dict)


class DeliveryAttempt(Model):
    hop: str
    attempt: int = Field(ge=1)
    at: datetime
    outcome: Literal["delivered", "retry", "dead_letter"]
    target: str
    status_code: int | None = None
    case_id: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    duration_ms: float | None = None
    instance: str | None = None
    note: str | None = Field(None, description="what the target did besides delivering, e.g. kept for later")


class Ticket(Model):
    id: str = Field(pattern=r"^[A-Z]{2}-\d{8}-\d{6,}$|^" + PENDING_ID + "$", examples=["BJ-20261122-000123"])
    schema_: Literal["hotline.ticket/v1"] = Field(SCHEMA_ID, alias="schema")
    channel: Channel
    received_at: datetime
    updated_at: datetime
    status: Status = Status.received
    requester: Requester = Field(default_factory=Requester)
    kind: Kind | None = None
    urgency: Urgency = Urgency.normal
    due_at: datetime
    content: str
    messages: list[Message] = Field(default_factory=list)
    transcript: list[TranscriptSegment] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    location: Location | None = None
    disposition: Disposition | None = None
    source: Source
    links: Links = Field(default_factory=Links)
    dispatch: Dispatch | None = None
    case: CaseProgress | None = Field(None, description="the case system's progress on a forwarded ticket")
    followup: FollowUp | None = Field(None, description="回访: the citizen's answer, once")
    provenance: list[Provenance] = Field(default_factory=list)
    history: list[HistoryEvent] = Field(default_factory=list)
    deliveries: list[DeliveryAttempt] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", use_enum_values=True, populate_by_name=True)

    def stored_json(self) -> str:
        """The document as stored: history and deliveries live in their own lists."""
        return self.model_dump_json(by_alias=True, exclude={"history", "deliveries"})

    def public_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def ticket_json_schema() -> dict[str, Any]:
    schema = Ticket.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "/schema/ticket.v1.json"
    schema["title"] = SCHEMA_ID
    return schema
