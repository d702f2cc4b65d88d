"""The WeChat channel's part of the OpenAPI document: WeChat's callback."""
from __future__ import annotations

from typing import Any

from gateway.openapi_parts import errors

_WX_ACCOUNT = {"name": "account", "in": "path", "required": True, "schema": {"type": "string"}, "description": "configured account name"}
_WX_SIGNED = [{"name": n, "in": "query", "required": True, "schema": {"type": "string"}} for n in ("signature", "timestamp", "nonce")]


def paths() -> dict[str, Any]:
    return {
        "/wechat/{account}": {
            "get": {"tags": ["wechat"], "summary": "WeChat server verification: echoes `echostr` when `signature` matches", "operationId": "wechatVerify",
                    "parameters": [_WX_ACCOUNT, *_WX_SIGNED, {"name": "echostr", "in": "query", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "echostr, as text/plain"}, **errors(403, 404)}},
            "post": {"tags": ["wechat"], "summary": "WeChat pushes (messages and events) in plaintext, compatible or safe (AES) mode; "
                                                    "answers a passive reply (encrypted when the push was) or `success`",
                     "operationId": "wechatReceive",
                     "parameters": [_WX_ACCOUNT, *_WX_SIGNED, {"name": "openid", "in": "query", "schema": {"type": "string"}},
                                    {"name": "encrypt_type", "in": "query", "schema": {"type": "string", "enum": ["aes", "raw"]}},
                                    {"name": "msg_signature", "in": "query", "schema": {"type": "string"}}],
                     "requestBody": {"required": True, "content": {"text/xml": {"schema": {"type": "string"}}}},
                     "responses": {"200": {"description": "passive reply XML, or the literal `success`"}, **errors(400, 403, 404, 413)}},
        },
    }
