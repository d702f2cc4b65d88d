"""`hotline wechat-peer`: play WeChat towards a running gateway from the command line.

    hotline wechat-peer [--gateway URL] [--account main] [--openid ID] [--mode plain|compat|safe] COMMAND
        verify [ECHOSTR]                      the 服务器配置 verification GET
        text CONTENT                          a text message (e.g. 楼下噪音扰民, 我要反映, 13812345678)
        location LAT LON [--label L]          a shared location
        event subscribe|unsubscribe|click|view|scan [KEY]
                                              an event (click: the menu key, e.g. MENU_REPORT)

Each push is signed, and encrypted unless the mode is plain, exactly as WeChat does
(`peers/wechat.py`), with the account's secrets read from the same environment variables
as the gateway (HOTLINE_WECHAT_<NAME>_TOKEN, _APPID, _AES_KEY, _MODE), and sent over HTTP to
`<gateway>/wechat/<account>`. The passive reply is decrypted and checked as WeChat would and its
text printed; `--raw` prints the answer as received. When the gateway answers `success` (no
passive reply) and `--api-port` is given, the command serves WeChat's API (api.weixin.qq.com) on
that port for `--wait` seconds and prints the customer-service message the gateway sends there
(the gateway must run with HOTLINE_WECHAT_API_BASE=http://127.0.0.1:<port>).

Exit status: 0 when WeChat would accept the answer, 1 when it would not (refused push, bad
reply, timeout), 2 on a usage or configuration error.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from typing import Any

from peers import wechat as wx

DEFAULT_OPENID = "oLocalTestUser-wechat-peer-0001"
EVENTS = {"subscribe": "subscribe", "unsubscribe": "unsubscribe", "click": "CLICK", "view": "VIEW", "scan": "SCAN"}


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("wechat-peer", help="send WeChat pushes (signed/encrypted like WeChat) to a running gateway")
    p.add_argument("--gateway", default="http://127.0.0.1:8080", help="the gateway's base URL (default http://127.0.0.1:8080)")
    p.add_argument("--account", default="main", help="account name: the URL is <gateway>/wechat/<account>, secrets from HOTLINE_WECHAT_<ACCOUNT>_*")
    p.add_argument("--openid", default=DEFAULT_OPENID, help="the sender's OpenID")
    p.add_argument("--mode", choices=("plain", "compat", "safe"),
                   help="how to send: plain, compat or safe (default: from HOTLINE_WECHAT_<ACCOUNT>_MODE, safe when unset)")
    p.add_argument("--original-id", default=wx.DEFAULT_ORIGINAL_ID, help="the account's original ID (ToUserName)")
    p.add_argument("--raw", action="store_true", help="print the answer body as received")
    p.add_argument("--timeout", type=float, default=wx.DEADLINE, help="seconds to wait for the answer (WeChat: 5)")
    p.add_argument("--api-port", type=int, help="serve WeChat's API here to catch a later customer-service message")
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for that message (with --api-port)")
    what = p.add_subparsers(dest="wechat_cmd", required=True)
    verify = what.add_parser("verify", help="the server-verification GET")
    verify.add_argument("echostr", nargs="?", default="hotline-echo")
    text = what.add_parser("text", help="a text message")
    text.add_argument("content")
    loc = what.add_parser("location", help="a shared location")
    loc.add_argument("lat", type=float)
    loc.add_argument("lon", type=float)
    loc.add_argument("--label", default="")
    loc.add_argument("--scale", type=int, default=15)
    ev = what.add_parser("event", help="an event: subscribe, unsubscribe, click KEY, view URL, scan SCENE")
    ev.add_argument("event", choices=sorted(EVENTS))
    ev.add_argument("key", nargs="?", default=None, help="EventKey (click: menu key such as MENU_REPORT)")
    p.set_defaults(func=run)


def _xml(args: argparse.Namespace) -> str:
    to = args.original_id
    if args.wechat_cmd == "text":
        return wx.text(args.openid, args.content, to=to)
    if args.wechat_cmd == "location":
        return wx.location(args.openid, args.lat, args.lon, args.scale, args.label, to=to)
    fields: dict[str, Any] = {}
    if args.key is not None:
        fields["EventKey"] = args.key
    if args.event == "scan":
        fields.setdefault("EventKey", "0")
        fields["Ticket"] = "local-ticket"
    return wx.event(args.openid, EVENTS[args.event], to=to, **fields)


def _err(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


async def send(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> int:
    try:
        account, env_mode = wx.Account.from_env(args.account, environ, original_id=args.original_id)
    except ValueError as exc:
        _err(f"wechat-peer: account {args.account}: {exc}")
        return 2
    mode: wx.Mode = args.mode or env_mode
    url = f"{args.gateway.rstrip('/')}/wechat/{args.account}"
    peer = wx.WeChatPeer(account, url, port=args.api_port or 0)
    try:
        if args.api_port:
            await peer.start()
        if args.wechat_cmd == "verify":
            status, body = await peer.verify(args.echostr)
            print(body)
            ok = status == 200 and body == args.echostr
            _err(f"HTTP {status}: {'verified' if ok else 'verification failed'}")
            return 0 if ok else 1
        result = await peer.push(_xml(args), mode=mode, timeout=args.timeout)
        if args.raw:
            print(result.body)
        if result.error is not None:
            _err(f"[{mode}] {result.error}" + (f": {result.body[:500]}" if result.body else ""))
            return 1
        if result.reply is not None:
            _err(f"[{mode}] HTTP {result.status}, {'encrypted' if result.encrypted else 'plaintext'} passive reply")
            if not args.raw:
                content = result.reply.get("Content")
                print(content if isinstance(content, str) else result.reply_xml)
            return 0
        _err(f"[{mode}] HTTP {result.status}, {result.body or 'empty body'}: no passive reply")
        if args.api_port:
            try:
                sent = await peer.wait_sent(lambda m: m.get("touser") == args.openid, timeout=args.wait)
            except (asyncio.TimeoutError, TimeoutError):
                _err(f"no customer-service message within {args.wait:g} s")
                return 0
            _err("customer-service message (客服消息):")
            print(sent.get("text", {}).get("content", sent))
        return 0
    finally:
        await peer.stop()


def run(args: argparse.Namespace) -> int:
    return asyncio.run(send(args))


def main(argv: list[str] | None = None) -> int:
    """`python -m peers.wechat_cli ...` works like `hotline wechat-peer ...`."""
    parser = argparse.ArgumentParser(prog="hotline")
    add_cli(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(["wechat-peer", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
