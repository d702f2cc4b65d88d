"""The emergency and legal-channel policies (triage/emergency.py, triage/legal.py) on their own
development set (triage/data/dev/emergency_legal_dev.yaml) and on the probes that motivated them.

Targets: every real emergency in the set is caught on the right line (recall 100 %, however it
is worded); at most 1 % of the ordinary messages are taken for an emergency or a legal channel.
Pure functions: no Redis, no network."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO
from triage.emergency import EmergencyCall, assess_emergency
from triage.legal import REPLIES, LegalChannel, legal_channel

DEV_SET = REPO / "triage" / "data" / "dev" / "emergency_legal_dev.yaml"
ITEMS: list[dict[str, Any]] = yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))
EMERGENCIES = [i for i in ITEMS if i.get("emergency")]
ORDINARY = [i for i in ITEMS if not i.get("emergency")]
LEGAL = [i for i in ITEMS if i.get("legal")]
NOT_LEGAL = [i for i in ITEMS if not i.get("legal") and not i.get("emergency")]
MAX_FALSE_SHARE = 0.01


def _id(item: dict[str, Any]) -> str:
    return str(item["text"])[:24]


def test_the_dev_set_is_big_and_varied() -> None:
    assert len(ITEMS) >= 250
    kinds = {i.get("trap") for i in ITEMS}
    for kind in ("violence", "height", "missing", "water", "medical", "crisis", "fire", "gas", "trapped", "traffic", "unsure",
                 "hazard", "past", "service", "figure", "compound", "habitual", "near_miss", "ordinary", "letter", "legal",
                 "legal_mention"):
        assert kind in kinds, kind
    for line in ("110", "119", "120", "122"):
        assert sum(1 for i in EMERGENCIES if i["emergency"] == line) >= 10, line
    assert sum(1 for i in EMERGENCIES if i.get("crisis")) >= 15
    for route in ("litigation", "petition", "arbitration", "review", "enforcement"):
        assert sum(1 for i in LEGAL if i["legal"] == route) >= 4, route


# ---------------------------------------------------------------------------------------------
# Emergencies
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("item", EMERGENCIES, ids=_id)
def test_every_dev_emergency_is_caught_on_its_line(item: dict[str, Any]) -> None:
    call = assess_emergency(item["text"])
    assert call is not None, "missed emergency"
    assert call.line == str(item["emergency"]), call.reason
    if "certainty" in item:
        assert call.certainty == item["certainty"], call.reason
    if "crisis" in item or item.get("trap") == "crisis":
        assert call.crisis == bool(item.get("crisis", True)), call.reason


def test_emergency_recall_on_the_dev_set_is_total() -> None:
    missed = [i["text"] for i in EMERGENCIES if assess_emergency(i["text"]) is None]
    assert not missed
    wrong_line = [(i["text"], c.line) for i in EMERGENCIES if (c := assess_emergency(i["text"])) and c.line != str(i["emergency"])]
    assert not wrong_line


def test_false_emergencies_on_the_dev_set_at_most_one_percent() -> None:
    false = [(i["text"], c.reason) for i in ORDINARY if (c := assess_emergency(i["text"])) is not None]
    assert len(false) <= MAX_FALSE_SHARE * len(ORDINARY), false


@pytest.mark.parametrize("text, line, certainty, crisis", [
    # Real emergencies said in other words (missed by the word lists)
    ("我被几个人打了，他们还在外面堵我", "110", "certain", False),
    ("有人站在楼顶边上要往下跳", "110", "certain", True),
    ("胸口疼，喘不上气，嘴唇都紫了", "120", "certain", False),
    # Crisis signals: always "certain", flagged as crisis
    ("不想活了", "110", "certain", True),
    ("我想自杀", "110", "certain", True),
    ("活着没意思", "110", "certain", True),
    ("我割腕了", "120", "certain", True),
    ("吃了一瓶安眠药", "120", "certain", True),
    # The usual ones
    ("楼下着火了，冒了好多烟", "119", "certain", False),
    ("厨房里煤气味很重", "119", "certain", False),
    ("闻到燃气味了", "119", "certain", False),
    ("我被困在电梯里了", "119", "certain", False),
    ("孩子在商场走丢了", "110", "certain", False),
    ("孩子发高烧抽筋了", "120", "certain", False),
    ("刚才路口两辆车撞了，有人受伤倒在地上", "122", "certain", False),
    # Traditional characters are normalised first
    ("我們樓下著火了", "119", "certain", False),
    # An emergency that also asks the government for something: numbers AND a forwarded request
    ("楼下烧烤店着火了，物业也不管，希望你们尽快处理", "119", "unsure", False),
])
def test_emergency_probes(text: str, line: str, certainty: str, crisis: bool) -> None:
    call = assess_emergency(text)
    assert call is not None
    assert (call.line, call.certainty, call.crisis) == (line, certainty, crisis), call.reason
    assert call.cue and call.reason


@pytest.mark.parametrize("text", [
    # Complaints that the word lists diverted to 110/119/120/122
    "存在火灾隐患",
    "小区的消防通道被占，存在火灾隐患",
    "游乐园的跳楼机停运了",
    "这个路口交通事故频发，建议装红绿灯",
    "因公负伤，单位不给报销医药费",
    "楼道里给电动车充电，有着火隐患",
    "120急救车怎么收费",
    "交通事故责任认定书怎么查询",
    "路面坑洼，骑车的都摔倒了",
    # hazards, past events, services, figures of speech, compounds
    "电线私拉乱接，容易引发火灾",
    "一旦着火，消防车根本进不来",
    "上个月小区着火了，到现在还没赔偿",
    "去年我在小区门口被车撞了，肇事者一直没赔钱",
    "之前电梯困过人，物业一直没修",
    "那次孩子发烧抽搐，社区医院说看不了",
    "急救知识培训在哪里报名",
    "心理援助热线电话是多少",
    "120救护车一般多久能到",
    "装修吵死了", "急死人了，证还没办下来", "烦死了", "热死了，停电一整天",
    "商场天天喊跳楼价", "低保申请被打回来了", "户口被打回原籍", "和开发商打官司要多久", "给物业打电话没人接",
    "婚礼和朋友撞衫了", "两个会议撞期了", "这家店很火", "网红店火爆", "心急如焚，孩子的学籍问题一直没解决",
    "消防栓被偷了", "社区组织急救知识培训", "交通事故频发路段该装监控了", "工伤认定需要什么材料",
])
def test_not_emergencies(text: str) -> None:
    call = assess_emergency(text)
    assert call is None, call.reason if call else ""


LONG_LETTER = (
    "尊敬的领导您好！我是朝阳区某小区的业主，想反映我们小区物业管理混乱的问题。一是小区的消防通道长期被私家车占用，物业收了停车费却不管理，"
    "晚上消防通道上停满了车，有一次救护车来接病人都开不进来，只能停在小区外面，家属抬着担架走了两百多米。二是楼道里堆满了杂物，纸箱、旧家具、"
    "电动车都有，很多住户在楼道里私拉电线给电动车充电，存在严重的火灾隐患，一旦着火后果不堪设想。我们多次向物业反映，物业只是贴了一张通知，"
    "没有任何实际行动。三是小区的消防栓好几个都没有水，灭火器也过期了，去年冬天隔壁楼发生过一次小火灾，幸亏发现得早，邻居们用自家的灭火器才扑灭。"
    "四是物业费年年涨，服务却越来越差，保安经常不在岗，外来人员随便进出，前几个月还有业主的电动车电瓶被偷。五是小区的电梯经常出故障，"
    "上个月有老人被困在电梯里四十多分钟，物业的维修人员很久才到，老人出来的时候吓得腿都软了。六是小区的绿化带被一些住户私自开垦种菜，"
    "还有人在楼下空地上烧树叶和垃圾，烟很大，呛得人睡不着觉。我们业主对物业的管理非常不满意，希望相关部门能够督促物业公司整改，"
    "清理消防通道和楼道杂物，更换过期的消防器材，加强安全管理，切实保障业主的生命财产安全。如果物业公司不能整改，希望能够更换物业公司。"
    "另外，小区门口的路灯也坏了好几个月了，晚上出门黑灯瞎火的，老人走路经常摔跤，希望一并解决。小区东门的岗亭常年没人值守，"
    "快递车、外卖车随意进出，在小区里横冲直撞，孩子们在楼下玩耍非常危险，也希望物业加强车辆管理。谢谢！"
)


def test_a_long_letter_about_the_property_manager_is_not_an_emergency() -> None:
    assert len(LONG_LETTER) >= 600
    assert assess_emergency(LONG_LETTER) is None
    assert legal_channel(LONG_LETTER) is None


def test_an_emergency_at_the_start_of_a_long_letter_is_still_found() -> None:
    call = assess_emergency("楼下着火了，火很大！" + LONG_LETTER)
    assert call is not None and call.line == "119"


def test_empty_and_odd_input() -> None:
    for text in ("", "   ", "\n", "？？？", "12345", "a" * 5000):
        assert assess_emergency(text) is None
        assert legal_channel(text) is None
    huge = "我家楼下的路灯坏了，" * 2000  # far past the 2000 characters judged
    assert assess_emergency(huge) is None


def test_emergency_call_is_a_frozen_dataclass() -> None:
    call = assess_emergency("楼下着火了")
    assert isinstance(call, EmergencyCall)
    assert {f.name for f in dataclasses.fields(EmergencyCall)} == {"line", "certainty", "crisis", "cue", "reason"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.line = "110"  # type: ignore[misc]
    assert assess_emergency("楼下着火了") == call  # pure: same text, same answer


# ---------------------------------------------------------------------------------------------
# Legal channels
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("item", LEGAL, ids=_id)
def test_every_dev_legal_request_is_routed(item: dict[str, Any]) -> None:
    channel = legal_channel(item["text"])
    assert channel is not None, "missed legal channel"
    assert channel.route == item["legal"], channel
    assert channel.reply and channel.cue


def test_false_legal_channels_on_the_dev_set_at_most_one_percent() -> None:
    false = [(i["text"], c.route, c.cue) for i in NOT_LEGAL if (c := legal_channel(i["text"])) is not None]
    assert len(false) <= MAX_FALSE_SHARE * len(NOT_LEGAL), false


@pytest.mark.parametrize("text, route", [
    ("怎么去法院起诉欠钱不还的人", "litigation"),
    ("一审判决不服，怎么上诉", "litigation"),
    ("我们已经起诉了，法院也立案了", "litigation"),
    ("信访怎么提交", "petition"),
    ("怎么申请劳动仲裁", "arbitration"),
    ("对区城管局的处罚决定不服，可以申请行政复议吗", "review"),
    ("判决下来了对方不执行", "enforcement"),
    ("法院已经立案了", "litigation"),
])
def test_legal_probes(text: str, route: str) -> None:
    channel = legal_channel(text)
    assert channel is not None and channel.route == route, channel
    assert channel.reply == REPLIES[route] or route == "arbitration"


@pytest.mark.parametrize("text", [
    "市人民法院对面的路灯坏了",
    "我在法院上班，单位附近停车太难了",
    "信访办门口的垃圾好几天没人清理",
    "检察院旁边的工地晚上一直施工",
    "邻居家装修噪音太大，天天吵到半夜，我要起诉他们",
    "再不修好我就去法院告你们",
    "我们不想打官司，只想让公司把工资结了",
    "法院判决离婚后，孩子的户口怎么迁",
    "北京健康宝弹窗了怎么申诉",
])
def test_mentions_and_threats_are_not_legal_channels(text: str) -> None:
    assert legal_channel(text) is None


def test_legal_replies() -> None:
    # The three replies of bot/lexicon.py's LEGAL_PATTERNS, unchanged, and the two new ones.
    assert REPLIES["litigation"] == "涉及诉讼的事项请通过人民法院、检察机关依法处理，可拨打 12368 诉讼服务热线咨询。"
    assert REPLIES["petition"].startswith("信访事项请通过信访渠道依法提出")
    assert REPLIES["enforcement"].startswith("已进入仲裁或判决执行程序的事项")
    assert "行政复议" in REPLIES["review"] and "六十日" in REPLIES["review"]
    assert "劳动人事争议仲裁委员会" in REPLIES["arbitration"] and "12333" in REPLIES["arbitration"]
    channel = legal_channel("怎么申请劳动仲裁")
    assert isinstance(channel, LegalChannel)
    assert {f.name for f in dataclasses.fields(LegalChannel)} == {"route", "cue", "reply"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        channel.route = "petition"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Speed
# ---------------------------------------------------------------------------------------------

def test_fast_enough() -> None:
    """About 0.1–0.2 ms a message on this machine; the bound only catches a pathological pattern."""
    texts = [i["text"] for i in ITEMS]
    assess_emergency(texts[0]), legal_channel(texts[0])  # warm up (OpenCC, caches)
    start = time.perf_counter()
    for text in texts:
        assess_emergency(text)
        legal_channel(text)
    per_message = (time.perf_counter() - start) / len(texts)
    assert per_message < 0.002, f"{per_message * 1000:.3f} ms per message"
