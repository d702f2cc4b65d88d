"""The citizen request as the portal and the JSON API accept it, with per-field Chinese errors."""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.geography import districts
from gateway.phone_numbers import InvalidPhone, to_e164

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

KIND_CHOICES = Literal["consultation", "help", "complaint", "report", "suggestion", "unsure"]


class AttachmentIn(BaseModel):
    """JSON variant of an attachment; multipart uploads carry files instead."""

    model_config = ConfigDict(extra="forbid")
    filename: str | None = Field(None, max_length=200)
    content_base64: str = Field(description="file content, base64")


class CitizenRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: KIND_CHOICES = "unsure"
    description: str = Field(min_length=5, max_length=2000)
    district: str | None = Field(None, description="one of Beijing's 16 districts, e.g. 朝阳区")
    address: str | None = Field(None, max_length=200, description="street/town and address")
    phone: str = Field(description="mainland mobile or landline; stored as E.164")
    name: str | None = Field(None, max_length=50)
    confidential: bool = Field(False, description="诉求人要求保密")
    website: str | None = Field(None, description="honeypot: must be left empty")
    related_ticket: str | None = Field(None, pattern=r"^([A-Z]{2}-\d{8}-\d{6,9})?$", description="the chat ticket this form continues")
    attachments: list[AttachmentIn] = Field(default_factory=list)

    @field_validator("description", "address", "name", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        return _CONTROL.sub("", value) if isinstance(value, str) else value

    @field_validator("district", "address", "name", "website", "related_ticket", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("district")
    @classmethod
    def _known_district(cls, value: str | None) -> str | None:
        if value is not None and value not in districts():
            raise ValueError("unknown district")
        return value

    @field_validator("phone")
    @classmethod
    def _phone_e164(cls, value: str) -> str:
        try:
            return to_e164(value)
        except InvalidPhone:
            raise ValueError("invalid phone") from None


_FIELD_ERRORS: dict[str, tuple[str, str]] = {
    "kind": ("invalid_kind", "请选择诉求类型"),
    "description": ("invalid_description", "诉求内容须为5至2000字"),
    "district": ("invalid_district", "请从列表中选择北京市的区"),
    "address": ("invalid_address", "地址不能超过200字"),
    "phone": ("invalid_phone", "请输入有效的手机号码或固定电话，如 13812345678 或 010-65123456"),
    "name": ("invalid_name", "姓名不能超过50字"),
    "confidential": ("invalid_confidential", "保密选项格式不正确"),
    "website": ("invalid_website", "提交未通过校验"),
    "attachments": ("invalid_attachments", "附件格式不正确"),
    "related_ticket": ("invalid_related_ticket", "关联工单号格式不正确，请刷新页面后重试"),
}
_REQUIRED_LABELS = {"description": "诉求内容", "phone": "联系电话"}


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors → [{field, code, message}] that the portal shows next to each field."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "body"
        if field in seen:
            continue
        seen.add(field)
        if error["type"] == "missing":
            label = _REQUIRED_LABELS.get(field, field)
            out.append({"field": field, "code": "required", "message": f"请填写{label}"})
        elif error["type"] == "extra_forbidden":
            out.append({"field": field, "code": "unknown_field", "message": f"不支持的字段：{field}"})
        else:
            code, message = _FIELD_ERRORS.get(field, ("invalid", "内容格式不正确"))
            out.append({"field": field, "code": code, "message": message})
    return out
