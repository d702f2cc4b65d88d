"""`hotline simulate-call` against the real gateway in-process: it rings, the agent answers,
and only then does the caller speak."""
from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from channels.phone.settings import PhoneSettings
from gateway.settings import Settings
from peers.simulate_call import add_cli, simulate_call
from tests.support.phone import AMI_SECRET, CLIP, CLIP_TEXT, Desk, open_desk
from tests.support.processes import free_port
from tests.support.waiting import eventually


def help_text() -> str:
    parser = argparse.ArgumentParser(prog="hotline")
    add_cli(parser.add_subparsers())
    command = parser._subparsers._group_actions[0].choices["simulate-call"]  # type: ignore[union-attr]
    return str(command.format_help())


def test_help_names_the_variables_it_shares_with_the_gateway() -> None:
    text = help_text()
    for variable in ("HOTLINE_AMI_HOST", "HOTLINE_AMI_PORT", "HOTLINE_AMI_SECRET", "HOTLINE_DATA_DIR", "HOTLINE_PHONE_AGENTS"):
        assert variable in text
    assert "--play-while-ringing" in text and "--no-answer" in text


async def test_the_caller_speaks_only_once_the_agent_has_answered(make_app, redis_url: str, tmp_path: Path, desks: list[Desk]) -> None:
    port = free_port()
    # The README's defaults: no agent mapping, so the supervisor's desk gets the call.
    base = await make_app(phone=True, ami_port=port, ami_secret=AMI_SECRET, audiosocket_listen="127.0.0.1:0", phone_agents="",
                          ticket_prefix="SM")
    boss = await open_desk(base, redis_url, "boss", "supervisor")
    desks.append(boss)
    settings = Settings(sections=(PhoneSettings(ami_port=port, ami_secret=AMI_SECRET),)).with_values(data_dir=tmp_path / "sim")
    run = asyncio.create_task(simulate_call(settings, CLIP, "13812345678", None, fast=True, ring_seconds=3.0))

    async def ours() -> list[dict[str, Any]]:  # pub/sub is shared with other runs on this Redis
        return [e for e in boss.events if str(e.get("ticket_id", "")).startswith("SM-")]

    connected = next(e for e in await eventually(ours, lambda es: any(e["type"] == "call.connected" for e in es), timeout=60)
                     if e["type"] == "call.connected")
    final = await boss.wait("call.final", connected["linkedid"], timeout=60)
    assert CLIP_TEXT in final["segment"]["text"]
    heard = [e for e in boss.of("call.partial", connected["linkedid"]) + boss.of("call.final", connected["linkedid"])]
    assert min(boss.events.index(e) for e in heard) > boss.events.index(connected), "the caller was heard while the phone rang"
    assert await asyncio.wait_for(run, 60) == 0
    assert (await boss.wait("call.ended", connected["linkedid"]))["abandoned"] is False
