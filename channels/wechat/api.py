"""The parts of WeChat's server API the gateway calls: the access token (cached in Redis, so all
instances share one and WeChat's daily quota is not spent per process), media download and the
customer-service message. The base URL is configurable: tests point it at a local peer.

Error codes: 40001/40014/42001 mean the token is stale (refresh once and retry); 45015 (outside
the 48-hour window or unfollowed) and 45047 (quota used) are final for that message."""
from __future__ import annotations

import json
from typing import Any

import aiohttp
from redis.asyncio import Redis

from channels.wechat import keys as wx_keys
from channels.wechat.accounts import WeChatAccount
from gateway.bodies import TooLarge, read_limited
from gateway.redis_values import text

STALE_TOKEN = {40001, 40014, 42001}
OUT_OF_WINDOW = {45015, 45047}
MAX_MEDIA_BYTES = 20 * 1024 * 1024
TIMEOUT = aiohttp.ClientTimeout(total=10)


class WeChatApiError(RuntimeError):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg


class WeChatUnavailable(RuntimeError):
    """WeChat answered 5xx: try again later."""

    def __init__(self, status: int) -> None:
        super().__init__(f"WeChat API answered HTTP {status}")
        self.status = status


class WeChatApi:
    def __init__(self, redis: Redis, base: str) -> None:
        self.redis = redis
        self.base = base.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT, trust_env=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def token(self, account: WeChatAccount, refresh: bool = False) -> str:
        key = wx_keys.access_token(account.name)
        if not refresh and (cached := await self.redis.get(key)):
            return text(cached)
        params = {"grant_type": "client_credential", "appid": account.appid, "secret": account.secret}
        async with self._http().get(f"{self.base}/cgi-bin/token", params=params) as resp:
            if resp.status >= 500:
                raise WeChatUnavailable(resp.status)
            data = await resp.json(content_type=None)
        if "access_token" not in data:
            raise WeChatApiError(int(data.get("errcode", -1)), str(data.get("errmsg", "no access_token")))
        # Refresh five minutes early: WeChat keeps the old token valid that long after a new one.
        await self.redis.set(key, data["access_token"], ex=max(60, int(data.get("expires_in", 7200)) - 300))
        return str(data["access_token"])

    async def _call(self, account: WeChatAccount, method: str, path: str, params: dict[str, str] | None = None,
                    **kwargs: Any) -> aiohttp.ClientResponse | dict[str, Any]:
        """One API call; a stale token is refreshed once. JSON answers come back parsed (errcode
        raised), anything else (a media file) as the open response."""
        for refresh in (False, True):
            query = {**(params or {}), "access_token": await self.token(account, refresh=refresh)}
            resp = await self._http().request(method, f"{self.base}{path}", params=query, **kwargs)
            if resp.status >= 500:
                resp.release()
                raise WeChatUnavailable(resp.status)
            if resp.content_type not in ("application/json", "text/plain"):
                return resp
            data = json.loads(await resp.read() or b"{}")
            resp.release()
            code = int(data.get("errcode", 0))
            if code in STALE_TOKEN and not refresh:
                continue
            if code:
                raise WeChatApiError(code, str(data.get("errmsg", "")))
            return data
        raise WeChatApiError(42001, "access token refresh did not help")

    async def media(self, account: WeChatAccount, media_id: str) -> tuple[bytes, str]:
        result = await self._call(account, "GET", "/cgi-bin/media/get", params={"media_id": media_id})
        if isinstance(result, dict):
            raise WeChatApiError(-1, "media answered JSON without the file")
        async with result:
            return await _limited(result), result.content_type

    async def fetch_url(self, url: str) -> tuple[bytes, str]:
        """A PicUrl: an image on WeChat's CDN, no token needed."""
        async with self._http().get(url) as resp:
            resp.raise_for_status()
            return await _limited(resp), resp.content_type

    async def send_text(self, account: WeChatAccount, openid: str, content: str) -> None:
        body = json.dumps({"touser": openid, "msgtype": "text", "text": {"content": content}}, ensure_ascii=False).encode()
        await self._call(account, "POST", "/cgi-bin/message/custom/send", data=body, headers={"Content-Type": "application/json"})


async def _limited(resp: aiohttp.ClientResponse) -> bytes:
    try:
        return await read_limited(resp.content, resp.content_length, MAX_MEDIA_BYTES)
    except TooLarge:
        raise WeChatApiError(-2, "media too large") from None
