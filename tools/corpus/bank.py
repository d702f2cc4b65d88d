"""The scenario record used by the hand-written banks (scenarios_*.py).

A scenario is one concrete problem citizens write about, e.g. "物业 charges a 停车费 without a
contract". It carries
  t  a neutral topic phrase (for letter titles: 关于{t}的…),
  f  fact sentences: the story, first person, kind-neutral as far as the scenario allows,
  d  optional extra story sentences used by long letters,
  c/h/p/r/s  the asks for each request kind it supports
     (c consultation 咨询, h help 求助, p complaint 投诉, r report 举报, s suggestion 建议),
  x  short chat lines per kind (colloquial, 6-30 characters after filling),
  alone  asks (of any kind) that carry their own story and are rendered without the facts
  k  short kind-neutral state phrases (电梯坏了{dur}) that the short genre combines with
     generic kind tails.
Placeholders in braces are filled from slots.Slots.
"""
from dataclasses import dataclass, field

KINDS = {"c": "consultation", "h": "help", "p": "complaint", "r": "report", "s": "suggestion"}


@dataclass
class Scenario:
    t: str
    f: list
    c: list = field(default_factory=list)
    h: list = field(default_factory=list)
    p: list = field(default_factory=list)
    r: list = field(default_factory=list)
    s: list = field(default_factory=list)
    x: dict = field(default_factory=dict)
    k: list = field(default_factory=list)
    d: list = field(default_factory=list)
    alone: list = field(default_factory=list)  # asks that tell their own story (not paired with f)

    def asks(self, kind_code):
        return getattr(self, kind_code)

    def kinds(self):
        return [k for k in "chprs" if getattr(self, k)]


def S(t, f, **kw):
    if isinstance(f, str):
        f = [f]
    return Scenario(t=t, f=f, **kw)
