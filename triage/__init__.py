"""Triage: the one door every channel calls to decide what happens to what a citizen said.

`triage.turn` takes one conversation turn (web chat, WeChat), `triage.assessment` assesses a
filed request (forms, WeChat reports, agent-filed tickets, partner transfers in), `triage.fill`
is the one policy for what a machine may write on a ticket, `triage.router` sends new tickets on.
The policies underneath are pure functions: `emergency`, `legal`, `places`, `classifier`,
`dispatch`, `answers`.
"""
