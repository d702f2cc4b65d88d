"""Group commit for Lua scripts: calls made in the same event-loop turn go to Redis as one
pipeline. Each caller still awaits its own script's reply, so nothing is acknowledged before
Redis has run it; under load, one round trip serves many requests."""
from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError


class BatchedScript:
    def __init__(self, redis: Redis, source: str, max_batch: int = 256) -> None:
        self.redis = redis
        self.source = source
        self.sha: str | None = None
        self.max_batch = max_batch
        self._pending: list[tuple[list[Any], list[Any], asyncio.Future[Any]]] = []
        self._scheduled = False

    async def __call__(self, keys: list[Any], args: list[Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((keys, args, future))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_soon)
        return await future

    def _flush_soon(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        for start in range(0, len(batch), self.max_batch):
            asyncio.ensure_future(self._run(batch[start:start + self.max_batch]))

    async def _run(self, batch: list[tuple[list[Any], list[Any], asyncio.Future[Any]]]) -> None:
        try:
            if self.sha is None:
                self.sha = await self.redis.script_load(self.source)
            replies = await self._execute(batch)
            if any(isinstance(r, NoScriptError) for r in replies):
                # Redis lost its script cache (restart, SCRIPT FLUSH): load again and rerun only
                # the calls that did not run.
                self.sha = await self.redis.script_load(self.source)
                redo = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
                for i, reply in zip(redo, await self._execute([batch[i] for i in redo])):
                    replies[i] = reply
        except Exception as exc:  # connection trouble: every caller in the batch gets the error
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), reply in zip(batch, replies):
            if future.done():
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _execute(self, batch: list[tuple[list[Any], list[Any], asyncio.Future[Any]]]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                assert self.sha is not None  # loaded before the first batch
                pipe.evalsha(self.sha, len(keys), *keys, *args)
            return await pipe.execute(raise_on_error=False)
