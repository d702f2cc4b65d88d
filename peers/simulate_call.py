"""`hotline simulate-call WAV`: a whole inbound call without an Asterisk.

It plays Asterisk's part byte for byte: it listens where the gateway expects AMI, lets the
running gateway log in, sends the events of a caller entering the queue, an agent's phone
ringing and the agent answering, and when the gateway asks for the legs' audio (Originate of an
AudioSocket spy) it connects to the gateway's AudioSocket port. Once the agent has answered the
caller speaks: the WAV, resampled to telephone 8 kHz, in 20 ms frames at real-time pace (before
that the caller's leg is silence, as in a queue). Then the caller hangs up.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import fields
from pathlib import Path

from channels.phone.agents import AgentDirectory
from channels.phone.config import ami_config
from channels.phone.settings import PhoneSettings
from gateway.settings import Settings, env_name

PHONE_RATE = 8000
LOGIN_WAIT = 60.0
# Read like the gateway reads them, so both sides meet: the AMI address and login, the
# development secret's folder, the agent mapping, and the desk's address that is printed.
SHARED_SETTINGS = {
    "ami_host": "where the gateway connects for AMI; this command listens there",
    "ami_port": "",
    "ami_username": "",
    "ami_secret": "unset: the development secret in HOTLINE_DATA_DIR (both sides read the same file)",
    "data_dir": "",
    "phone_agents": "the first interface is the ringing phone (default PJSIP/1001)",
    "host": "the desk's address that is printed",
    "port": "",
}


def _shared_variables() -> str:
    declared = {f.name: f for f in (*fields(Settings), *fields(PhoneSettings))}
    lines = ["environment (the same variables as the gateway's, so both find each other):"]
    for name, why in SHARED_SETTINGS.items():
        variable = env_name(declared[name])
        lines.append(f"  {variable:<24} {why}".rstrip())
    return "\n".join(lines)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _agent_interface(settings: Settings, requested: str | None) -> str:
    if requested:
        return requested
    interfaces = AgentDirectory.parse(settings.section(PhoneSettings).phone_agents).interfaces
    return interfaces[0] if interfaces else "PJSIP/1001"


async def simulate_call(settings: Settings, wav: Path, caller: str, agent_interface: str | None, fast: bool, ring_seconds: float,
                        *, play_while_ringing: bool = False, answer: bool = True) -> int:
    from peers.asterisk import FakeAsterisk
    from speech.audio import read_wav, resample

    clip = read_wav(wav)
    audio = resample(clip.samples, clip.rate, PHONE_RATE)
    phone = settings.section(PhoneSettings)
    config = ami_config(phone, settings.data_dir)
    asterisk = FakeAsterisk(username=config.username, secret=config.secret, host=phone.ami_host, port=phone.ami_port)
    try:
        await asterisk.start()
    except OSError as exc:
        _say(f"无法在 {phone.ami_host}:{phone.ami_port} 监听 AMI（{exc.strerror}）：是否已有 Asterisk 或另一个模拟器在运行？")
        return 2
    interface = _agent_interface(settings, agent_interface)
    endpoint = interface.split("/", 1)[-1]
    try:
        _say(f"模拟 Asterisk 已就绪（AMI {phone.ami_host}:{asterisk.port}），等待网关登录…  请先用 `make run` 启动网关")
        try:
            await asterisk.wait_for_clients(timeout=LOGIN_WAIT)
        except asyncio.TimeoutError:
            _say(f"{LOGIN_WAIT:.0f} 秒内网关没有登录 AMI：请确认网关正在运行，且 HOTLINE_AMI_PORT、HOTLINE_DATA_DIR 与本命令一致。")
            return 1
        _say(f"网关已登录。来电 {caller} 进入队列，坐席 {interface} 振铃…  打开 http://{settings.host}:{settings.port}/agent 查看")
        call = await asterisk.inbound_call(caller_num=caller)
        if play_while_ringing:  # e.g. to see the caller's words arrive before anyone answers
            asterisk.set_leg_audio(call.caller_channel, audio, realtime=not fast)
        await asterisk.ring_agent(call, agent_endpoint=endpoint, interface=interface)
        await asyncio.sleep(ring_seconds)  # let a person see the screen pop before the answer
        if not answer:
            await asterisk.abandon(call)
            _say("市民在振铃中挂断（未接听），工单待回拨。")
            return 0
        await asterisk.answer(call)
        if not play_while_ringing:
            asterisk.set_leg_audio(call.caller_channel, audio, realtime=not fast)
        _say(f"坐席已接听，市民正在说话：播放 {wav.name}（{clip.duration:.1f} 秒）…")
        await asterisk.wait_audio_done(call.caller_channel, timeout=clip.duration * 3 + 30)
        await asterisk.hangup(call, by="caller")
        _say("市民已挂断。通话转写已写入工单。")
        return 0
    finally:
        await asterisk.stop()


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate-call", help="play a WAV as an inbound call (development, no Asterisk needed)",
        description="Plays Asterisk for a running gateway: a caller joins the queue, the agent's phone rings, "
                    "the agent answers, then the caller's words (the WAV) are heard, and the caller hangs up.",
        epilog=_shared_variables(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wav", type=Path, help="16-bit PCM WAV, e.g. ../shared/audio/BAC009S0764W0121.wav")
    parser.add_argument("--caller", default="13812345678", help="caller number (default 13812345678)")
    parser.add_argument("--agent-interface", help="the ringing agent's interface, e.g. PJSIP/1001 (default: first in HOTLINE_PHONE_AGENTS)")
    parser.add_argument("--fast", action="store_true", help="stream the audio as fast as possible instead of in real time")
    parser.add_argument("--ring-seconds", type=float, default=2.0, help="how long the agent's phone rings before answering")
    parser.add_argument("--play-while-ringing", action="store_true",
                        help="the caller speaks from the moment they join the queue, not only once answered")
    parser.add_argument("--no-answer", action="store_true", help="nobody answers: the caller hangs up after --ring-seconds")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(sections=[PhoneSettings])
    if not args.wav.exists():
        _say(f"找不到音频文件：{args.wav}")
        return 2
    return asyncio.run(simulate_call(settings, args.wav, args.caller, args.agent_interface, args.fast, args.ring_seconds,
                                     play_while_ringing=args.play_while_ringing, answer=not args.no_answer))
