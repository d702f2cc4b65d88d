"""Where a citizen's matter is: a Beijing district and 街道/乡镇, the partner hotline of Tianjin or
of a Hebei city, or another province (`find_location`).

A name counts only where the text uses it as a place:

* full official names (朝阳区, 望京街道, 回龙观镇, 三河市) are taken as they stand (朝阳区域 is
  read as the bare 朝阳);
* short aliases and landmarks (望京, 东四, 交道口, 国贸) are taken unless the text around them
  makes them part of a longer word: the character before forms a common word with the alias's
  first character (交通|运输局 hides 通运) or the character after forms one with its last
  (东四|环, 朝阳|面, 北京大学|生). Common words are jieba's two-character dictionary words;
* risky aliases (朝阳, 天桥, 清河, 曙光 …: everyday words or names of places elsewhere, the
  gazetteer's `risky_aliases` and outside_beijing.yaml's `risky`) also need a location cue:
  在/住/位于/到 … before them, 附近/那边/一带/地区/地铁站 … after them, or a place named right
  before or after them (西城天桥);
* `not_places` (both data files) and the ring roads (东四环, 西三环 …) are words that contain a
  place name and are none (人行天桥, 交通运输, 互联网大厂): matched first, they hide what they
  contain;
* a province or city name followed by 路/大街 is a road named after it (广州北京路), and a
  Beijing name right after another region's city is that city's (长春市朝阳区, 南通通州区,
  保定市朝阳大街).

When several places are named, each chain of adjacent names gets a role: origin (我是河北人,
老家山东, 从天津来: dropped), work (在北京上班), neutral, matter (住望京, 燕郊的房子) or event
(在国贸被…, 在中关村有人…). The region of the best mention (role, then specificity; Beijing on a
tie) is where the matter is. In
Beijing, an explicit full name beats an alias, a district and street that agree beat either alone,
and names common elsewhere (`generic`: 城关街道, 新华街道 …) need another Beijing name beside a
place outside Beijing (or always, for `generic: "always"`).

Data: gateway/data/beijing_gazetteer.json and triage/data/outside_beijing.yaml.
`python -m triage.places --scan` lists the aliases that collide with common words;
`python -m triage.places TEXT …` shows what is found in texts.
"""
from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

from knowledge_base.text import normalise

Region = Literal["beijing", "tianjin", "hebei", "other"]

_ROOT = Path(__file__).resolve().parents[1]
GAZETTEER = _ROOT / "gateway" / "data" / "beijing_gazetteer.json"
OUTSIDE = Path(__file__).resolve().parent / "data" / "outside_beijing.yaml"

# Levels of specificity.
CITY, DISTRICT, STREET = 1, 2, 3
# Roles of a mention in the text: where someone comes from, works, something unsaid, where they
# live or own something, where the thing they report happened.
ORIGIN, WORK, NEUTRAL, MATTER, EVENT = 0, 1, 2, 3, 4

# A two-character word this frequent in jieba's dictionary is "a common word" for the crossing test.
PAIR_MIN_FREQ = 20

_FULL_SUFFIXES = ("街道", "地区", "新区", "自治县", "自治州", "矿区", "区", "县", "市", "省", "镇", "乡", "盟")

# Location cues. Before a name: "strong" ones are enough for a risky alias.
_LEFT_STRONG = ("居住在", "住在", "家住", "家在", "住", "在", "位于", "地址是", "地址", "地处", "搬到", "搬去", "搬来",
                "来到", "到", "去", "前往", "北京市", "北京")
# Characters before a name that never make it part of a longer word.
_LEFT_SOFT = frozenset("的和与及或、跟是从往近靠离于经过回我你他她咱们就也都还即原今新老，。；：！？,.;:!?()（）【】[] 　\"'“”‘’")
# After a name: area words make a risky alias a place.
_RIGHT_STRONG = ("附近", "周边", "周围", "一带", "那边", "这边", "那儿", "这儿", "那里", "这里", "那块", "这块",
                 "那片", "这片", "片区", "地区", "辖区", "街道", "地铁站", "区域", "境内", "地界", "当地")
# After a name: words that are not a longer word with it (a road, a 小区 named after the area …).
_RIGHT_SOFT = _RIGHT_STRONG + (
    "路", "街", "大街", "大道", "道", "胡同", "巷", "小区", "社区", "村", "桥", "里", "家园", "花园", "苑", "园",
    "城", "公园", "医院", "派出所", "居委会", "物业", "地铁", "东", "西", "南", "北", "中", "门", "口", "上", "下",
    "的", "有", "这", "那", "和", "与", "、", "及", "或", "上班", "工作", "住", "一", "某", "新", "老", "市场",
    "商场", "广场", "大厦", "中心", "学校", "小学", "中学", "幼儿园", "附", "旁", "边", "对面", "楼", "号", "院",
    "外", "内",
    "区", "店", "站", "乡", "镇", "县", "市", "省", "人", "在", "也", "都", "还", "我", "被", "是", "没", "不",
    "现在", "最近", "今天", "昨天", "每天", "晚上", "夜里", "早上", "居民", "村民", "业主", "住户", "租户")
# A province or city name followed by these is a road named after it (广州北京路, 天津路).
_ROAD = re.compile(r"(?:东|西|南|北|中)?(?:路(?![灯口段面况上边过线费人程途径由子])|大街|大道)")

# Roles. "我是河北的" / "我是河北人" / "老家山东" / "从天津来" say where someone comes from.
_ORIGIN_LEFT = ("老家是", "老家在", "老家", "来自", "祖籍是", "祖籍", "籍贯是", "籍贯", "户籍是", "户籍在", "户籍地",
                "户籍", "户口是", "户口在", "出生在", "出生于", "生于", "原籍")
_IS_LEFT = ("我是", "俺是", "他是", "她是", "我们是", "本人是", "我妈是", "我爸是", "我老公是", "我爱人是", "咱是")
# … and products: 河北产的鸭梨, 天津风味的小吃 say where a thing comes from, not where the matter is.
_ORIGIN_RIGHT = re.compile(r"人(?![民社员力大才事工口家行寿群流车])|籍|老乡|口音|户口|户籍|来的|过来的|出来的|出生|"
                           r"产的|生产的|特产|风味|菜馆|口味|牌的")
_FROM_LEFT = ("是从", "我从", "刚从", "从")
_FROM_RIGHT = re.compile(r"(?:来|过来|回来|搬|到|出发|坐|开车|赶|调)")
_RESIDENT = re.compile(r"的?(?:居民|业主|住户|租户|村民|商户|租客|房东)")
_WORK_RIGHT = re.compile(r"(?:上班|工作|打工|务工|上学|读书|出差|实习|开会)")
# 在海淀区中关村被人骗了, 在国贸有人摆摊: the place of what is reported beats where one lives.
_EVENT_LEFT = ("在", "就在", "于")
_EVENT_RIGHT = re.compile(r"(?:这边|那边|附近|一带|的路口|路口)?(?:被|遇到|遇见|看到|发现|有人|有个|有一|有家|有辆|一家|的一家|"
                          r"的一个|那家|这家|摆摊|施工|乱|堵|出了|发生|出现|撞|丢了|着火|起火)")
_MATTER_LEFT = ("居住在", "住在", "家住", "家在", "住", "房子在", "房子是", "位于", "地址是", "地址", "租住在", "租在",
                "搬到", "买房在", "房子买在", "家是", "买在", "住址")
_MATTER_RIGHT = re.compile(r"(?:的房子|的房|的家|的小区|家里|的住|小区|的出租|的老房|房子|的业主|的居民|的楼|的院|"
                           r"的村|的社区|的门面|的商铺|的物业|的暖气|的水|的电|的路|的土地|的宅基地|的承包地|"
                           r"的地(?![方址铁区图上下步])|的老宅|的祖坟|的坟)")


def _before(words: Iterable[str]) -> re.Pattern[str]:
    """Words that end where a name starts."""
    return re.compile("(?:" + "|".join(map(re.escape, sorted(words, key=len, reverse=True))) + ")$")


def _after(words: Iterable[str]) -> re.Pattern[str]:
    """Words that start where a name ends."""
    return re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True))))


_LEFT_STRONG_RE = _before(_LEFT_STRONG)
_RIGHT_STRONG_RE = _after(_RIGHT_STRONG)
_RIGHT_SOFT_RE = _after(_RIGHT_SOFT)
_ORIGIN_LEFT_RE = _before(_ORIGIN_LEFT)
_IS_LEFT_RE = _before(_IS_LEFT)
_FROM_LEFT_RE = _before(_FROM_LEFT)
_WORK_LEFT_RE = _before(("单位在", "公司在", "工作在", "上班在", "单位"))
_MATTER_LEFT_RE = _before(_MATTER_LEFT)
_EVENT_LEFT_RE = _before(_EVENT_LEFT)


@dataclass(frozen=True)
class PlaceFinding:
    """Where the matter is. `district`/`district_code`/`street` are Beijing's (None outside
    Beijing); `partner` is the partner hotline's id (partners.yaml) for Tianjin and Hebei, None for
    Beijing and other provinces; `matched` is the name as the normalised text has it."""
    district: str | None
    district_code: str | None
    street: str | None
    matched: str
    partner: str | None
    region: Region


@dataclass(frozen=True)
class _Place:
    region: Region
    partner: str | None
    district: str | None  # Beijing district (official name)
    street: str | None  # Beijing 街道/乡镇 (official name)
    level: int
    full: bool  # an official full name: needs no context
    risky: bool  # needs a location cue
    generic: bool = False  # a Beijing name also used elsewhere: not beside a place outside Beijing
    always_generic: bool = False  # so common elsewhere (城关街道) that it needs another Beijing name
    city_level_name: bool = False  # 北京/天津/a province or city: a road may be named after it


@dataclass
class _Mention:
    start: int
    end: int
    surface: str
    places: tuple[_Place, ...]
    role: int = NEUTRAL

    @property
    def region(self) -> Region:
        return self.places[0].region

    @property
    def level(self) -> int:
        return max(p.level for p in self.places)


@dataclass(frozen=True)
class _Index:
    pattern: re.Pattern[str]
    names: dict[str, tuple[_Place, ...]]  # surface → places (empty: a word that is not a place)
    codes: dict[str, str]  # Beijing district → GB/T 2260 code
    pairs: frozenset[str]  # common two-character words


def _is_full(surface: str) -> bool:
    """An official full name: 望京街道, 三河市, 蓟州区 (a two-character 杨镇 or 赵县 is not: 杨镇长)."""
    return len(surface) >= 3 and surface.endswith(_FULL_SUFFIXES)


def _trie_regex(words: Iterable[str]) -> str:
    """One alternation of many literals as a character trie: leftmost, then longest match."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            body = "(?:" + body + ")?" if len(branches) > 1 or len(branches[0]) > 1 else body + "?"
        return body

    return build(trie)


def _jieba_dict() -> Path | None:
    try:
        import jieba
    except ImportError:  # pragma: no cover - jieba is a dependency
        return None
    path = Path(os.path.dirname(jieba.__file__)) / "dict.txt"
    return path if path.exists() else None


def _common_pairs(min_freq: int = PAIR_MIN_FREQ) -> frozenset[str]:
    path = _jieba_dict()
    if path is None:
        return frozenset()
    out: set[str] = set()
    with path.open(encoding="utf-8") as f:
        for line in f:
            if len(line) > 3 and line[2] == " ":
                word, freq, _ = line.split(" ", 2)
                if int(freq) >= min_freq:
                    out.add(word)
    return frozenset(out)


def _outside_places() -> Iterator[tuple[str, _Place | None]]:
    data = yaml.safe_load(OUTSIDE.read_text(encoding="utf-8"))
    risky = set(data.get("risky", []))

    def place(surface: str, region: Region, partner: str | None, level: int, city_level: bool = False) -> _Place:
        return _Place(region, partner, None, None, level, _is_full(surface), surface in risky,
                      city_level_name=city_level and not _is_full(surface))

    tj = data["tianjin"]
    for name in tj["names"]:
        yield name, place(name, "tianjin", tj["partner"], CITY, True)
    for item in tj["places"]:
        for name in [item] if isinstance(item, str) else item:
            yield name, place(name, "tianjin", tj["partner"], DISTRICT)
    hb = data["hebei"]
    for name in hb["names"]:
        yield name, place(name, "hebei", hb["partner"], CITY, True)
    for partner, city in hb["cities"].items():
        for name in city["names"]:
            yield name, place(name, "hebei", partner, DISTRICT, True)
        for item in city.get("places") or []:
            for name in [item] if isinstance(item, str) else item:
                yield name, place(name, "hebei", partner, STREET)
    other = data["other"]
    municipalities, regions = {"上海", "重庆"}, {"内蒙古", "广西", "西藏", "宁夏", "新疆"}
    for name in other["provinces"]:
        yield name, place(name, "other", None, CITY, True)
        suffix = "市" if name in municipalities else "自治区" if name in regions else "省"
        yield name + suffix, place(name + suffix, "other", None, CITY)
    yield "内蒙", place("内蒙", "other", None, CITY, True)
    for name in other["cities"]:
        if _is_full(name):
            yield name, place(name, "other", None, DISTRICT)
        else:
            yield name, place(name, "other", None, DISTRICT, True)
            yield name + "市", place(name + "市", "other", None, DISTRICT)
    for word in data.get("not_places", []):
        yield word, None


def _beijing_places(data: dict) -> Iterator[tuple[str, _Place | None]]:
    yield "北京市", _Place("beijing", None, None, None, CITY, True, False)
    yield "北京", _Place("beijing", None, None, None, CITY, False, False, city_level_name=True)
    for d in data["districts"]:
        dname = d["name"]
        risky = set(d.get("risky_aliases", []))
        yield dname, _Place("beijing", None, dname, None, DISTRICT, True, False)
        for alias in d.get("aliases", []):
            yield alias, _Place("beijing", None, dname, None, DISTRICT, _is_full(alias), alias in risky)
        streets = d.get("landmark_streets", {})
        for landmark in [*d.get("landmarks", []), *streets]:
            street = streets.get(landmark)
            yield landmark, _Place("beijing", None, dname, street, STREET if street else DISTRICT,
                                   False, landmark in risky)  # 北京大学|生: crossing-checked like an alias
        for extra in d.get("risky_aliases", []):
            if extra not in d.get("aliases", []) and extra not in d.get("landmarks", []) and extra not in streets:
                yield extra, _Place("beijing", None, dname, None, DISTRICT, False, True)
        for sub in d.get("subdivisions", []):
            sname = sub["name"]
            srisky = set(sub.get("risky_aliases", []))
            generic = bool(sub.get("generic"))
            always = sub.get("generic") == "always"
            yield sname, _Place("beijing", None, dname, sname, STREET, True, False, generic, always)
            aliases = [*sub.get("aliases", []), *sub.get("extra_aliases", [])]
            for alias in [*aliases, *[a for a in srisky if a not in aliases]]:
                if len(alias) >= 2:
                    yield alias, _Place("beijing", None, dname, sname, STREET, _is_full(alias), alias in srisky,
                                        generic, always)
    for word in data.get("not_places", {}).get("words", []):
        yield word, None


def _ring_roads() -> Iterator[str]:
    """东四环, 西三环路, 北五环 …: a direction and a ring number hide 东四, 西三旗's 西三 …"""
    for direction in "东西南北":
        for ring in "二三四五六":
            yield direction + ring + "环"


@lru_cache(maxsize=1)
def _index() -> _Index:
    data = json.loads(GAZETTEER.read_text(encoding="utf-8"))
    names: dict[str, list[_Place]] = {}
    blocked: set[str] = set()
    for surface, place in [*_beijing_places(data), *_outside_places()]:
        surface = normalise(surface)
        if not surface:
            continue
        if place is None:
            blocked.add(surface)
            continue
        bucket = names.setdefault(surface, [])
        if place not in bucket:
            bucket.append(place)
    for ring in _ring_roads():
        blocked.add(ring)
    table: dict[str, tuple[_Place, ...]] = {s: () for s in blocked if s not in names}
    table.update({s: tuple(p) for s, p in names.items()})
    codes = {d["name"]: d["code"] for d in data["districts"]}
    pattern = re.compile(_trie_regex(table))
    return _Index(pattern, table, codes, _common_pairs())


def place_names() -> list[str]:
    """Beijing's place names for jieba and the KB's place-token list: districts, 街道/乡镇 and
    landmarks with their aliases, as `bot.gazetteer.place_names` gave them, less the risky street
    aliases (everyday words too: 天桥, 曙光, 古城 …)."""
    idx = _index()
    return [s for s, places in idx.names.items()
            if places and len(s) >= 2 and s not in ("北京", "北京市")
            and all(p.region == "beijing" and not (p.risky and p.street) for p in places)]


# ---------------------------------------------------------------------------------------------
# Context


def _ends_with(text: str, pos: int, words: re.Pattern[str]) -> bool:
    """Does text[:pos] end with one of the words (a pattern from `_before`)?"""
    return words.search(text, max(0, pos - 8), pos) is not None


def _starts_with(text: str, pos: int, words: re.Pattern[str]) -> bool:
    """Does text[pos:] start with one of the words (a pattern from `_after`)?"""
    return words.match(text, pos) is not None


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


# What `_accept` says of a name.
_TAKEN, _NOT_HERE, _STARTS_INSIDE = 0, 1, 2


# An organisation named after a place (the rule: organisations never become a place).
_ORGANISATION = re.compile(
    r"(区)?(人民|中医|妇幼|儿童|口腔|第[一二三四五六七八九十]|中西医结合|精神卫生)?(医院|法院|检察院|人民法院)"
    r"|(区)?(公安|税务|医保|人社|交通|市场监管|市场监督管理|生态环境|住建|城管|卫健|教育|民政)(分)?局|(区)?(支行|分行|银行)"
)


_ORGANISATION_NAME = re.compile(r"(医院|法院|检察院|局)$")  # a landmark that is an organisation (天坛医院)


def _accept(text: str, m: _Mention, idx: _Index, after_place: bool) -> int:
    """Is this name used as a place here (`_TAKEN`)? `_STARTS_INSIDE`: its first character belongs
    to the word before, so a place may start just after it (昨天|水立方 is not 天水).
    `after_place`: a place ends right where it starts."""
    s, e, surface = m.start, m.end, m.surface
    full = all(p.full for p in m.places)
    risky = any(p.risky for p in m.places)
    if any(p.city_level_name for p in m.places) and _ROAD.match(text, e):
        return _NOT_HERE  # 广州北京路, 天津路: a road named after the place
    if all(p.region == "beijing" for p in m.places) and (_ORGANISATION.match(text, e) or _ORGANISATION_NAME.search(surface)):
        return _NOT_HERE  # 朝阳医院, 海淀法院, 西城区税务局: an organisation's name, not where the matter is
    if full:
        return _TAKEN  # 朝阳区域 is handled by the caller; 北京市场, 西安市长安区 are still the place
    ahead = idx.pattern.match(text, e)
    before_place = ahead is not None and bool(idx.names.get(ahead.group(0)))
    right_cue = _starts_with(text, e, _RIGHT_SOFT_RE)
    nxt = text[e] if e < len(text) else ""
    # The character after forms a common word with the last one: 东四|环, 朝阳|面, 北京大|学生
    # (not when a place follows: 顺义|马坡, 河南|郑州).
    if nxt and _is_han(nxt) and not right_cue and not before_place and surface[-1] + nxt in idx.pairs:
        return _NOT_HERE
    prev = text[s - 1] if s > 0 else ""
    left_strong = _ends_with(text, s, _LEFT_STRONG_RE)
    if prev and _is_han(prev) and not after_place and not left_strong and prev not in _LEFT_SOFT \
            and prev + surface[0] in idx.pairs and text[s - 2:s] not in idx.pairs:
        # 交通|运输 hides 通运; but in 昨天|王府井, 楼下|回龙观 the character before belongs to a word of its own.
        return _STARTS_INSIDE
    if risky:  # 在天桥附近, 西城天桥, 天桥那边 — not 天桥 alone, nor 朝阳的房子
        strong = left_strong or after_place or before_place or _starts_with(text, e, _RIGHT_STRONG_RE)
        return _TAKEN if strong else _NOT_HERE
    return _TAKEN


def _role(text: str, s: int, e: int, beijing: bool) -> int:
    """The role of the place name(s) at text[s:e] (a chain such as 河北保定 as one). `beijing`:
    the chain names a Beijing district or street (我是望京的 says where someone lives)."""
    if _ends_with(text, s, _ORIGIN_LEFT_RE):
        if _MATTER_RIGHT.match(text, e):
            return MATTER  # 老家河南的房子被强拆了: the matter is there
        # 老家在延庆: a home in Beijing is still a place of the matter, if no better one is named.
        return NEUTRAL if beijing else ORIGIN
    if _ORIGIN_RIGHT.match(text, e):
        return NEUTRAL if beijing else ORIGIN
    if _ends_with(text, s, _IS_LEFT_RE):
        # 我是河北的 says where someone is from; 我是望京的 / 我是朝阳区的居民 where they live.
        if not beijing and text.startswith("的", e) and not _RESIDENT.match(text, e):
            return ORIGIN
        return MATTER
    if _ends_with(text, s, _FROM_LEFT_RE) and _FROM_RIGHT.match(text, e):
        return ORIGIN
    if _WORK_RIGHT.match(text, e) or _ends_with(text, s, _WORK_LEFT_RE):
        return WORK
    if _ends_with(text, s, _EVENT_LEFT_RE) and _EVENT_RIGHT.match(text, e):
        return EVENT
    if _ends_with(text, s, _MATTER_LEFT_RE) or _MATTER_RIGHT.match(text, e) or _RESIDENT.match(text, e):
        return MATTER
    return NEUTRAL


def _adjacent(text: str, a: _Mention, b: _Mention) -> bool:
    return a.end == b.start or (a.end == b.start - 1 and text[b.start - 1] in "市省区县")


def _mentions(text: str, idx: _Index) -> list[_Mention]:
    """The names used as places, left to right (leftmost, then longest; a not-place word hides
    the names inside it)."""
    out: list[_Mention] = []
    last_end = -1  # end of the last accepted place
    pos = 0
    while (match := idx.pattern.search(text, pos)) is not None:
        s, e = match.span()
        pos = e
        surface = match.group(0)
        places = idx.names.get(surface, ())
        if surface.endswith("区") and text.startswith("域", e) and surface[:-1] in idx.names:
            surface, e = surface[:-1], e - 1  # 河北区域, 海淀区域: the region, not the district
            places = idx.names[surface]
        if not places:
            continue
        m = _Mention(s, e, surface, places)
        after_place = last_end == s or (last_end == s - 1 and text[s - 1] in "市省区县")
        verdict = _accept(text, m, idx, after_place)
        if verdict == _STARTS_INSIDE:
            pos = s + 1
        if verdict != _TAKEN:
            continue
        out.append(m)
        last_end = e
    return out


def _resolve_roles(text: str, mentions: list[_Mention]) -> None:
    """One role for each chain of adjacent names (住在北京朝阳区望京, 我是河北保定人)."""
    i = 0
    while i < len(mentions):
        j = i
        while j + 1 < len(mentions) and _adjacent(text, mentions[j], mentions[j + 1]):
            j += 1
        chain = mentions[i:j + 1]
        local = all(m.region == "beijing" for m in chain) and any(m.level > CITY for m in chain)
        role = _role(text, chain[0].start, chain[-1].end, local)
        for m in chain:
            m.role = role
        i = j + 1


def _drop_foreign_children(text: str, mentions: list[_Mention]) -> list[_Mention]:
    """长春市朝阳区, 南通通州, 沈阳和平区, 辽宁朝阳: a district right after another region's city is
    that city's district, not Beijing's (or Tianjin's)."""
    out: list[_Mention] = []
    for m in mentions:
        prev = out[-1] if out else None
        if prev is not None and _adjacent(text, prev, m):
            foreign = (prev.region != "beijing" and m.region == "beijing") or \
                      (prev.region == "other" and m.region in ("tianjin", "hebei"))
            if foreign and prev.level <= m.level:
                continue
        out.append(m)
    return out


def _beijing_finding(mentions: list[_Mention], idx: _Index, outside: bool) -> PlaceFinding | None:
    """The district and street from the Beijing mentions: explicit full names beat aliases, a
    district and a street that agree beat either alone, a higher role beats a lower one."""
    plain = [m for m in mentions if not any(p.generic for p in m.places)]
    corroborated = bool(plain)
    if not corroborated:
        # 城关街道 alone, or 新街口 next to a Hebei county, is somewhere else's.
        mentions = [m for m in mentions if not outside and not any(p.always_generic for p in m.places)]
    if not mentions:
        return None
    district_score: dict[str, float] = {}
    for m in mentions:
        for p in m.places:
            if p.district is None:
                continue
            weight = m.role * 10 + (3 if p.full else 1) + (0.5 if p.street else 0)
            weight /= len({q.district for q in m.places})  # 八里庄街道: two districts share it
            district_score[p.district] = max(district_score.get(p.district, 0.0), weight)
    if not district_score:
        first = max(mentions, key=lambda m: m.role)
        return PlaceFinding(None, None, None, first.surface, None, "beijing")
    # A district both named and holding a named street: the consistent pair.
    for d in district_score:
        named = any(p.district == d and p.street is None for m in mentions for p in m.places)
        has_street = any(p.district == d and p.street for m in mentions for p in m.places)
        if named and has_street:
            district_score[d] += 2
    best = max(district_score.values())
    order = [p.district for m in mentions for p in m.places if p.district]
    district = next(d for d in order if district_score[d] == best)
    streets = [(m, p) for m in mentions for p in m.places if p.district == district and p.street]
    street_m: _Mention | None = None
    street: str | None = None
    if streets:
        street_m, p = max(streets, key=lambda mp: (mp[0].role, mp[1].full, -mp[0].start))
        street = p.street
    matched = street_m.surface if street_m else next(
        m.surface for m in mentions for p in m.places if p.district == district)
    return PlaceFinding(district, idx.codes.get(district), street, matched, None, "beijing")


def _outside_finding(mentions: list[_Mention], region: Region) -> PlaceFinding:
    ranked = [m for m in mentions if m.region == region]
    best = max(ranked, key=lambda m: (m.role, m.level, -m.start))
    partner = best.places[0].partner
    if region == "hebei" and best.level == CITY:
        # 河北 alone → the province's hotline, unless a city of it is named too (any role but origin).
        cities = [m for m in ranked if m.level > CITY]
        if cities:
            best = max(cities, key=lambda m: (m.role, m.level, -m.start))
            partner = best.places[0].partner
    return PlaceFinding(None, None, None, best.surface, partner if region in ("tianjin", "hebei") else None, region)


def find_location(text: str) -> PlaceFinding | None:
    """The place the matter is at, or None when the text names none (origin phrases such as
    我是河北人 or 老家山东 name no place of the matter)."""
    if not text:
        return None
    text = normalise(text)
    idx = _index()
    mentions = _mentions(text, idx)
    if not mentions:
        return None
    mentions = _drop_foreign_children(text, mentions)
    _resolve_roles(text, mentions)
    live = [m for m in mentions if m.role != ORIGIN]
    if not live:
        return None
    outside_any = any(m.region != "beijing" for m in mentions)
    beijing = [m for m in live if m.region == "beijing"]
    if outside_any and beijing:
        # A Beijing alias used as a road's name next to another region's place (保定朝阳大街).
        beijing = [m for m in beijing if any(p.full or p.level == CITY for p in m.places)
                   or not _ROAD.match(text, m.end)] or []
    others = [m for m in live if m.region != "beijing"]
    bj_finding = _beijing_finding(beijing, idx, outside_any) if beijing else None
    if not others:
        return bj_finding
    best_other = max(others, key=lambda m: (m.role, m.level))
    if bj_finding is not None:
        bj_best = max(beijing, key=lambda m: (m.role, m.level))
        if (bj_best.role, bj_best.level) >= (best_other.role, best_other.level):
            return bj_finding  # a tie stays in Beijing
    return _outside_finding(others, best_other.region)


# ---------------------------------------------------------------------------------------------
# Alias collision scan (python -m triage.places --scan)


_ORG_SUFFIXES = ("局", "厅", "委", "办", "公司", "集团", "银行", "医院", "大学", "中学", "小学", "学院", "协会", "中心",
                 "报", "台", "所", "厂", "店", "馆", "队", "站", "网", "牌", "社")


@dataclass(frozen=True)
class AliasCollision:
    """An alias of the gazetteer that is also an everyday word or part of one."""
    alias: str
    place: str  # the 街道/乡镇 or district it names
    frequency: int  # its own frequency as a word in jieba's dictionary
    longer: tuple[str, ...]  # frequent words that contain it (交通运输 for 通运), not yet in not_places
    organisations: tuple[str, ...]  # alias + an organisation suffix that is a word (通运公司)
    handled: bool  # marked risky (needs a location cue)


def scan_aliases(min_freq: int = 20) -> list[AliasCollision]:
    """Check each short alias and landmark of the gazetteer against jieba's dictionary: an alias
    that is itself a frequent word, sits inside frequent words or names organisations collides
    with ordinary text and should be a risky alias (or its longer words listed in not_places)."""
    path = _jieba_dict()
    if path is None:
        return []
    freq: dict[str, int] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            word, n, _ = line.split(" ", 2)
            freq[word] = int(n)
    idx = _index()
    data = json.loads(GAZETTEER.read_text(encoding="utf-8"))
    aliases: list[tuple[str, str]] = []
    for d in data["districts"]:
        aliases += [(a, d["name"]) for a in [*d.get("aliases", []), *d.get("landmarks", []),
                                             *d.get("risky_aliases", [])] if not _is_full(a)]
        for sub in d.get("subdivisions", []):
            aliases += [(a, sub["name"]) for a in [*sub.get("aliases", []), *sub.get("risky_aliases", [])]
                        if not _is_full(a)]
    out: list[AliasCollision] = []
    seen: set[str] = set()
    for alias, where in aliases:
        if alias in seen:
            continue
        seen.add(alias)
        longer = tuple(sorted((w for w, n in freq.items() if alias in w and w != alias and n >= 3
                               and w not in idx.names), key=lambda w: -freq[w])[:10])
        orgs = tuple(alias + suffix for suffix in _ORG_SUFFIXES if freq.get(alias + suffix, 0) >= 3)
        own = freq.get(alias, 0)
        if own >= min_freq or longer or orgs:
            handled = all(p.risky for p in idx.names.get(normalise(alias), ()))
            out.append(AliasCollision(alias, where, own, longer, orgs, handled))
    return sorted(out, key=lambda c: (c.handled, -c.frequency))


def _main(argv: list[str]) -> int:
    if argv and argv[0] == "--scan":
        for c in scan_aliases():
            status = "risky" if c.handled else "plain"
            print(f"{c.alias}\t{c.place}\t{status}\tfreq={c.frequency}\t{' '.join(c.longer)}\t{' '.join(c.organisations)}")
        return 0
    for text in argv:
        print(text, "→", find_location(text))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
