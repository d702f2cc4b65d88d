"""Typed application state held by the knowledge base."""
from __future__ import annotations

import asyncio

from aiohttp import web

from knowledge_base.live import LiveKnowledge

KNOWLEDGE = web.AppKey("knowledge", LiveKnowledge)
IMPORT_TASKS = web.AppKey("kb_import_tasks", set[asyncio.Task[None]])
