"""triage.places.find_location: where a citizen's matter is (Beijing district and 街道/乡镇, the
partner hotline of Tianjin or a Hebei city, another province), on the hand-written development set
triage/data/dev/places_dev.yaml, plus regressions for the traps measured on real messages."""
from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO
from triage import places
from triage.places import PlaceFinding, find_location

ROOT = REPO
DEV_SET = ROOT / "triage" / "data" / "dev" / "places_dev.yaml"
PARTNERS = ROOT / "channels" / "partner" / "data" / "partners.yaml"

MAX_INVENTED = 0.005  # share of all messages that get a Beijing district they do not name
MIN_BEIJING_RIGHT = 0.95  # share of Beijing addresses with district and street right
MIN_OUTSIDE_RIGHT = 0.95  # share of outside-Beijing messages with region and partner right


def _dev() -> list[dict[str, Any]]:
    return yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))


def _is_beijing_address(item: dict[str, Any]) -> bool:
    return "district" in item


def _invented(item: dict[str, Any], got: PlaceFinding | None) -> bool:
    """A Beijing location (what a ticket would carry) the text does not give."""
    return not _is_beijing_address(item) and got is not None and got.region == "beijing" and got.district is not None


def _beijing_right(item: dict[str, Any], got: PlaceFinding | None) -> bool:
    return got is not None and got.region == "beijing" and got.district == item["district"] \
        and got.street == item.get("street")


def _outside_right(item: dict[str, Any], got: PlaceFinding | None) -> bool:
    return got is not None and got.region == item["region"] and got.partner == item.get("partner")


def _show(got: PlaceFinding | None) -> str:
    return "None" if got is None else f"{got.region} {got.district} {got.street} {got.partner} ({got.matched})"


# ---- the development set ----------------------------------------------------------------------


def test_dev_set_is_large_and_varied() -> None:
    items = _dev()
    assert len(items) >= 200
    assert sum(_is_beijing_address(i) for i in items) >= 100
    assert sum(i.get("region") in ("tianjin", "hebei") for i in items) >= 30
    assert sum(i.get("region") == "other" for i in items) >= 10
    assert sum(not _is_beijing_address(i) and "region" not in i for i in items) >= 40  # traps and no place
    assert len({i["text"] for i in items}) == len(items), "duplicate texts"


def test_invented_beijing_places_at_most_half_a_percent() -> None:
    items = _dev()
    invented = [(i["text"], _show(got)) for i in items if _invented(i, got := find_location(i["text"]))]
    share = len(invented) / len(items)
    assert share <= MAX_INVENTED, f"invented {share:.2%}: {invented}"


def test_district_and_street_right_on_beijing_addresses() -> None:
    addresses = [i for i in _dev() if _is_beijing_address(i)]
    wrong = [(i["text"], i["district"], i.get("street"), _show(got)) for i in addresses
             if not _beijing_right(i, got := find_location(i["text"]))]
    share = 1 - len(wrong) / len(addresses)
    assert share >= MIN_BEIJING_RIGHT, f"district+street right {share:.1%}: {wrong}"


def test_region_and_partner_right_outside_beijing() -> None:
    outside = [i for i in _dev() if i.get("region") in ("tianjin", "hebei", "other")]
    wrong = [(i["text"], i["region"], i.get("partner"), _show(got)) for i in outside
             if not _outside_right(i, got := find_location(i["text"]))]
    share = 1 - len(wrong) / len(outside)
    assert share >= MIN_OUTSIDE_RIGHT, f"region+partner right {share:.1%}: {wrong}"


def test_no_place_found_where_none_is_named() -> None:
    quiet = [i for i in _dev() if not _is_beijing_address(i) and "region" not in i]
    found = [(i["text"], _show(got)) for i in quiet if (got := find_location(i["text"])) is not None]
    assert len(found) <= 0.05 * len(quiet), found


def test_beijing_named_without_a_district_gives_no_location() -> None:
    for item in (i for i in _dev() if i.get("region") == "beijing"):
        got = find_location(item["text"])
        assert got is None or (got.region == "beijing" and got.district is None), (item["text"], _show(got))


# ---- the three traps measured on real messages, and their relatives ----------------------------


@pytest.mark.parametrize("text", [
    "交通运输局",
    "我要投诉交通运输局的工作人员态度差",
    "河北省交通运输厅的电话打不通",
    "交通运输部门说不归他们管",
    "通运公司拖欠司机运费",
])
def test_trap_jiaotong_yunshu_is_not_tongyun_street(text: str) -> None:
    got = find_location(text)
    assert got is None or got.street != "通运街道", _show(got)
    assert not (got is not None and got.district == "通州区"), _show(got)


@pytest.mark.parametrize("text", [
    "东四环",
    "沿着东四环往南开，堵得厉害",
    "东四环辅路上有大车违停",
    "我家住在东四环附近",
    "东四环中路的写字楼漏水",
    "西三环的噪音太大了",
    "北五环外的渣土车太多",
])
def test_trap_ring_roads_are_not_streets(text: str) -> None:
    got = find_location(text)
    assert got is None or got.street is None, _show(got)
    assert not (got is not None and got.district == "东城区"), _show(got)


@pytest.mark.parametrize("text", [
    "天桥",
    "过街天桥上有人摆摊",
    "人行天桥的电梯坏了一个月",
    "在天桥上摆摊的人太多了",
    "小区门口那个天桥晚上没有灯",
    "学校旁边的天桥上全是小广告",
    "济南天桥区的一个小区物业跑路了",
])
def test_trap_footbridge_is_not_tianqiao_street(text: str) -> None:
    got = find_location(text)
    assert got is None or got.street != "天桥街道", _show(got)


@pytest.mark.parametrize("text, district, street", [
    ("在天桥附近被黑车司机骗了", "西城区", "天桥街道"),
    ("西城天桥那边有人半夜唱歌", "西城区", "天桥街道"),
    ("东四胡同里有人私自改建房屋", "东城区", "东四街道"),
    ("东城区东四十条附近", "东城区", None),
    ("通州区通运街道的小区停水", "通州区", "通运街道"),
    ("在朝阳上班，公司不交社保", "朝阳区", None),
])
def test_the_same_names_used_as_places_still_count(text: str, district: str, street: str | None) -> None:
    got = find_location(text)
    assert got is not None and (got.district, got.street) == (district, street), _show(got)


@pytest.mark.parametrize("text", [
    "我家房子是朝阳的，采光很好",
    "这套房子朝阳面的窗户漏风",
    "朝阳的房子冬天暖和吗",
    "保定市朝阳大街上的店铺占道",
    "长春市朝阳区的房子漏水",
])
def test_chaoyang_as_sunshine_or_elsewhere_is_not_beijing(text: str) -> None:
    got = find_location(text)
    assert got is None or got.region != "beijing", _show(got)


# ---- the rules the brief sets ----------------------------------------------------------------


def test_explicit_full_district_beats_an_alias_of_another_districts_street() -> None:
    got = find_location("海淀区望京那边有个工地夜里施工")
    assert got is not None and got.district == "海淀区" and got.street is None


def test_a_street_alone_gives_its_district() -> None:
    got = find_location("望京这边晚上施工")
    assert got == PlaceFinding("朝阳区", "110105", "望京街道", "望京", None, "beijing")


def test_consistent_district_and_street() -> None:
    got = find_location("住在北京市朝阳区望京西园")
    assert got is not None and (got.district, got.district_code, got.street) == ("朝阳区", "110105", "望京街道")


def test_origin_does_not_place_the_matter() -> None:
    got = find_location("我是河北的，在朝阳上班，住望京")
    assert got is not None and (got.region, got.district, got.street) == ("beijing", "朝阳区", "望京街道")
    assert find_location("我是河北人，想问一下灵活就业怎么交社保") is None
    assert find_location("老家山东的，想咨询一下异地就医备案") is None
    assert find_location("从天津来的，孩子能在这边上学吗") is None


def test_matter_outside_beats_work_in_beijing() -> None:
    got = find_location("我在北京上班，燕郊的房子漏水")
    assert got is not None and (got.region, got.partner, got.district) == ("hebei", "langfang", None)


def test_where_it_happened_beats_where_one_lives() -> None:
    got = find_location("我住在朝阳区，在海淀区中关村被人骗了")
    assert got is not None and (got.district, got.street) == ("海淀区", "中关村街道")


def test_names_common_elsewhere_need_another_beijing_name() -> None:
    assert find_location("我们城关街道的路灯坏了") is None
    got = find_location("房山区城关街道的路灯坏了")
    assert got is not None and (got.district, got.street) == ("房山区", "城关街道")
    got = find_location("三河市新华街道的工厂排污")  # a Beijing street's name next to a Hebei city
    assert got is not None and (got.region, got.partner) == ("hebei", "langfang")


@pytest.mark.parametrize("text, region", [
    ("在北京路的商场买的手机坏了", None), ("广州北京路的商场卖假货", "other"), ("南京市北京东路的店铺", "other"),
    ("天津路上的店铺", None), ("长春市朝阳区的房子漏水", "other"), ("沈阳和平区的学校乱收费", "other"),
])
def test_roads_and_districts_named_after_other_places(text: str, region: str | None) -> None:
    got = find_location(text)
    assert (got.region if got else None) == region, _show(got)


@pytest.mark.parametrize("text, partner", [
    ("燕郊的小区物业乱收费", "langfang"), ("三河市的工厂", "langfang"), ("大厂回族自治县的工厂排污", "langfang"),
    ("香河县的家具城", "langfang"), ("固安县的开发商延期交房", "langfang"), ("涿州的房子被淹了", "baoding"),
    ("保定的医院", "baoding"), ("雄安新区的拆迁", "xiongan"), ("石家庄的社保卡", "shijiazhuang"),
    ("唐山的钢厂", "tangshan"), ("张家口崇礼的滑雪场", "zhangjiakou"), ("承德的景区", "chengde"),
    ("秦皇岛北戴河的海鲜店", "qinhuangdao"), ("沧州的工厂", "cangzhou"), ("衡水的学校", "hengshui"),
    ("邢台的工厂", "xingtai"), ("邯郸的钢厂", "handan"), ("定州的商场", "dingzhou"), ("辛集的皮革厂", "xinji"),
    ("河北的高速公路收费", "hebei"), ("河北省的社保政策", "hebei"),
])
def test_hebei_places_go_to_their_citys_hotline(text: str, partner: str) -> None:
    got = find_location(text)
    assert got is not None and (got.region, got.partner) == ("hebei", partner), _show(got)


@pytest.mark.parametrize("text", [
    "天津市和平区的小区", "天津河北区的房子漏水", "河北区的供热站不供暖", "武清的工厂", "宝坻区的养殖场",
    "静海这边的高速口", "蓟州区的农家院", "滨海新区的企业", "南开区的学校",
])
def test_tianjin_places_go_to_tianjin(text: str) -> None:
    got = find_location(text)
    assert got is not None and (got.region, got.partner) == ("tianjin", "tianjin"), _show(got)


@pytest.mark.parametrize("text", ["山东济南的房子", "河南郑州的工地", "上海浦东的快递", "广州天河区的公司",
                                  "南通市通州区的工厂", "辽宁朝阳的亲戚", "大兴安岭的林场"])
def test_other_provinces_have_no_partner(text: str) -> None:
    got = find_location(text)
    assert got is not None and (got.region, got.partner, got.district) == ("other", None, None), _show(got)


# ---- API -------------------------------------------------------------------------------------


def test_finding_is_a_frozen_dataclass() -> None:
    got = find_location("朝阳区望京街道")
    assert got is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.district = "海淀区"  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(PlaceFinding)] == [
        "district", "district_code", "street", "matched", "partner", "region"]


@pytest.mark.parametrize("text", ["", "   ", "请问社保卡丢了怎么补办", "12345", "hello"])
def test_no_place_is_none(text: str) -> None:
    assert find_location(text) is None


def test_text_is_normalised_first() -> None:
    got = find_location("住在朝陽區望京街道，ＯＫ")  # traditional characters, full-width Latin
    assert got is not None and (got.district, got.street) == ("朝阳区", "望京街道")


def test_typical_message_takes_under_a_tenth_of_a_millisecond() -> None:
    texts = [i["text"] for i in _dev()]
    for text in texts:
        find_location(text)  # build the index, warm caches
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for text in texts:
            find_location(text)
        best = min(best, (time.perf_counter() - start) / len(texts))
    assert best <= 1e-4, f"{best * 1e3:.3f} ms per message"


# ---- the data --------------------------------------------------------------------------------


def test_partner_ids_exist_in_the_partner_directory() -> None:
    known = {row["id"] for row in yaml.safe_load(PARTNERS.read_text(encoding="utf-8"))}
    data = yaml.safe_load(places.OUTSIDE.read_text(encoding="utf-8"))
    used = {data["tianjin"]["partner"], data["hebei"]["partner"], *data["hebei"]["cities"]}
    assert used <= known
    assert known - used == {"beijing"}  # every Hebei city and 雄安, 定州, 辛集 has its names


def test_gazetteer_marks_are_consistent() -> None:
    data = json.loads(places.GAZETTEER.read_text(encoding="utf-8"))
    for d in data["districts"]:
        streets = {s["name"] for s in d["subdivisions"]}
        assert set(d.get("landmark_streets", {}).values()) <= streets, d["name"]
        assert set(d.get("landmark_streets", {})) <= set(d["landmarks"]), d["name"]
        for s in d["subdivisions"]:
            assert s.get("generic", True) in (True, "always"), s
    words = data["not_places"]["words"]
    assert len(words) == len(set(words))
    names = {n for d in data["districts"] for s in d["subdivisions"] for n in [s["name"], *s["aliases"]]}
    assert not names & set(words), "a place listed as not a place"


def test_known_collisions_are_marked_risky_or_blocked() -> None:
    idx = places._index()
    for alias in ("天桥", "通运", "朝阳", "曙光", "清河", "古城", "八角", "前门"):
        assert all(p.risky for p in idx.names[alias] if p.region == "beijing"), alias
    for word in ("交通运输", "人行天桥", "过街天桥", "东四环", "西三环", "朝阳面"):
        assert idx.names[word] == (), word


def test_scan_lists_the_colliding_aliases() -> None:
    """The scan finds the measured traps and shows them handled (risky, their longer words blocked)."""
    flagged = {c.alias: c for c in places.scan_aliases()}
    for alias in ("天桥", "通运", "朝阳", "曙光", "八角"):
        assert alias in flagged and flagged[alias].handled, alias
    assert "通运公司" in flagged["通运"].organisations
    assert not {"交通运输", "过街天桥", "人行天桥"} & set(flagged["通运"].longer + flagged["天桥"].longer)
    # What is still plain is a Beijing name in longer Beijing names (天安门广场) or a rare name.
    assert all(c.frequency >= 20 or c.longer or c.organisations for c in flagged.values())


def test_place_names_for_jieba_leave_out_risky_street_aliases() -> None:
    names = set(places.place_names())
    assert {"朝阳区", "望京街道", "回龙观", "望京", "朝阳"} <= names
    assert not {"天桥", "曙光", "通运", "北京"} & names
