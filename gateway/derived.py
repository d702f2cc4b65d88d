"""What follows from a ticket's state besides the document: the rate counters
(gateway/rates.py), the 回访 callback lists (gateway/followups.py), the open-request indexes
of the duplicate check (gateway/open_requests.py) and the wall's watch lists
(gateway/watch_lists.py). Each is a function of the ticket; a write
applies the difference between the ticket before and after, inside the same Lua script as the
write itself (intake, `Tickets.update`), so they never drift from the tickets.

The script receives the changes as ARGV: their count, then four values each:
`H key field n` (HINCRBY, and the bucket's expiry), `Z key score member` (ZADD),
`R key - member` (ZREM). A member may be the pending id, replaced by the intake script."""
from __future__ import annotations

from gateway import followups, open_requests, rates, watch_lists
from gateway.ticket import Ticket

# Lua: apply the changes starting at ARGV[first]; `id` replaces the pending id in members.
APPLY_LUA = """
local function apply_derived(first, id)
  local n = tonumber(ARGV[first])
  local i = first + 1
  local expired = nil
  for _ = 1, n do
    local op, key, a, b = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    if op == 'H' then
      redis.call('HINCRBY', key, a, b)
      if key ~= expired then  -- the changes come sorted by key: one EXPIRE per bucket
        redis.call('EXPIRE', key, %d)
        expired = key
      end
    elseif op == 'Z' then
      redis.call('ZADD', key, a, (string.gsub(b, '__TICKET_ID__', id)))
    else
      redis.call('ZREM', key, (string.gsub(b, '__TICKET_ID__', id)))
    end
    i = i + 4
  end
end
""" % rates.BUCKET_TTL_SECONDS


def memberships(ticket: Ticket | None) -> dict[str, float]:
    return {**followups.pending(ticket), **open_requests.indexes(ticket), **watch_lists.indexes(ticket)}


def changes(before: Ticket | None, after: Ticket) -> list[str]:
    """The script arguments: count, then the changes, four values each."""
    ops: list[str] = []
    counts = rates.contribution(after)
    if before is not None:  # intake (no before) is the hot path: nothing to take away
        counts.subtract(rates.contribution(before))
    for (key, field), n in sorted(counts.items()):
        if n:
            ops += ["H", key, field, str(n)]
    old, new = memberships(before) if before is not None else {}, memberships(after)
    for key in old.keys() - new.keys():
        ops += ["R", key, "-", after.id]
    for key, score in sorted(new.items()):
        if old.get(key) != score:
            ops += ["Z", key, repr(score), after.id]
    return [str(len(ops) // 4), *ops]
