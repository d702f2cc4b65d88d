"""`hotline`: run the product and manage desktop users.

    hotline run [--host H] [--port P]
    hotline worker
    hotline speech-node
    hotline bot eval [--file F] [--verbose]
    hotline users add NAME --role agent [--role supervisor] [--display-name 张三] [--capability sign_language] [--password-stdin]
    hotline users grant|revoke NAME sign_language
    hotline users list
    hotline users passwd NAME [--password-stdin] [--temporary]
    hotline users disable|enable NAME
    hotline simulate-call WAV [--caller N] [--agent-interface PJSIP/1001] [--fast]
    hotline models fetch [--name NAME] [--dest DIR]
    hotline rasa setup|export|train|serve
    hotline wechat-peer [--gateway URL] [--account main] text|location|event|verify ...
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import secrets
import sys
from collections.abc import Awaitable
from pathlib import Path

from aiohttp import web

from bot.rasa import cli as rasa_cli
from gateway import log_format
from gateway.redis_client import RedisAddress, redis_address
from gateway.settings import Settings
from gateway.users import CAPABILITIES, ROLES, PasswordRejected, UserError, Users
from knowledge_base.snapshot import KnowledgeSnapshot
from peers import simulate_call as simulate
from peers import wechat_cli as wechat_peer_cli
from server.process import install_uvloop
from server.registry import channels, settings_from_env
from speech import fetch

BOOTSTRAP_ADMIN = "admin"


async def _bootstrap_admin(address: RedisAddress) -> str | None:
    """First start with no users: create `admin` with a one-time password, returned here and shown
    on the console (not in the logs) only once the gateway is up (_announce_admin), so the desk is
    reachable without another command. None when there are users already."""
    redis = address.client()
    try:
        users = Users(redis)
        if await users.count() == 0:
            password = os.environ.get("HOTLINE_BOOTSTRAP_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            await users.add(BOOTSTRAP_ADMIN, password, list(ROLES), display_name="系统管理员", temporary=True)
            return password
        return None
    finally:
        await redis.aclose()


async def _forget_bootstrap_admin(address: RedisAddress) -> None:
    """The gateway failed to start before the password was shown: remove the unseen admin, so the
    next start creates it again and shows that password."""
    from gateway import keys

    redis = address.client()
    try:
        await redis.delete(keys.user(BOOTSTRAP_ADMIN))
        await redis.srem(keys.USERS_SET, BOOTSTRAP_ADMIN)
    finally:
        await redis.aclose()


def _announce_admin(password: str) -> None:
    print(f"\n  首次启动：已创建管理员账号 {BOOTSTRAP_ADMIN}，初始密码 {password}\n"
          f"  首次登录工作台时必须修改该密码；忘记密码可用 `hotline users passwd {BOOTSTRAP_ADMIN}` 重设。\n"
          f"  (first start: user '{BOOTSTRAP_ADMIN}' created with this one-time password; it must be changed at the\n"
          f"   first login; lost it? reset it with `hotline users passwd {BOOTSTRAP_ADMIN}`)\n", file=sys.stderr, flush=True)


def _tune_gc() -> None:
    """Each request allocates many short-lived objects; fewer young-generation collections and
    no rescanning of start-up objects cut tail latency noticeably under load."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_from_env()
    log_format.configure(settings.log_level)
    host = args.host or settings.host
    port = args.port or settings.port
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.workers == "process":
        _share_metrics_between_processes(settings)
    install_uvloop()
    try:
        with redis_address(settings, supervise=True) as address:
            _tune_gc()
            worker_env = {**os.environ, **address.child_env(), "HOTLINE_INSTANCE_ID": settings.instance_id + "-w"}
            return asyncio.run(_serve(settings, address, worker_env, host, port))
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were in place: nothing to clean up
        return 0


async def _serve(settings: Settings, address: RedisAddress, worker_env: dict[str, str], host: str, port: int) -> int:
    """Start everything, and only then show the admin password and the addresses; stop on SIGINT
    (Ctrl-C) or SIGTERM, quietly."""
    import signal

    from server.app import create_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    password: str | None = None
    runner: web.AppRunner | None = None
    try:
        try:
            password = await _bootstrap_admin(address)  # before the port opens: a login may come at once
            app = create_app(settings, address, worker_env)
            runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=10)
            # The app's start-up (knowledge index, workers, phone channel...) can take a while;
            # Ctrl-C or SIGTERM meanwhile stops it instead of waiting for it.
            if not await _first_unless_stopped(_start_site(runner, host, port), stop):
                if password is not None:
                    await _forget_bootstrap_admin(address)
                return 0
        except Exception as exc:
            logging.getLogger("server.cli").error("gateway start failed", exc_info=True)
            if password is not None:
                await _forget_bootstrap_admin(address)
            print(f"\n  启动失败 / the gateway could not start: {type(exc).__name__}: {exc}\n", file=sys.stderr, flush=True)
            return 1
        if password is not None:
            _announce_admin(password)
        print(f"  北京12345 受理网关: http://{host}:{port}/   坐席工作台: http://{host}:{port}/agent   "
              f"监督大屏: http://{host}:{port}/supervisor/wall", file=sys.stderr, flush=True)
        for channel in channels():
            if (notice := channel.start_notice(app)) is not None:
                print(f"  {notice}", file=sys.stderr, flush=True)
        await stop.wait()
        return 0
    finally:
        if runner is not None:
            try:
                await runner.cleanup()
            except Exception:  # a start-up cut short leaves parts never started
                logging.getLogger("server.cli").warning("cleanup after an interrupted start failed", exc_info=True)


async def _start_site(runner: web.AppRunner, host: str, port: int) -> None:
    await runner.setup()
    await web.TCPSite(runner, host, port).start()


async def _first_unless_stopped(work: Awaitable[None], stop: asyncio.Event) -> bool:
    """Run `work`; True when it finished, False when `stop` came first (it is then cancelled).
    Its own exception is raised."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        return False
    task.result()
    return True


def _share_metrics_between_processes(settings: Settings) -> None:
    """Web and delivery worker write their metrics to one directory that /metrics reads
    (prometheus_client's multiprocess mode; it must be set before that library is imported)."""
    import shutil

    metrics_dir = (settings.data_dir / "metrics").resolve()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)


def cmd_worker(_: argparse.Namespace) -> int:
    """Router and outbox only (no HTTP): what `hotline run` supervises, or a standalone worker."""
    from server import worker_process

    return worker_process.run_from_env()


def cmd_speech_node(_: argparse.Namespace) -> int:
    """One speech node (AudioSocket + Vosk), registered in Redis for the phone leader."""
    from server import speech_node

    return speech_node.run_from_env()


def _new_password(args: argparse.Namespace) -> str | None:
    """--password-stdin, else HOTLINE_NEW_PASSWORD, else asked twice on the terminal (None: the two differ)."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get("HOTLINE_NEW_PASSWORD"):
        return os.environ["HOTLINE_NEW_PASSWORD"]
    password = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != password:
        print("error: the two passwords differ", file=sys.stderr)
        return None
    return password


async def _users(args: argparse.Namespace, address: RedisAddress) -> int:
    redis = address.client()
    users = Users(redis)
    try:
        if args.users_cmd == "add":
            password = _new_password(args)
            if password is None:
                return 2
            try:
                user = await users.add(args.name, password, args.role, args.display_name, args.capability, temporary=args.temporary)
            except UserError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(f"added {user.username} ({', '.join(sorted(user.roles | user.capabilities))})"
                  + (" - must change the password at the first login" if args.temporary else ""))
        elif args.users_cmd == "passwd":
            if await users.get(args.name) is None:
                print(f"error: no user {args.name}", file=sys.stderr)
                return 2
            password = _new_password(args)
            if password is None:
                return 2
            try:
                await users.set_password(args.name, password, temporary=args.temporary)
            except PasswordRejected as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(f"password of {args.name} changed; their sessions have ended"
                  + (" - must change it at the next login" if args.temporary else ""))
        elif args.users_cmd in ("grant", "revoke"):
            if not await users.set_capability(args.name, args.capability, args.users_cmd == "grant"):
                print(f"error: no user {args.name}", file=sys.stderr)
                return 2
            print(f"{'granted' if args.users_cmd == 'grant' else 'revoked'} {args.capability} for {args.name}")
        elif args.users_cmd == "list":
            for user in await users.list():
                state = "disabled" if user.disabled else "active"
                print(f"{user.username}\t{user.display_name}\t{','.join(sorted(user.roles | user.capabilities))}\t{state}")
        elif args.users_cmd == "disable":
            if not await users.disable(args.name):
                print(f"error: no user {args.name}", file=sys.stderr)
                return 2
            print(f"disabled {args.name}")
        elif args.users_cmd == "enable":
            if not await users.enable(args.name):
                print(f"error: no user {args.name}", file=sys.stderr)
                return 2
            print(f"enabled {args.name}")
        return 0
    finally:
        await redis.aclose()


def cmd_users(args: argparse.Namespace) -> int:
    settings = settings_from_env()
    with redis_address(settings) as address:
        return asyncio.run(_users(args, address))


def cmd_bot_eval(args: argparse.Namespace) -> int:
    from triage import evaluation

    return evaluation.main(args.file, args.verbose, args.triage_file)


def cmd_bot_corrections(args: argparse.Namespace) -> int:
    """Agents' corrections of triage as JSON lines on stdout (training data)."""
    async def dump(address: RedisAddress) -> int:
        from triage import corrections

        redis = address.client()
        count = 0
        try:
            async for row in corrections.export(redis):
                print(json.dumps(row, ensure_ascii=False))
                count += 1
        finally:
            await redis.aclose()
        print(f"{count} corrections", file=sys.stderr)
        return 0

    with redis_address(settings_from_env()) as address:
        return asyncio.run(dump(address))


def cmd_triage(args: argparse.Namespace) -> int:
    from triage import batch
    from triage.evaluation import starter_snapshot

    kb = starter_snapshot() if args.from_seed else asyncio.run(_published_snapshot())
    if not kb.entries:
        print("error: the knowledge base has no published entries (use --from-seed for the sample one)", file=sys.stderr)
        return 2
    return batch.run(kb, args.channel)


async def _published_snapshot() -> KnowledgeSnapshot:
    """The running gateway's published knowledge base, as the bot serves it."""
    from knowledge_base.store import KnowledgeBase

    with redis_address(settings_from_env()) as address:
        redis = address.client()
        try:
            kb = KnowledgeBase(redis)
            return KnowledgeSnapshot.build(0, await kb.published_versions(), await kb.synonyms())
        finally:
            await redis.aclose()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hotline", description="Beijing 12345 intake gateway")
    sub = p.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the whole product (embedded Redis unless REDIS_URL is set)")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.set_defaults(func=cmd_run)
    worker = sub.add_parser("worker", help="run only the router and outbox (no HTTP)")
    worker.set_defaults(func=cmd_worker)
    node = sub.add_parser("speech-node", help="transcribe call legs for the phone leader (AudioSocket + Vosk); run any number")
    node.set_defaults(func=cmd_speech_node)
    bot = sub.add_parser("bot", help="the knowledge-base bot")
    bot_sub = bot.add_subparsers(dest="bot_cmd", required=True)
    evaluate = bot_sub.add_parser("eval", help="precision/recall per decision on the labelled set")
    evaluate.add_argument("--file", type=Path, help="labelled utterances (default tests/data/bot_eval.yaml)")
    evaluate.add_argument("--triage-file", type=Path, help="labelled messages (default tests/data/triage_eval.yaml)")
    evaluate.add_argument("--verbose", action="store_true", help="list every miss")
    evaluate.set_defaults(func=cmd_bot_eval)
    corrected = bot_sub.add_parser("corrections", help="agents' corrections of kind, place, topic and unit")
    corrected.add_argument("--export", action="store_true", required=True, help="write them as JSON lines to stdout")
    corrected.set_defaults(func=cmd_bot_corrections)
    triage = sub.add_parser("triage", help="triage JSON lines {id, text, channel?} from stdin, one result per line")
    triage.add_argument("--from-seed", action="store_true", help="use the sample knowledge base (no running gateway)")
    triage.add_argument("--channel", default="web", choices=sorted(["web", "wechat", "phone", "video", "partner"]),
                        help="channel of lines that name none")
    triage.set_defaults(func=cmd_triage)
    users = sub.add_parser("users", help="manage agent desktop users")
    usub = users.add_subparsers(dest="users_cmd", required=True)
    add = usub.add_parser("add")
    add.add_argument("name")
    add.add_argument("--role", action="append", required=True, choices=ROLES)
    add.add_argument("--display-name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input (else HOTLINE_NEW_PASSWORD, else asked twice)")
    add.add_argument("--temporary", action="store_true", help="the user must change the password at the first login")
    add.add_argument("--capability", action="append", default=[], choices=CAPABILITIES, help="e.g. sign_language: takes video sessions")
    for verb in ("grant", "revoke"):
        change = usub.add_parser(verb, help=f"{verb} a capability (sign_language)")
        change.add_argument("name")
        change.add_argument("capability", choices=CAPABILITIES)
    usub.add_parser("list")
    passwd = usub.add_parser("passwd", help="set a user's password (ends their sessions)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input (else HOTLINE_NEW_PASSWORD, else asked twice)")
    passwd.add_argument("--temporary", action="store_true", help="the user must change it at the next login")
    disable = usub.add_parser("disable", help="block logins and end the user's sessions")
    disable.add_argument("name")
    enable = usub.add_parser("enable", help="allow a disabled user to log in again")
    enable.add_argument("name")
    users.set_defaults(func=cmd_users)
    simulate.add_cli(sub)
    fetch.add_cli(sub)
    rasa_cli.add_cli(sub)
    wechat_peer_cli.add_cli(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
