"""Starter content: sample entries written for this project, loaded on the first start of an
empty knowledge base and published (imported by `sample-import`, reviewed by `system-seed`, so
the two-person rule holds for them too)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml
from redis.asyncio import Redis

from knowledge_base.models import EntryContent
from knowledge_base.store import IDS, K, KnowledgeBase

log = logging.getLogger(__name__)

DATA = Path(__file__).with_name("data")
SEED_LOCK = K + "seeded"


def starter_entries() -> list[dict[str, Any]]:
    path = DATA / "starter_entries.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else []


def starter_synonyms() -> list[list[str]]:
    path = DATA / "synonyms.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else []


async def seed_if_empty(redis: Redis) -> int:
    """Load the starter content once per Redis (a lock key keeps two instances from racing)."""
    if await redis.scard(IDS) or not await redis.set(SEED_LOCK, "1", nx=True):
        return 0
    kb = KnowledgeBase(redis)
    count = 0
    for row in starter_entries():
        entry_id = row.pop("id")
        content = EntryContent.model_validate(row)
        await kb.create(content, "sample-import", entry_id)
        await kb.submit(entry_id, "sample-import")
        await kb.publish(entry_id, "system-seed")
        count += 1
    synonyms = starter_synonyms()
    if synonyms:
        await kb.set_synonyms(synonyms, "sample-import")
    log.info("knowledge base seeded with sample content", extra={"entries": count})
    return count
