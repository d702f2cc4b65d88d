"""The decision engine as a pure function: no Redis, no HTTP."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from gateway.clock import BEIJING
from knowledge_base.models import EntryVersion
from knowledge_base.snapshot import KnowledgeSnapshot
from triage.decision import Conversation, decide

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=BEIJING)


def _entry(entry_id: str, title: str, phrasings: list[str], answer: str, **extra) -> EntryVersion:  # type: ignore[no-untyped-def]
    return EntryVersion(entry_id=entry_id, version=1, author="a", created_at=NOW, title=title, phrasings=phrasings,
                        answer=answer, category="测试", **extra)


KB = KnowledgeSnapshot.build(1, [
    _entry("kb-juzhu-001", "外地来京人员如何办理居住证？", ["居住证怎么办理", "办居住证需要什么材料", "外地人在北京怎么申请居住证"], "居住证答复内容。"),
    _entry("kb-juzhu-002", "居住证到期了怎么续签？", ["居住证过期了怎么办", "居住证续签流程", "居住证签注在哪里办"], "续签答复内容。"),
    _entry("kb-gjj-001", "住房公积金怎么提取？", ["公积金提取条件", "怎么取公积金", "租房能提取公积金吗"], "公积金答复内容。"),
    _entry("kb-heat-001", "北京什么时候开始供暖？", ["今年几号来暖气", "供暖开始时间"], "供暖答复内容。"),
    _entry("kb-old-001", "夏季高温补贴标准是多少？", ["高温补贴多少钱", "高温津贴标准"], "高温答复内容。", expires_at=date(2026, 9, 1)),
], [["公积金", "住房公积金", "公基金"], ["暖气", "供暖"]])


def ask(text: str, conversation: Conversation | None = None):  # type: ignore[no-untyped-def]
    return decide(text, conversation or Conversation(), "web", KB, NOW)


@pytest.mark.parametrize("text,line", [
    ("我家厨房着火了", "119"), ("楼道里有很浓的煤气味", "119"), ("闻到天然气味道很大", "119"), ("电梯困人了，我们被困在电梯里", "119"),
    ("我爸晕倒了没有意识", "120"), ("有人从楼上摔下来流了很多血", "120"), ("邻居好像煤气中毒了", "120"),
    ("有人在楼下打人", "110"), ("我被人抢劫了", "110"), ("隔壁正在家暴", "110"), ("孩子走丢了找不到", "110"),
    ("路口发生车祸了", "122"), ("我被电动车撞了", "122"), ("刚才追尾了", "122"),
])
def test_emergencies_go_to_the_right_line_at_once(text: str, line: str) -> None:
    decision = ask(text, Conversation(pending_options=["kb-juzhu-001"]))  # even mid-dialogue
    assert decision.type == "emergency" and decision.line == line
    assert line in decision.reply and decision.urgency == "emergency"


def test_consultations_are_answered_with_entry_and_version() -> None:
    decision = ask("外地人想在北京办居住证要准备啥")
    assert (decision.type, decision.entry_id, decision.version) == ("answer", "kb-juzhu-001", 1)
    assert decision.reply == "居住证答复内容。" and 0 < (decision.confidence or 0) <= 1


def test_synonyms_typos_traditional_and_full_width_are_understood() -> None:
    assert ask("公基金怎么提取").entry_id == "kb-gjj-001"
    assert ask("住房公積金提取條件").entry_id == "kb-gjj-001"
    assert ask("ｇｊｊ 公积金 提取").entry_id == "kb-gjj-001"
    assert ask("暖气几号来").entry_id == "kb-heat-001"


def test_expired_entries_are_never_served() -> None:
    decision = ask("高温补贴多少钱")
    assert decision.type != "answer" or decision.entry_id != "kb-old-001"


def test_a_tie_asks_which_one_and_the_choice_is_answered() -> None:
    decision = ask("居住证")
    assert decision.type == "clarify" and {o["entry_id"] for o in decision.options} == {"kb-juzhu-001", "kb-juzhu-002"}
    chosen = ask("2", Conversation(pending_options=[o["entry_id"] for o in decision.options]))
    assert chosen.type == "answer" and chosen.entry_id == decision.options[1]["entry_id"]


@pytest.mark.parametrize("text,kind", [
    ("楼下饭馆油烟太大，一直没人管", "complaint"), ("举报小区里有人私搭乱建", "report"),
    ("建议在我们小区门口增设公交站", "suggestion"), ("家里停水两天了", "help"),
])
def test_requests_are_forwarded_with_their_kind(text: str, kind: str) -> None:
    decision = ask(text)
    assert decision.type == "forward" and decision.kind == kind
    assert decision.due_at is not None


def test_forward_extracts_place_phone_and_utilities_deadline() -> None:
    decision = ask("朝阳区望京街道花家地小区停电一天了，我电话13812345678")
    assert decision.type == "forward" and decision.urgency == "utilities"
    assert decision.location == {"district": "朝阳区", "district_code": "110105", "street": "望京街道"}
    assert decision.phone == "+8613812345678"
    assert (decision.due_at - NOW).total_seconds() == 24 * 3600  # type: ignore[operator]


@pytest.mark.parametrize("text,kind", [
    ("我要转人工", "handoff"), ("人工服务", "handoff"),
    ("法院判决了对方还不执行怎么办", "legal_channel"), ("我要去信访", "legal_channel"),
    ("你好", "clarify"), ("谢谢", "clarify"), ("给我讲个笑话", "clarify"),
])
def test_handoff_legal_channel_and_small_talk(text: str, kind: str) -> None:
    assert ask(text).type == kind


def test_a_question_the_kb_cannot_answer_is_forwarded_as_a_consultation() -> None:
    decision = ask("请问区图书馆的古籍阅览室需要预约吗")
    assert decision.type == "forward" and decision.kind == "consultation"


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01\x02", "😀😀😀", "A" * 100_000, "居住证" * 40_000, "Hello 你好 Привет مرحبا", "\u202e居住证"])
def test_any_text_gets_a_graceful_decision(text: str) -> None:
    decision = ask(text)
    assert decision.type in {"answer", "clarify", "forward", "handoff", "emergency", "legal_channel"}
    assert decision.reply
