"""What citizens and agents send the video channel, validated at the edge."""
from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.bodies import read_request
from gateway.errors import ApiError
from gateway.json_io import check_depth
from gateway.phone_numbers import InvalidPhone, to_e164
from gateway.ticket import Kind

SDP_MAX_CHARS = 16_000  # a browser's offer with two media sections is 4–8 kB
BODY_MAX_BYTES = SDP_MAX_CHARS + 4096
CHAT_MAX_CHARS = 500

_MESSAGES = {
    "sdp": "视频连接信息格式不正确，请刷新页面后重试",
    "phone": "请填写11位手机号或带区号的固定电话",
    "text": f"消息不能为空，且不超过{CHAT_MAX_CHARS}字",
    "content": "诉求内容不能为空，且不超过2000字",
    "kind": "请选择诉求类型",
}


def _phone(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return to_e164(raw)
    except InvalidPhone:
        raise ValueError("invalid phone") from None


class VideoOfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sdp: str = Field(min_length=10, max_length=SDP_MAX_CHARS)
    type: Literal["offer"] = "offer"
    phone: str | None = Field(None, max_length=32, description="optional number for a callback (E.164 after validation)")

    _check_phone = field_validator("phone")(classmethod(lambda cls, v: _phone(v)))


class VideoAgentOfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sdp: str = Field(min_length=10, max_length=SDP_MAX_CHARS)
    type: Literal["offer"] = "offer"


class VideoChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: str = Field(min_length=1, max_length=CHAT_MAX_CHARS)


class VideoCallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(min_length=1, max_length=32)

    _check_phone = field_validator("phone")(classmethod(lambda cls, v: _phone(v)))


class VideoFileIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    content: str = Field(min_length=1, max_length=2000)
    kind: Kind | None = None


async def read(request: web.Request, model: type[BaseModel]) -> BaseModel:
    """The body as `model`, read no further than BODY_MAX_BYTES: an oversized offer is refused
    before it is parsed."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "请以 JSON 格式提交")
    body = await read_request(request, BODY_MAX_BYTES, "body_too_large", "提交的内容过大")
    check_depth(body)
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        fields = []
        for e in exc.errors():
            name = ".".join(map(str, e["loc"])) or "body"
            fields.append({"field": name, "code": "too_long" if e["type"] == "string_too_long" else e["type"],
                           "message": _MESSAGES.get(name, "内容格式不正确")})
        raise ApiError(422, "validation_failed", fields[0]["message"] if len(fields) == 1 else "提交内容有误", fields) from None
