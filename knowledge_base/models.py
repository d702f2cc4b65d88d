"""Knowledge-base entries: editable content, immutable versions, and the entry's state."""
from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from gateway.clock import BEIJING

ENTRY_ID = r"^[a-z0-9][a-z0-9-]{2,63}$"


class EntryStatus(StrEnum):
    draft = "draft"
    in_review = "in_review"
    published = "published"
    archived = "archived"


STATUS_LABELS = {"draft": "草稿", "in_review": "待审核", "published": "已发布", "archived": "已归档"}


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=100)
    url: HttpUrl


class EntryContent(BaseModel):
    """What an editor writes. Every save of it becomes a new immutable version."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=2, max_length=200, description="the title question")
    phrasings: list[str] = Field(default_factory=list, max_length=100, description="other ways citizens ask it")
    answer: str = Field(min_length=5, max_length=4000)
    links: list[Link] = Field(default_factory=list, max_length=10)
    category: str = Field(min_length=1, max_length=40)
    department: str = Field("", max_length=100, description="issuing department")
    policy_ref: str = Field("", max_length=200, description="policy document reference")
    effective_from: date | None = None
    expires_at: date | None = None
    review_due: date | None = None
    tags: list[str] = Field(default_factory=list, max_length=30)
    sample: bool = Field(False, description="sample content written for this project, not an official answer")

    @field_validator("phrasings", "tags")
    @classmethod
    def _clean_list(cls, values: list[str]) -> list[str]:
        out: list[str] = []
        for value in values:
            value = value.strip()
            if not value:
                continue
            if len(value) > 200:
                raise ValueError("each item must be at most 200 characters")
            if value not in out:
                out.append(value)
        return out

    @model_validator(mode="after")
    def _dates_in_order(self) -> "EntryContent":
        if self.effective_from and self.expires_at and self.expires_at <= self.effective_from:
            raise ValueError("expires_at must be after effective_from")
        return self

    def in_force(self, at: datetime) -> bool:
        """Served only from the start of `effective_from` until the start of `expires_at`
        (Beijing time)."""
        if self.effective_from and at < _start_of(self.effective_from):
            return False
        if self.expires_at and at >= _start_of(self.expires_at):
            return False
        return True


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BEIJING)


class EntryVersion(EntryContent):
    """One immutable version. `reviewer`/`published_at` are filled in when it is published."""

    model_config = ConfigDict(extra="forbid")

    entry_id: str = Field(pattern=ENTRY_ID)
    version: int = Field(ge=1)
    author: str
    created_at: datetime
    note: str | None = Field(None, description="e.g. rollback of version 3")
    reviewer: str | None = None
    published_at: datetime | None = None

    def content(self) -> EntryContent:
        return EntryContent.model_validate(self.model_dump(include=set(EntryContent.model_fields)))


class EntryState(BaseModel):
    id: str
    status: EntryStatus
    latest_version: int
    published_version: int | None = None
    created_at: datetime
    updated_at: datetime
    title: str
    category: str

    def public(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["status_label"] = STATUS_LABELS[self.status]
        return data
