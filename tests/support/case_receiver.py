"""A stand-in core case system, run as its own process: it verifies signatures, is idempotent on
Idempotency-Key like the real one must be, and injects faults on command.

    python -m tests.support.case_receiver --port P --secret S

POST /related takes a merged duplicate's notice (docs/case-system.md, 合并) for a case it created.
Control endpoints (for tests): POST /_faults {"mode": "503"|"timeout"|"slow"|"none", "count": N,
"delay": seconds}; GET /_stats. Tickets whose content contains REJECT-ME get a 422.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import time
from collections import Counter
from pathlib import Path

from aiohttp import web


class Receiver:
    def __init__(self, secret: str, state: Path | None) -> None:
        self.secret = secret.encode()
        self.state = state
        saved = json.loads(state.read_text()) if state and state.exists() else {}
        self.cases: dict[str, dict] = saved.get("cases", {})  # idempotency key -> case
        self.requests_per_key: Counter[str] = Counter(saved.get("requests_per_key", {}))
        self.bad_signatures = 0
        self.related_notices: dict[str, dict] = {}  # idempotency key -> the last merge notice
        self.total = 0
        self.fault_mode = "none"
        self.fault_count = 0
        self.fault_delay = 0.0

    async def tickets(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.total += 1
        key = request.headers.get("Idempotency-Key", "")
        ts = request.headers.get("X-Hotline-Timestamp", "")
        sig = request.headers.get("X-Hotline-Signature", "")
        expected = "sha256=" + hmac.new(self.secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sig) or abs(time.time() - int(ts or 0)) > 300:
            self.bad_signatures += 1
            return web.json_response({"error": "bad_signature"}, status=401)
        self.requests_per_key[key] += 1
        if self.fault_count > 0 and self.fault_mode != "none":
            self.fault_count -= 1
            if self.fault_mode == "503":
                return web.json_response({"error": "unavailable"}, status=503)
            if self.fault_mode in ("timeout", "slow"):
                await asyncio.sleep(self.fault_delay)
        ticket = json.loads(body)
        if "REJECT-ME" in ticket.get("content", ""):
            return web.json_response({"error": "unprocessable", "detail": "content rejected"}, status=422)
        if key in self.cases:
            return web.json_response(self.cases[key], status=200)
        case = {"case_id": f"CASE-{len(self.cases) + 1:06d}", "ticket_id": ticket["id"]}
        self.cases[key] = case
        self._save()
        return web.json_response(case, status=201)

    def _save(self) -> None:
        """Like a real case system, accepted cases survive a restart."""
        if self.state:
            tmp = self.state.with_suffix(".tmp")
            tmp.write_text(json.dumps({"cases": self.cases, "requests_per_key": self.requests_per_key}))
            tmp.replace(self.state)

    async def faults(self, request: web.Request) -> web.Response:
        cfg = await request.json()
        self.fault_mode = cfg.get("mode", "none")
        self.fault_count = int(cfg.get("count", 0))
        self.fault_delay = float(cfg.get("delay", 0))
        return web.json_response({"ok": True})

    async def related(self, request: web.Request) -> web.Response:
        """A merged duplicate: checked like a forward; answered with the case it now belongs to,
        which must be one this receiver created."""
        body = await request.read()
        ts = request.headers.get("X-Hotline-Timestamp", "")
        expected = "sha256=" + hmac.new(self.secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Hotline-Signature", "")) or abs(time.time() - int(ts or 0)) > 300:
            self.bad_signatures += 1
            return web.json_response({"error": "bad_signature"}, status=401)
        notice = json.loads(body)
        self.requests_per_key[request.headers.get("Idempotency-Key", "")] += 1
        if notice.get("case_id") not in {c["case_id"] for c in self.cases.values()}:
            return web.json_response({"error": "unknown_case"}, status=422)
        self.related_notices[request.headers.get("Idempotency-Key", "")] = notice
        return web.json_response({"case_id": notice["case_id"]}, status=200)

    async def stats(self, _: web.Request) -> web.Response:
        return web.json_response({
            "cases": self.cases, "requests_per_key": dict(self.requests_per_key), "related": self.related_notices,
            "bad_signatures": self.bad_signatures, "total": self.total,
        })


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--state", type=Path, help="file that keeps accepted cases across restarts")
    args = parser.parse_args()
    receiver = Receiver(args.secret, args.state)
    app = web.Application()
    app.router.add_post("/tickets", receiver.tickets)
    app.router.add_post("/related", receiver.related)
    app.router.add_post("/_faults", receiver.faults)
    app.router.add_get("/_stats", receiver.stats)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
