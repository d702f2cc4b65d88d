"""Measured quality with the sample knowledge base, on the team's two labelled sets:
tests/data/bot_eval.yaml (what the bot should decide) and tests/data/triage_eval.yaml (what
triage should find: emergencies, legal channels, kind, topic, places, answers), the latter
written by a session that saw neither the training corpus nor the code. The floors are the ones
`hotline bot eval` checks (triage.evaluation.FLOORS, triage.quality.FLOORS)."""
from __future__ import annotations

import pytest

from gateway import clock
from triage import quality
from triage.evaluation import evaluate, load_items, missed_floors, render, starter_snapshot


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    result = evaluate(load_items(), starter_snapshot())
    print("\n" + render(result))
    return result


@pytest.fixture(scope="module")
def triage_report():  # type: ignore[no-untyped-def]
    now = clock.now()
    result = quality.evaluate_triage(quality.load(), starter_snapshot(now), now)
    print("\n" + quality.render(result))
    return result


def test_the_sets_are_big_enough_and_cover_every_decision_and_class(report, triage_report) -> None:  # type: ignore[no-untyped-def]
    assert report.total >= 300
    assert {want for want, _ in report.confusion} == {"answer", "clarify", "emergency", "legal_channel", "handoff", "forward"}
    items = quality.load()
    assert len(items) >= 500 and {i["category_l1"] for i in items} >= {"城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生"}
    assert {i["kind"] for i in items} == {"consultation", "help", "complaint", "report", "suggestion"}


def test_every_emergency_is_recognised_with_the_right_line(report) -> None:  # type: ignore[no-untyped-def]
    assert report.recall("emergency") == 1.0
    assert report.emergency_right_line == report.emergency_items


def test_the_decision_set_meets_its_floors(report) -> None:  # type: ignore[no-untyped-def]
    assert missed_floors(report) == []


def test_triage_meets_its_floors_on_the_held_out_set(triage_report) -> None:  # type: ignore[no-untyped-def]
    assert triage_report.missed_floors() == []
