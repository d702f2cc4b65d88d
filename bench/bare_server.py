"""Baseline for bench/intake.py: a bare aiohttp handler that reads the JSON body and answers 201.
Same event loop (uvloop) and same process model as the gateway, with none of its work."""
from __future__ import annotations

import sys

from aiohttp import web


async def handler(request: web.Request) -> web.Response:
    await request.json()
    return web.json_response({"ticket_id": "BJ-00000000-000000", "status": "received"}, status=201)


def main() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    app = web.Application()
    app.router.add_post("/api/v1/requests", handler)
    app.router.add_get("/healthz", lambda _: web.json_response({"status": "ok"}))
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
