"""Triage: the one door, its fill policy, dispatch and the `hotline triage` interface.

The emergency, legal and place policies have their own tests (test_triage_emergency_legal.py,
test_triage_places.py); quality on the held-out set is in test_triage_quality.py."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from gateway.ticket import Channel, Dispatch, Location, Source, Ticket
from tests.support.paths import REPO
from triage.classifier import Scored
from triage.decision import Conversation, decide
from triage.dispatch import STREET_UNIT_TYPE, Catalogue, recommend, seed_catalogue
from triage.evaluation import starter_snapshot
from triage.fill import fill_in
from triage.taxonomy import first_levels

ROOT = REPO
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def kb():  # type: ignore[no-untyped-def]
    return starter_snapshot(NOW)


def _ticket(**extra) -> Ticket:  # type: ignore[no-untyped-def]
    return Ticket(id="BJ-20261206-000001", channel=Channel.web, received_at=NOW, updated_at=NOW, due_at=NOW,
                  content="x", source=Source(channel_id="t"), **extra)


# -- taxonomy and the 派单目录 ------------------------------------------------------------

def test_the_first_level_has_the_usual_classes_and_every_unit_type_is_in_the_catalogue() -> None:
    assert {"城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生"} <= set(first_levels())
    assert seed_catalogue().problems() == []


def test_a_street_first_topic_goes_to_the_street_office_with_the_district_department_next() -> None:
    rec = recommend(seed_catalogue(), [Scored("住房与物业", 0.8), Scored("房产与租赁", 0.2)], "朝阳区", "望京街道")
    assert rec.unit is not None and rec.unit.name == "朝阳区望京街道办事处" and rec.unit.type == STREET_UNIT_TYPE
    assert rec.unit.confidence == pytest.approx(0.6)
    assert [u.name for u in rec.alternatives] == ["朝阳区住房和城乡建设委员会"]


def test_a_town_is_a_peoples_government_and_without_a_district_the_city_department_handles_it() -> None:
    rec = recommend(seed_catalogue(), [Scored("噪声污染", 1.0)], "顺义区", "后沙峪镇")
    assert rec.unit is not None and rec.unit.name == "顺义区后沙峪镇人民政府"
    city = recommend(seed_catalogue(), [Scored("社会保险", 0.7), Scored("劳动关系与工资", 0.3)], None, None)
    assert city.unit is not None and city.unit.name == "北京市社会保险基金管理中心"
    assert city.alternatives[0].name == "北京市人力资源和社会保障局"


def test_a_matter_in_hebei_goes_to_that_partner_hotline() -> None:
    rec = recommend(seed_catalogue(), [Scored("住房与物业", 1.0)], None, None, ("langfang", "廊坊市12345热线"))
    assert rec.unit is not None and rec.unit.name == "廊坊市12345热线" and rec.unit.type == "外省市12345"


def test_an_edited_catalogue_missing_a_department_type_is_refused() -> None:
    raw = seed_catalogue().as_dict()
    del raw["departments"]["民政局"]
    assert any("民政局" in p for p in Catalogue.from_dict(raw).problems())


# -- the fill policy ---------------------------------------------------------------------

def test_the_machine_fills_only_what_is_open_and_says_so(kb) -> None:  # type: ignore[no-untyped-def]
    decision = decide("朝阳区望京街道花家地北里小区物业乱收停车费，还不给发票，为什么没人管？", Conversation(), "web", kb, NOW)
    assert decision.type == "forward" and decision.dispatch is not None
    stated = _ticket(kind="suggestion", location=Location(district="海淀区"))
    filled = fill_in(stated, decision, NOW)
    assert stated.kind == "suggestion" and stated.location is not None and stated.location.district == "海淀区"
    assert set(filled) == {"dispatch"} and stated.dispatch is not None and stated.dispatch.by == "bot"
    assert [p.field for p in stated.provenance] == ["dispatch"]
    empty = _ticket()
    filled = fill_in(empty, decision, NOW)
    assert {"kind", "location", "dispatch"} <= set(filled)
    assert {p.field for p in empty.provenance} >= {"kind", "location", "dispatch"}


def test_an_agents_dispatch_is_never_replaced_and_urgency_only_goes_up(kb) -> None:  # type: ignore[no-untyped-def]
    decision = decide("小区停水两天了，一直没人来修", Conversation(), "web", kb, NOW)
    confirmed = Dispatch(category_l1="城乡建设", category="房产与租赁", by="agent:zhang")
    ticket = _ticket(dispatch=confirmed, urgency="emergency")
    fill_in(ticket, decision, NOW)
    assert ticket.dispatch == confirmed and ticket.urgency == "emergency"


# -- the probes the issue measured ----------------------------------------------------------

@pytest.mark.parametrize("text", ["楼道里给电动车充电，有着火隐患", "120急救车怎么收费", "交通事故责任认定书怎么查询", "路面坑洼，骑车的都摔倒了"])
def test_hazards_and_service_questions_are_not_diverted(kb, text: str) -> None:  # type: ignore[no-untyped-def]
    decision = decide(text, Conversation(), "web", kb, NOW)
    assert decision.type != "emergency", decision.reasons


@pytest.mark.parametrize(("text", "line"), [("我被几个人打了，他们还在外面堵我", "110"), ("有人站在楼顶边上要往下跳", None),
                                            ("胸口疼，喘不上气，嘴唇都紫了", "120")])
def test_emergencies_in_other_words_are_caught(kb, text: str, line: str | None) -> None:  # type: ignore[no-untyped-def]
    decision = decide(text, Conversation(), "web", kb, NOW)
    assert decision.type == "emergency", decision.reasons
    assert line is None or decision.line == line


def test_a_court_in_an_address_is_not_a_legal_channel(kb) -> None:  # type: ignore[no-untyped-def]
    decision = decide("市人民法院对面的路灯坏了一个多星期了", Conversation(), "web", kb, NOW)
    assert decision.type == "forward" and decision.kind in ("complaint", "help")


def test_a_crisis_goes_to_a_person_and_the_numbers(kb) -> None:  # type: ignore[no-untyped-def]
    decision = decide("我真的不想活了，活着太累了", Conversation(), "web", kb, NOW)
    assert decision.type == "emergency" and decision.crisis and "12356" in decision.reply


def test_a_question_inside_a_complaint_stays_a_complaint(kb) -> None:  # type: ignore[no-untyped-def]
    decision = decide("楼下饭馆油烟直排，熏得家里没法开窗，找了物业好几次，为什么没人管？", Conversation(), "web", kb, NOW)
    assert decision.type == "forward" and decision.kind == "complaint"


def test_a_matter_in_yanjiao_is_recommended_to_langfang(kb) -> None:  # type: ignore[no-untyped-def]
    decision = decide("我在燕郊买的房子，开发商延期交房一年多了，一直不给说法", Conversation(), "web", kb, NOW)
    assert decision.type == "forward" and decision.dispatch is not None
    assert decision.dispatch["partner"] == "langfang" and decision.location is None and "廊坊" in decision.reply


# -- one door -----------------------------------------------------------------------------

_DECIDERS = {"triage.decision", "triage.classify", "triage.classifier", "triage.emergency", "triage.legal", "triage.lexicon", "triage.places",
             "triage.engines", "triage.answers", "triage.dispatch", "bot.rasa.client", "bot.rasa.decisions"}


def test_no_channel_decides_by_itself() -> None:
    """Channels translate wire formats and call triage's door (turn, assessment, router); none
    imports a decision policy or an engine."""
    offenders = []
    for path in sorted((ROOT / "channels").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = {node.module} | {f"{node.module}.{a.name}" for a in node.names}
                if node.module in _DECIDERS and not {a.name for a in node.names} <= {"Decision"}:
                    offenders.append(f"{path.relative_to(ROOT)}: from {node.module} import {', '.join(a.name for a in node.names)}")
                elif names & _DECIDERS and node.module == "triage":
                    offenders.append(f"{path.relative_to(ROOT)}: from triage import …")
    assert offenders == []


# -- hotline triage ----------------------------------------------------------------------------

def test_hotline_triage_answers_one_line_per_input_and_reports_bad_lines() -> None:
    lines = [
        {"id": "a", "text": "居住证怎么办理，需要什么材料"},
        {"id": "b", "text": "厨房着火了，火越烧越大", "channel": "wechat"},
        {"id": "c", "text": "朝阳区望京街道某小区门口的井盖丢了，晚上很危险"},
        "not json",
        {"id": "e", "text": 5},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    run = subprocess.run([sys.executable, "-m", "server.cli", "triage", "--from-seed"], input=stdin, capture_output=True,
                         text=True, cwd=ROOT, timeout=240)
    out = [json.loads(line) for line in run.stdout.splitlines()]
    assert run.returncode == 1 and len(out) == 5, run.stderr
    answer, fire, manhole = out[:3]
    assert answer["decision"] == "answer" and answer["entry_id"] and answer["kind"] == "consultation"
    assert fire["decision"] == "emergency" and fire["line"] == "119" and fire["urgency"] == "emergency"
    assert manhole["decision"] == "forward" and manhole["location"] == {"district": "朝阳区", "street": "望京街道"}
    assert manhole["unit"]["name"] and manhole["category_l1"] == "城乡建设" and len(manhole["alternatives"]) <= 2
    assert set(manhole) >= {"id", "decision", "line", "kind", "urgency", "due_at", "category_l1", "category", "unit", "unit_confidence",
                            "alternatives", "location", "partner", "entry_id", "version"}
    assert "error" in out[3] and "error" in out[4]


# -- fast scoring equals scikit-learn's ---------------------------------------------------------

def test_fast_scoring_gives_scikit_learns_probabilities() -> None:
    from knowledge_base.text import normalise
    from triage.classifier import classifiers
    from triage.emergency_model import _model, _scorer
    from triage.fast_linear import FastClassifier, FastFeatures

    texts = ["朝阳区望京街道花家地小区门口的井盖丢了好几天，晚上路过很危险", "居住证怎么办理", "厨房着火了", "", "ＡＢＣ 123"]
    models = classifiers()
    for text in texts:
        kind, topic = models.probabilities(text)
        matrix = models.features.transform([normalise(text)])  # what probabilities() scores
        assert kind == pytest.approx(models.kind.predict_proba(matrix)[0], abs=1e-9)
        assert topic == pytest.approx(models.topic.predict_proba(matrix)[0], abs=1e-9)
        features, classifier = _scorer()
        assert classifier(features(text)) == pytest.approx(_model().predict_proba([text])[0], abs=1e-9)
    with pytest.raises(ValueError):
        FastFeatures(__import__("sklearn.feature_extraction.text", fromlist=["TfidfVectorizer"]).TfidfVectorizer(norm="l1"))
    assert FastClassifier  # imported for the type the helper returns
