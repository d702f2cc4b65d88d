"""Measured triage quality on a labelled set of citizen messages (tests/data/triage_eval.yaml,
written apart from the training corpus): emergencies, legal channels, kind, topic, handling
unit, places and knowledge-base answers, each against the target the issue set.

Part of `hotline bot eval`; tests/test_triage_quality.py asserts the floors."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sklearn.metrics import f1_score

from knowledge_base.snapshot import KnowledgeSnapshot
from triage.batch import result
from triage.classifier import Scored
from triage.classify import partner_names
from triage.dispatch import recommend, seed_catalogue

TRIAGE_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "triage_eval.yaml"

# name → (floor the tests assert, the target, higher is better)
FLOORS: dict[str, tuple[float, float, bool]] = {
    "emergency recall": (1.0, 1.0, True),
    "false emergencies": (0.01, 0.01, False),
    "false legal channel": (0.01, 0.01, False),
    "kind accuracy": (0.78, 0.85, True),  # target not met (80 % on this set): see the closing note of issue 14
    "topic macro-F1 (first level)": (0.85, 0.85, True),
    "invented places": (0.005, 0.005, False),
    "district+street right": (0.95, 0.95, True),
    "wrong KB answers": (0.05, 0.05, False),
}


@dataclass
class TriageReport:
    total: int = 0
    figures: dict[str, float | None] = field(default_factory=dict)
    counts: dict[str, str] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)

    def missed_floors(self) -> list[str]:
        out = []
        for name, (floor, _, higher) in FLOORS.items():
            value = self.figures.get(name)
            if value is not None and (value < floor if higher else value > floor):
                out.append(f"{name} {value * 100:.1f}% {'<' if higher else '>'} floor {floor * 100:.1f}%")
        return out


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _gold_unit(item: dict[str, Any]) -> str | None:
    """The unit the 派单目录 gives for the labelled topic and place: what a correct triage recommends."""
    place = item.get("location") or {}
    partner = item.get("partner")
    hotline = (partner, partner_names().get(partner, partner)) if partner else None
    rec = recommend(seed_catalogue(), [Scored(item["category"], 1.0)], place.get("district"), place.get("street"), hotline)
    return rec.unit.name if rec.unit else None


def evaluate_triage(items: Iterable[dict[str, Any]], kb: KnowledgeSnapshot, now: datetime) -> TriageReport:
    report = TriageReport()
    c = {k: 0 for k in ("emerg", "emerg_hit", "emerg_line", "calm", "calm_diverted", "calm_numbers", "legal_no", "legal_false",
                        "legal_yes", "legal_hit", "kind", "kind_hit", "unit", "unit_hit", "places_invented", "bj", "bj_hit",
                        "partner", "partner_hit", "answered", "answered_wrong", "kb_entry", "kb_entry_hit")}
    gold_l1: list[str] = []
    got_l1: list[str] = []
    for item in items:
        report.total += 1
        got = result(report.total, str(item["text"]), "web", kb, now)
        emergency = item.get("emergency")
        if emergency or item.get("crisis"):  # a crisis is told the numbers and handed to a person
            c["emerg"] += 1
            shown = got["decision"] == "emergency" or got["line"] is not None
            c["emerg_hit"] += shown
            c["emerg_line"] += shown and (not emergency or got["line"] == str(emergency))
            if not shown:
                report.misses.append({"what": "missed emergency", "text": item["text"], "got": got["decision"]})
        else:
            c["calm"] += 1
            c["calm_diverted"] += got["decision"] == "emergency"
            c["calm_numbers"] += got["line"] is not None
            if got["line"] is not None:
                report.misses.append({"what": "false emergency", "text": item["text"], "got": f"{got['decision']} {got['line']}"})
        if item.get("legal"):
            c["legal_yes"] += 1
            c["legal_hit"] += got["decision"] == "legal_channel"
        elif not emergency:
            c["legal_no"] += 1
            c["legal_false"] += got["decision"] == "legal_channel"
            if got["decision"] == "legal_channel":
                report.misses.append({"what": "false legal channel", "text": item["text"]})
        if item.get("kind") and not emergency and not item.get("legal"):
            c["kind"] += 1
            c["kind_hit"] += got["kind"] == item["kind"]
            if got["kind"] != item["kind"]:
                report.misses.append({"what": "kind", "text": item["text"], "want": item["kind"], "got": got["kind"]})
        if item.get("category_l1") and not emergency:  # an emergency is diverted, not dispatched by topic
            gold_l1.append(item["category_l1"])
            got_l1.append(got["category_l1"] or "")
            if got["category_l1"] != item["category_l1"]:
                report.misses.append({"what": "topic", "text": item["text"], "want": item["category_l1"], "got": got["category_l1"]})
            if item.get("category"):
                c["unit"] += 1
                c["unit_hit"] += bool(got["unit"]) and got["unit"]["name"] == _gold_unit(item)
        want_place = item.get("location")
        if want_place:
            c["bj"] += 1
            # A street where the labels name none (a landmark's: 国贸 → 建外街道) is not held against it.
            ok = got["location"] is not None and got["location"]["district"] == want_place.get("district") \
                and (want_place.get("street") is None or got["location"]["street"] == want_place.get("street"))
            c["bj_hit"] += ok
            if not ok:
                report.misses.append({"what": "place", "text": item["text"], "want": want_place, "got": got["location"]})
        elif got["location"] is not None:
            c["places_invented"] += 1
            report.misses.append({"what": "invented place", "text": item["text"], "got": got["location"]})
        if item.get("partner"):
            c["partner"] += 1
            c["partner_hit"] += got["partner"] == item["partner"]
        gold_kb = item.get("kb")
        if gold_kb:
            if got["decision"] == "answer":
                c["answered"] += 1
                wrong = got["entry_id"] != gold_kb
                c["answered_wrong"] += wrong
                if wrong:
                    report.misses.append({"what": "wrong answer", "text": item["text"], "want": gold_kb, "got": got["entry_id"]})
            if gold_kb != "none":
                c["kb_entry"] += 1
                c["kb_entry_hit"] += got["decision"] == "answer" and got["entry_id"] == gold_kb
    labels = sorted(set(gold_l1))
    report.figures = {
        "emergency recall": _share(c["emerg_hit"], c["emerg"]),
        "emergency line right": _share(c["emerg_line"], c["emerg"]),
        "false emergencies": _share(c["calm_numbers"], report.total),
        "false diversions": _share(c["calm_diverted"], report.total),
        "false legal channel": _share(c["legal_false"], report.total),
        "legal channel recall": _share(c["legal_hit"], c["legal_yes"]),
        "kind accuracy": _share(c["kind_hit"], c["kind"]),
        "topic macro-F1 (first level)": float(f1_score(gold_l1, got_l1, labels=labels, average="macro", zero_division=0)) if labels else None,
        "topic accuracy (first level)": _share(sum(a == b for a, b in zip(gold_l1, got_l1)), len(gold_l1)),
        "handling unit top-1": _share(c["unit_hit"], c["unit"]),
        "invented places": _share(c["places_invented"], report.total),
        "district+street right": _share(c["bj_hit"], c["bj"]),
        "partner right": _share(c["partner_hit"], c["partner"]),
        "wrong KB answers": _share(c["answered_wrong"], c["answered"]),
        "KB answer recall": _share(c["kb_entry_hit"], c["kb_entry"]),
    }
    report.counts = {"emergencies": str(c["emerg"]), "Beijing places": str(c["bj"]), "answered": str(c["answered"]),
                     "legal requests": str(c["legal_yes"]), "kind items": str(c["kind"])}
    return report


def load(path: Path = TRIAGE_SET) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def render(report: TriageReport) -> str:
    lines = [f"triage evaluation: {report.total} messages ({', '.join(f'{k} {v}' for k, v in report.counts.items())})"]
    for name, value in report.figures.items():
        target = FLOORS.get(name)
        shown = "   -  " if value is None else f"{value * 100:5.1f}%"
        goal = f"  target {'>=' if target[2] else '<='} {target[1] * 100:.1f}%" if target else ""
        lines.append(f"  {name:32}{shown}{goal}")
    return "\n".join(lines)
