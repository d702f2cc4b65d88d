"""`hotline rasa …`: build Rasa's virtualenv, export the KB into training data, train, serve.

    hotline rasa setup [--force]          Rasa 3.6 venv under $HOTLINE_RASA_HOME (cached)
    hotline rasa export [--from-seed]     consultation intents from the KB phrasings
    hotline rasa train [--force] [--copy-to DIR]
    hotline rasa serve [--port 5005] [--host 127.0.0.1]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from bot.rasa import venv as rasa_venv

if TYPE_CHECKING:
    from knowledge_base.models import EntryVersion

SEED_SOURCE = "the sample knowledge base (knowledge_base/data/starter_entries.yaml)"


def cmd_setup(args: argparse.Namespace) -> int:
    started = time.monotonic()
    venv = rasa_venv.setup(force=args.force)
    print(f"{venv} ({time.monotonic() - started:.0f} s)")
    return 0


async def published_versions() -> list[EntryVersion]:
    from gateway.redis_client import redis_address
    from gateway.settings import Settings
    from knowledge_base.store import KnowledgeBase

    with redis_address(Settings.from_env()) as address:
        redis = address.client()
        try:
            return await KnowledgeBase(redis).published_versions()
        finally:
            await redis.aclose()


def cmd_export(args: argparse.Namespace) -> int:
    from bot.rasa import export as rasa_export

    if args.from_seed:
        from triage.evaluation import starter_snapshot

        versions, source = list(starter_snapshot().entries.values()), SEED_SOURCE
    else:
        versions, source = asyncio.run(published_versions()), "the published knowledge base"
        if not versions:
            print("error: the knowledge base has no published entries (use --from-seed for the sample one)", file=sys.stderr)
            return 2
    written = rasa_export.export(versions, source)
    print(f"{len(versions)} consultation intents; {len(written)} files changed")
    for path in written:
        print(f"  {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bot.rasa import model as rasa_model

    try:
        model = rasa_model.train(force=args.force)
        if args.copy_to:
            model = rasa_model.copy_to(args.copy_to)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(model)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.rasa import model as rasa_model
    from bot.rasa.server import RasaServer
    from gateway.settings import Settings

    settings = Settings.from_env()
    try:
        model = rasa_model.train()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    action_url = os.environ.get("HOTLINE_RASA_ACTION_URL") or f"http://{settings.host}:{settings.port}/rasa/actions"
    server = RasaServer(model, args.port, action_url, settings.rasa_action_token or "", host=args.host)
    print(f"rasa on {server.url}, actions at {action_url}", file=sys.stderr, flush=True)
    process = subprocess.run(server.command(), cwd=rasa_model.PROJECT, env=server.env())
    return process.returncode


def add_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rasa = sub.add_parser("rasa", help="Rasa beside the bot: setup, export, train, serve")
    rsub = rasa.add_subparsers(dest="rasa_cmd", required=True)
    setup = rsub.add_parser("setup", help="build Rasa's virtualenv in the cache directory (skipped when complete)")
    setup.add_argument("--force", action="store_true", help="rebuild even if complete")
    setup.set_defaults(func=cmd_setup)
    export = rsub.add_parser("export", help="write consultation intents from the KB phrasings into bot/rasa/project/")
    export.add_argument("--from-seed", action="store_true", help="from the sample KB file instead of the published KB in Redis")
    export.set_defaults(func=cmd_export)
    train = rsub.add_parser("train", help="train the model (cached by a hash of the training data)")
    train.add_argument("--force", action="store_true")
    train.add_argument("--copy-to", type=lambda p: __import__("pathlib").Path(p), help="also copy the model into this directory")
    train.set_defaults(func=cmd_train)
    serve = rsub.add_parser("serve", help="run the Rasa server (trains first if needed)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5005)
    serve.set_defaults(func=cmd_serve)
