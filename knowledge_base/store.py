"""Knowledge-base storage and the publishing workflow, in Redis.

Each entry has a state document and an append-only list of immutable versions. Saving creates
a new version; a reviewer publishes one version, and must not be its author (two-person rule).
Rollback republishes an earlier version's content as a new version, which goes through review
again. Every change is written to the audit stream, and every publish or archive bumps the
revision and is announced on pub/sub so that every instance rebuilds its index.
"""
from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from gateway import clock, keys
from gateway.redis_values import text, text_fields
from knowledge_base.models import ENTRY_ID, EntryContent, EntryState, EntryStatus, EntryVersion

K = keys.P + "kb:"
NOTICE_MAX_DAYS = 7  # a 热点 notice published without review expires within a week


def changed_channel(redis: Redis) -> str:
    """Published on every KB change: each instance's live index refreshes."""
    return keys.pubsub_channel(redis, "kb:changed")
IDS = K + "ids"
AUDIT = K + "audit"
REVISION = K + "revision"
SYNONYMS = K + "synonyms"
MAX_VERSION = 2**31  # far beyond any entry's history; keeps a version number a valid Redis list index


def state_key(entry_id: str) -> str:
    return f"{K}e:{entry_id}"


def versions_key(entry_id: str) -> str:
    return f"{K}e:{entry_id}:v"


def reviews_key(entry_id: str) -> str:
    return f"{K}e:{entry_id}:reviews"


def answered_key(entry_id: str, version: int) -> str:
    return f"{K}answered:{entry_id}:{version}"


class WorkflowError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


def _not_found(entry_id: str) -> WorkflowError:
    return WorkflowError(404, "entry_not_found", f"知识条目 {entry_id} 不存在")


class KnowledgeBase:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    # -- reading --------------------------------------------------------------------------

    async def state(self, entry_id: str) -> EntryState:
        raw = await self.redis.get(state_key(entry_id))
        if raw is None:
            raise _not_found(entry_id)
        return EntryState.model_validate_json(raw)

    async def versions(self, entry_id: str) -> list[EntryVersion]:
        raw, reviews = await self._raw_versions(entry_id)
        return [_with_review(EntryVersion.model_validate_json(r), reviews) for r in raw]

    async def version(self, entry_id: str, version: int) -> EntryVersion:
        missing = WorkflowError(404, "version_not_found", f"条目 {entry_id} 没有第 {version} 版")
        if not 1 <= version <= MAX_VERSION:  # checked here: Redis refuses an index beyond 64 bits
            raise missing
        raw = await self.redis.lindex(versions_key(entry_id), version - 1)
        if raw is None:
            raise missing
        review = await self.redis.hget(reviews_key(entry_id), str(version))
        return _with_review(EntryVersion.model_validate_json(raw), {str(version): review} if review else {})

    async def _raw_versions(self, entry_id: str) -> tuple[list[bytes], dict[str, bytes]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lrange(versions_key(entry_id), 0, -1)
            pipe.hgetall(reviews_key(entry_id))
            raw, reviews = await pipe.execute()
        if not raw:
            raise _not_found(entry_id)
        return raw, {k.decode(): v for k, v in reviews.items()}

    async def list_states(self) -> list[EntryState]:
        ids = sorted(text(i) for i in await self.redis.smembers(IDS))
        if not ids:
            return []
        raw = await self.redis.mget([state_key(i) for i in ids])
        return [EntryState.model_validate_json(r) for r in raw if r is not None]

    async def revision(self) -> int:
        return int(await self.redis.get(REVISION) or 0)

    async def published_versions(self, states: list[EntryState] | None = None) -> list[EntryVersion]:
        """Every entry's published version (in force or not: the snapshot filters by time)."""
        published = [(s.id, s.published_version) for s in (await self.list_states() if states is None else states)
                     if s.published_version]
        if not published:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id, number in published:
                pipe.lindex(versions_key(entry_id), number - 1)
                pipe.hget(reviews_key(entry_id), str(number))
            replies = await pipe.execute()
        out = []
        for i, (_, number) in enumerate(published):
            raw, review = replies[2 * i], replies[2 * i + 1]
            if raw is not None:
                out.append(_with_review(EntryVersion.model_validate_json(raw), {str(number): review} if review else {}))
        return out

    async def synonyms(self) -> list[list[str]]:
        raw = await self.redis.get(SYNONYMS)
        return json.loads(raw) if raw else []

    # -- changing -------------------------------------------------------------------------

    async def create(self, content: EntryContent, author: str, entry_id: str | None = None) -> EntryState:
        entry_id = entry_id or f"kb-{clock.now():%Y%m%d}-{secrets.token_hex(3)}"
        if not re.fullmatch(ENTRY_ID, entry_id):
            raise WorkflowError(422, "invalid_entry_id", "条目编号只能包含小写字母、数字和连字符，3至64位")
        now = clock.now()
        version = EntryVersion(**content.model_dump(), entry_id=entry_id, version=1, author=author, created_at=now)
        state = EntryState(id=entry_id, status=EntryStatus.draft, latest_version=1, created_at=now, updated_at=now,
                           title=content.title, category=content.category)
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.watch(state_key(entry_id))
            if await pipe.exists(state_key(entry_id)):
                raise WorkflowError(409, "entry_exists", f"条目编号 {entry_id} 已存在")
            pipe.multi()
            pipe.set(state_key(entry_id), state.model_dump_json())
            pipe.rpush(versions_key(entry_id), version.model_dump_json())
            pipe.sadd(IDS, entry_id)
            _audit(pipe, author, entry_id, "created", 1, {"title": content.title})
            await pipe.execute()
        return state

    async def save(self, entry_id: str, content: EntryContent, author: str, base_version: int | None = None) -> EntryState:
        """A new version. `base_version` guards against overwriting a colleague's newer save."""

        async def change(state: EntryState, pipe: Any) -> dict[str, Any]:
            if base_version is not None and base_version != state.latest_version:
                raise WorkflowError(409, "stale_version", f"该条目已被他人更新到第 {state.latest_version} 版，请刷新后再修改")
            previous = await self._stored_version(entry_id, state.latest_version)
            changed = _changed_fields(previous.content(), content)
            if not changed:
                raise WorkflowError(422, "no_change", "内容没有变化")
            number = state.latest_version + 1
            version = EntryVersion(**content.model_dump(), entry_id=entry_id, version=number, author=author, created_at=clock.now())
            pipe.rpush(versions_key(entry_id), version.model_dump_json())
            state.latest_version = number
            state.status = EntryStatus.draft
            state.title, state.category = content.title, content.category
            return {"action": "saved", "version": number, "detail": {"changed": changed}}

        return await self._transition(entry_id, author, change)

    async def submit(self, entry_id: str, actor: str) -> EntryState:
        async def change(state: EntryState, _: Any) -> dict[str, Any]:
            if state.status != EntryStatus.draft:
                raise WorkflowError(409, "not_a_draft", "只有草稿可以提交审核")
            state.status = EntryStatus.in_review
            return {"action": "submitted", "version": state.latest_version}

        return await self._transition(entry_id, actor, change)

    async def reject(self, entry_id: str, reviewer: str, reason: str) -> EntryState:
        async def change(state: EntryState, _: Any) -> dict[str, Any]:
            if state.status != EntryStatus.in_review:
                raise WorkflowError(409, "not_in_review", "该条目不在审核中")
            state.status = EntryStatus.draft
            return {"action": "rejected", "version": state.latest_version, "detail": {"reason": reason}}

        return await self._transition(entry_id, reviewer, change)

    async def publish(self, entry_id: str, reviewer: str, version: int | None = None) -> EntryState:
        """Publish the version under review. Its author may not publish it."""

        async def change(state: EntryState, pipe: Any) -> dict[str, Any]:
            number = version or state.latest_version
            if state.status != EntryStatus.in_review or number != state.latest_version:
                raise WorkflowError(409, "not_in_review", "只能发布已提交审核的最新版本")
            candidate = await self._stored_version(entry_id, number)
            if candidate.author == reviewer:
                raise WorkflowError(403, "two_person_rule", "发布须由另一位审核人完成：您是该版本的最后编辑人")
            pipe.hset(reviews_key(entry_id), str(number), json.dumps({"reviewer": reviewer, "published_at": clock.now().isoformat()}))
            pipe.incr(REVISION)
            state.status = EntryStatus.published
            superseded = state.published_version
            state.published_version = number
            return {"action": "published", "version": number, "detail": {"superseded": superseded}, "announce": True}

        return await self._transition(entry_id, reviewer, change)

    async def publish_notice(self, entry_id: str, supervisor: str, source: str) -> EntryState:
        """Publish a 热点 notice the supervisor just wrote, without a second reviewer: a notice
        that helps only if the bot answers with it now (e.g. 停水, 预计18时恢复). Only an entry
        with an expiry within NOTICE_MAX_DAYS qualifies; the audit names it a notice and its
        source, so editors see every one (knowledge_base/notices.py)."""

        async def change(state: EntryState, pipe: Any) -> dict[str, Any]:
            candidate = await self._stored_version(entry_id, state.latest_version)
            if state.status != EntryStatus.draft or candidate.expires_at is None:
                raise WorkflowError(409, "not_a_notice", "只有带失效日期的公告草稿可以直接发布")
            if (candidate.expires_at - clock.now().date()).days > NOTICE_MAX_DAYS:
                raise WorkflowError(422, "notice_too_long", f"公告有效期最长{NOTICE_MAX_DAYS}天，更长期的内容请走知识库审核流程")
            pipe.hset(reviews_key(entry_id), str(state.latest_version),
                      json.dumps({"reviewer": supervisor, "published_at": clock.now().isoformat(), "notice": source}))
            pipe.incr(REVISION)
            state.status = EntryStatus.published
            state.published_version = state.latest_version
            return {"action": "notice_published", "version": state.latest_version, "detail": {"source": source}, "announce": True}

        return await self._transition(entry_id, supervisor, change)

    async def archive(self, entry_id: str, actor: str) -> EntryState:
        async def change(state: EntryState, pipe: Any) -> dict[str, Any]:
            if state.status == EntryStatus.archived:
                raise WorkflowError(409, "already_archived", "该条目已归档")
            was_published = state.published_version
            state.status = EntryStatus.archived
            state.published_version = None
            if was_published:
                pipe.incr(REVISION)
            return {"action": "archived", "version": state.latest_version, "detail": {"was_published": was_published}, "announce": bool(was_published)}

        return await self._transition(entry_id, actor, change)

    async def rollback(self, entry_id: str, to_version: int, actor: str) -> EntryState:
        """Republish an earlier version's content as a new version, submitted for review."""
        earlier = await self.version(entry_id, to_version)

        async def change(state: EntryState, pipe: Any) -> dict[str, Any]:
            number = state.latest_version + 1
            version = EntryVersion(**earlier.content().model_dump(), entry_id=entry_id, version=number, author=actor,
                                   created_at=clock.now(), note=f"回滚至第 {to_version} 版")
            pipe.rpush(versions_key(entry_id), version.model_dump_json())
            state.latest_version = number
            state.status = EntryStatus.in_review
            return {"action": "rolled_back", "version": number, "detail": {"from_version": to_version}}

        return await self._transition(entry_id, actor, change)

    async def import_rows(self, rows: list[tuple[str, EntryContent]], author: str) -> dict[str, int]:
        """Create or update (as a new draft version) every row, all in one transaction."""
        keys = [state_key(entry_id) for entry_id, _ in rows]
        while True:
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(*keys)
                    states = await self.redis.mget(keys) if keys else []
                    latest: dict[str, EntryVersion] = {}
                    existing = [(rows[i][0], EntryState.model_validate_json(raw)) for i, raw in enumerate(states) if raw is not None]
                    if existing:
                        fetched = await self._latest_versions(existing)
                        latest = {v.entry_id: v for v in fetched}
                    pipe.multi()
                    counts = {"created": 0, "updated": 0, "unchanged": 0}
                    now = clock.now()
                    for (entry_id, content), raw in zip(rows, states):
                        if raw is None:
                            version = EntryVersion(**content.model_dump(), entry_id=entry_id, version=1, author=author, created_at=now, note="导入")
                            state = EntryState(id=entry_id, status=EntryStatus.draft, latest_version=1, created_at=now, updated_at=now,
                                               title=content.title, category=content.category)
                            pipe.sadd(IDS, entry_id)
                            counts["created"] += 1
                        else:
                            state = EntryState.model_validate_json(raw)
                            changed = _changed_fields(latest[entry_id].content(), content)
                            if not changed:
                                counts["unchanged"] += 1
                                continue
                            version = EntryVersion(**content.model_dump(), entry_id=entry_id, version=state.latest_version + 1,
                                                   author=author, created_at=now, note="导入")
                            state.latest_version, state.status, state.updated_at = version.version, EntryStatus.draft, now
                            state.title, state.category = content.title, content.category
                            counts["updated"] += 1
                        pipe.rpush(versions_key(entry_id), version.model_dump_json())
                        pipe.set(state_key(entry_id), state.model_dump_json())
                        _audit(pipe, author, entry_id, "imported", version.version, {})
                    await pipe.execute()
                    return counts
                except WatchError:
                    continue

    async def _stored_version(self, entry_id: str, number: int) -> EntryVersion:
        """A version the entry's state names, so one that is stored (versions are never removed)."""
        raw = await self.redis.lindex(versions_key(entry_id), number - 1)
        assert raw is not None
        return EntryVersion.model_validate_json(raw)

    async def _latest_versions(self, states: list[tuple[str, EntryState]]) -> list[EntryVersion]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id, state in states:
                pipe.lindex(versions_key(entry_id), state.latest_version - 1)
            return [EntryVersion.model_validate_json(r) for r in await pipe.execute()]

    async def latest_versions(self, states: list[EntryState] | None = None) -> list[EntryVersion]:
        states = await self.list_states() if states is None else states
        return await self._latest_versions([(s.id, s) for s in states])

    async def set_synonyms(self, groups: list[list[str]], actor: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(SYNONYMS, json.dumps(groups, ensure_ascii=False))
            pipe.incr(REVISION)
            _audit(pipe, actor, "", "synonyms_changed", 0, {"groups": len(groups)})
            await pipe.execute()
        await self.redis.publish(changed_channel(self.redis), "synonyms")

    async def _transition(self, entry_id: str, actor: str, change: Callable[[EntryState, Any], Awaitable[dict[str, Any]]]) -> EntryState:
        key = state_key(entry_id)
        while True:
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise _not_found(entry_id)
                    state = EntryState.model_validate_json(raw)
                    pipe.multi()
                    outcome = await change(state, pipe)
                    state.updated_at = clock.now()
                    pipe.set(key, state.model_dump_json())
                    _audit(pipe, actor, entry_id, outcome["action"], outcome["version"], outcome.get("detail", {}))
                    await pipe.execute()
                except WatchError:
                    continue
            if outcome.get("announce"):
                await self.redis.publish(changed_channel(self.redis), entry_id)
            return state

    # -- answer provenance and recall --------------------------------------------------------

    async def record_answer(self, entry_id: str, version: int, ticket_id: str) -> None:
        await self.redis.sadd(answered_key(entry_id, version), ticket_id)

    async def answered_with_superseded(self, entry_id: str) -> dict[int, list[str]]:
        """Tickets answered with versions older than the published one, by version."""
        state = await self.state(entry_id)
        current = state.published_version or state.latest_version + 1
        out: dict[int, list[str]] = {}
        for number in range(1, current):
            ids = await self.redis.smembers(answered_key(entry_id, number))
            if ids:
                out[number] = sorted(text(i) for i in ids)
        return out

    async def audit(self, entry_id: str | None = None, count: int = 200) -> list[dict[str, Any]]:
        """Newest first: one entry's whole history, or the latest of the global log."""
        if entry_id:
            raw = [json.loads(r) for r in await self.redis.lrange(f"{K}e:{entry_id}:audit", -count, -1)][::-1]
        else:
            entries = await self.redis.xrevrange(AUDIT, count=count) or []
            raw = [text_fields(fields) for _, fields in entries if fields is not None]
        for row in raw:
            row["detail"] = json.loads(row["detail"])
            row["version"] = int(row["version"])
        return raw



def _audit(pipe: Any, actor: str, entry_id: str, action: str, version: int, detail: dict[str, Any]) -> None:
    row = {"at": clock.now().isoformat(), "actor": actor, "entry": entry_id, "action": action,
           "version": str(version), "detail": json.dumps(detail, ensure_ascii=False, default=str)}
    pipe.xadd(AUDIT, row, maxlen=1_000_000, approximate=True)
    if entry_id:  # each entry's own history, however busy the global log gets
        pipe.rpush(f"{K}e:{entry_id}:audit", json.dumps(row, ensure_ascii=False))


def _with_review(version: EntryVersion, reviews: dict[str, Any]) -> EntryVersion:
    raw = reviews.get(str(version.version))
    if raw:
        review = json.loads(raw)
        version.reviewer = review["reviewer"]
        version.published_at = datetime.fromisoformat(review["published_at"])
    return version


def _changed_fields(old: EntryContent, new: EntryContent) -> list[str]:
    a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
    return [name for name in a if a[name] != b[name]]
