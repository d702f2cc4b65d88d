"""Redis names of the WeChat channel (under the kernel's prefix, so in its one hash slot)."""
from __future__ import annotations

from gateway.keys import P

OPEN_DRAFTS = P + "wx:open-drafts"
"""ticket id → when its 我要反映 draft expires"""


def draft(account: str, openid: str) -> str:
    return f"{P}wx:draft:{account}:{openid}"


def user_tickets(account: str, openid: str) -> str:
    """The user's tickets from this account, newest last (for 我的诉求)."""
    return f"{P}wx:tickets:{account}:{openid}"


def last_location(account: str, openid: str) -> str:
    return f"{P}wx:lastloc:{account}:{openid}"


def nonce(account: str, timestamp: str, value: str) -> str:
    """A signature nonce seen (replay memory)."""
    return f"{P}wx:nonce:{account}:{timestamp}:{value}"


def seen(account: str, message_key: str) -> str:
    """A push already taken (WeChat retries within seconds)."""
    return f"{P}wx:seen:{account}:{message_key}"


def access_token(account: str) -> str:
    return f"{P}wx:token:{account}"


def reply(ticket_id: str, hop: str) -> str:
    """The text of a reply waiting in the outbox."""
    return f"{P}wx:reply:{ticket_id}:{hop}"


def window(account: str, openid: str) -> str:
    """Present while the 48-hour customer-service window is open."""
    return f"{P}wx:window:{account}:{openid}"


def kept_notices(account: str, openid: str) -> str:
    """ticket id → a notice kept for the user's next message"""
    return f"{P}wx:kept-notices:{account}:{openid}"


def followup_pending(account: str, openid: str) -> str:
    """The ticket whose 回访 question the user was just asked (their next reply may answer it)."""
    return f"{P}wx:followup:{account}:{openid}"
