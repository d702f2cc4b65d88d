"""The phone channel's side of `gateway.call_transfer`: move a live call to another hotline,
here when this instance holds the call's AMI session, else by a command to the one that does."""
from __future__ import annotations

import json

from aiohttp import web

from channels.phone.ami import AmiError
from channels.phone.commands import CommandFailed, send_command
from channels.phone.state import PHONE
from gateway import keys
from gateway.app_keys import REDIS
from gateway.call_transfer import TransferFailed, TransferUnavailable

COMMAND_TIMEOUT = 12.0  # the AMI action itself may take up to 10 s


class PhoneCallTransfer:
    def __init__(self, app: web.Application) -> None:
        self.app = app

    async def transfer(self, call_id: str, route: str) -> bool:
        phone = self.app.get(PHONE)
        redis = self.app[REDIS]
        local = phone is not None and phone.connected_call(call_id)
        if not local:
            live = await redis.hget(keys.LIVE_CALLS, call_id)
            if live is None or json.loads(live).get("state") != "connected":
                return False
        try:
            if phone is not None and local:
                await phone.transfer_call(call_id, route)
            else:
                await send_command(redis, {"action": "transfer", "linkedid": call_id, "route": route}, COMMAND_TIMEOUT)
        except TimeoutError:
            raise TransferUnavailable() from None
        except (AmiError, CommandFailed) as exc:  # from this instance's AMI session, or from the leader's
            raise TransferFailed(str(exc)) from None
        return True
