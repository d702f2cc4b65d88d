"""Build triage/data/corpus/train.jsonl: a labelled training corpus of citizen messages.

    python tools/corpus/build_train.py            # rewrites the file, identically every run
    python tools/corpus/build_train.py --stats    # also prints counts per class, kind, genre

How it works: for every second-level class of triage/data/taxonomy.yaml the number of items
is fixed (CLASS_N), the kinds are dealt out with the same shares in every class (KIND_SHARE, so
topic says nothing about kind), and so are the genres (GENRE_SHARE). For each item a scenario of
that class supporting the kind is drawn (least used first) and rendered in the genre with
fresh slot values (style.py, slots.py). Duplicated texts are redrawn.
"""
import argparse
import collections
import json
import pathlib
import random
import re
import sys

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
    __package__ = "tools.corpus"

from tools.corpus import (  # noqa: E402
    scenarios_anquan_minzheng,
    scenarios_chengxiang,
    scenarios_extra,
    scenarios_huanbao,
    scenarios_jiaotong,
    scenarios_jiaoyu_laodong,
    scenarios_more,
    scenarios_shangmao_weisheng,
)
from tools.corpus import style as st  # noqa: E402
from tools.corpus.bank import KINDS  # noqa: E402
from tools.corpus.slots import ROOT, Slots  # noqa: E402

SEED = 20261206
OUT = ROOT / "triage/data/corpus/train.jsonl"
TAXONOMY = ROOT / "triage/data/taxonomy.yaml"

KIND_SHARE = {"p": 0.30, "c": 0.22, "h": 0.17, "s": 0.16, "r": 0.15}
GENRE_SHARE = {"short": 0.22, "medium": 0.36, "letter": 0.27, "phone": 0.15}
OTHER_PLACE_RATE = 0.08
LEN = {"short": (6, 30), "medium": (30, 150), "letter": (150, 600), "phone": (30, 320)}

CLASS_N = {
    "住房与物业": 320, "水电气热": 240, "房产与租赁": 180, "违法建设与拆迁": 160, "规划与市政设施": 200, "施工管理": 170,
    "噪声污染": 200, "大气污染": 160, "水污染与土壤": 110, "垃圾与环境卫生": 170,
    "公共交通": 160, "出租车与网约车": 130, "道路与停车": 200, "交通违法与驾驶证": 130,
    "学校教育": 190, "文化体育": 110,
    "劳动关系与工资": 230, "社会保险": 180, "就业与人才": 130, "住房公积金": 120,
    "市场监管与消费维权": 240, "商业服务": 110, "旅游": 110,
    "医疗服务": 180, "公共卫生与计生": 130, "药品与医保管理": 120,
    "治安与消防隐患": 180, "安全生产": 110,
    "社会救助与养老": 170, "婚姻殡葬与社区": 120,
    "农业农村": 150,
    "证件与户籍": 150, "政务服务与办事": 150,
}


def load_banks():
    scenes = {}
    for mod in (scenarios_chengxiang, scenarios_huanbao, scenarios_jiaotong):
        scenes.update(mod.SCENES)
    for d in (scenarios_jiaoyu_laodong.SCENES_JY, scenarios_jiaoyu_laodong.SCENES_LD,
              scenarios_shangmao_weisheng.SCENES_SM, scenarios_shangmao_weisheng.SCENES_WS,
              scenarios_anquan_minzheng.SCENES_AQ, scenarios_anquan_minzheng.SCENES_MZ,
              scenarios_anquan_minzheng.SCENES_NY, scenarios_anquan_minzheng.SCENES_ZW):
        scenes.update(d)
    return scenarios_more.apply(scenarios_extra.apply(scenes))


def load_taxonomy():
    tax = yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))
    return [(l1, l2) for l1, sub in tax.items() for l2 in sub]


def quotas(n, shares):
    """Exact counts for shares summing to 1 (largest remainder), in a fixed key order."""
    raw = {k: n * v for k, v in shares.items()}
    out = {k: int(v) for k, v in raw.items()}
    rest = n - sum(out.values())
    for k in sorted(raw, key=lambda k: (out[k] - raw[k], list(shares).index(k)))[:rest]:
        out[k] += 1
    return out


PROBLEM = re.compile("不|没|坏|乱|难|差|太|被|跑路|拖|停|漏|堵|吵|臭|多|贵|违|私|偷|扣|欺诈|假|烂|丢|过期|断|破|慢|脏|冒|塌|骗|占|噪|泡|裂|返水|黄|高|低|跑|扬尘|遗撒|撒|烧|焚烧|异味|倒|污|冰|锁|死|拒|绕|堆|杀|宰|毁|强")


def fill(template, slots):
    return template.format_map(slots)


def end_punct(s):
    return s if not s or s[-1] in "。！？!?…" else s + "。"


class Renderer:
    def __init__(self, rng, scenes):
        self.rng = rng
        self.scenes = scenes
        self.all_scenes = [(l2, sc) for l2, lst in scenes.items() for sc in lst]

    # --- pieces -------------------------------------------------------------------------------
    def ask(self, sc, kind, slots, generic_p=0.45, tpl=None):
        rng = self.rng
        tpl = tpl or rng.choice(sc.asks(kind))
        parts = [st.vary_ask(fill(tpl, slots), kind, rng)]
        if rng.random() < generic_p:
            g = rng.choice(st.GEN_ASK[kind])
            parts.append(fill(g, slots))
        return "".join(end_punct(p) for p in parts)

    def fact(self, sc, slots):
        return end_punct(fill(self.rng.choice(sc.f), slots))

    # --- genres ---------------------------------------------------------------------------------
    def short(self, sc, kind, slots):
        rng = self.rng
        lines = list(sc.x.get(kind, []))
        # neutral k phrases (公积金提取) only take question tails; problem states (电梯坏了) any tail
        ks = [k for k in sc.k if kind == "c" or PROBLEM.search(k)]
        use_k = kind in st.SHORT_TAIL and ks and (not lines or rng.random() < 0.35)
        if use_k:
            base = fill(rng.choice(ks), slots)
            sep = rng.choice([" ", "，", "", " "])
            text = base + sep + rng.choice(st.SHORT_TAIL[kind])
        elif lines:
            text = fill(rng.choice(lines), slots)
        else:  # fall back to a short scenario ask
            asks = [fill(a, slots) for a in sc.asks(kind)]
            asks = [a for a in asks if len(a) <= 28]
            if not asks:
                return None
            text = rng.choice(asks)
        text = st.colloquial(text, rng)
        pre = rng.choice(st.SHORT_PRE)
        if pre == "问下 " and kind != "c":
            pre = ""
        text = pre + text
        if rng.random() < 0.6:
            text = st.strip_punct(text, rng)
        if rng.random() < 0.25:
            text += rng.choice(["？", "?", "！", "。", "…", "！！", "??", ""])
        return text

    def medium(self, sc, kind, slots, l1):
        rng = self.rng
        parts = []
        q_p = {"c": 0.12, "p": 0.08}.get(kind, 0.03)
        if rng.random() < q_p:
            parts.append(st.QINGWEN)
        elif rng.random() < 0.45:
            parts.append(rng.choice(st.OPENERS))
        if rng.random() < 0.35:
            parts.append(fill(rng.choice(st.INTROS), slots))
        tpl = rng.choice(sc.asks(kind))
        if tpl not in sc.alone:
            parts.append(self.fact(sc, slots))
            if rng.random() < 0.2:
                parts.append(fill(rng.choice(st.TIMES), slots))
        parts.append(self.ask(sc, kind, slots, tpl=tpl))
        if rng.random() < 0.4:
            parts.append(rng.choice(st.CLOSERS))
        text = "".join(parts)
        if rng.random() < 0.2:
            text = st.colloquial(text, rng, 0.6)
        if rng.random() < 0.12:
            text = st.strip_punct(text, rng, space=0.7)
        return text

    def letter(self, sc, kind, slots, l1):
        rng = self.rng
        lines = []
        village = l1 == "农业农村" or "{village}" in "".join(sc.f)
        if village and "place" not in slots:
            slots["place"] = slots["xiang"]  # a villager signs with the town, not a city 街道
        r = rng.random()
        # titles name the problem the way writers do (the k phrases), not the scenario label
        t = fill(rng.choice(sc.k), slots) if sc.k else sc.t
        if r < 0.45:
            lines.append(fill(rng.choice(st.TITLE_KIND[kind]), _Merged(slots, t=t)))
        elif r < 0.85:
            lines.append(fill(rng.choice(st.TITLE_NEUTRAL), _Merged(slots, t=t)))
        if rng.random() < 0.85:
            lines.append(fill(rng.choice(st.GREETINGS), slots))
        # how long this letter wants to be: most are short letters, some are long ones
        target = rng.choice([rng.randint(150, 250)] * 4 + [rng.randint(250, 400)] * 4 + [rng.randint(400, 560)] * 2)

        work = l1 == "劳动和社会保障"
        head = []
        life = list(st.LIFE_ANY)
        if rng.random() < 0.8:
            if village:
                head.append(fill(rng.choice(st.SELVES_VILLAGE), slots))
            elif work:
                head.append(fill(rng.choice(st.SELVES_WORK), slots))
                life = st.LIFE_WORK
            else:
                self_t, own = rng.choice(st.PERSONAS)
                head.append(fill(self_t, slots))
                life = own + life
        connector = rng.choice(st.CONNECTORS)
        # the main request first: some asks tell their own story and take no fact
        main_tpl = rng.choice(sc.asks(kind))
        alone = main_tpl in sc.alone
        story, spare_facts = [], []
        if not alone:
            first = rng.randrange(len(sc.f))
            story = [end_punct(fill(sc.f[first], slots))]
            spare_facts = [i for i in range(len(sc.f)) if i != first]

        orgs = st.ORGS[l1]
        o1, o2 = rng.sample(orgs, 2)

        def hist_slots(a, b):
            return _Merged(slots, org1=a, org2=b, res=fill(rng.choice(st.RESULTS), slots))
        hs = hist_slots(o1, o2)
        hist = {"c": st.HIST_C, "p": st.HIST_PH, "h": st.HIST_PH, "r": st.HIST_R, "s": st.HIST_S}[kind]
        history = [fill(rng.choice(hist), hs)] if rng.random() < (0.5 if kind == "c" else 0.8) else []
        impacts = []
        if kind in ("p", "h") and rng.random() < 0.5:
            impacts.append(end_punct(fill(rng.choice(st.IMPACTS), slots).rstrip("，")))

        # the requests
        others = [a for a in sc.asks(kind) if a != main_tpl and a not in sc.alone]
        rng.shuffle(others)
        asks = [st.vary_ask(fill(a, slots), kind, rng) for a in [main_tpl] + others]
        req = []
        if kind == "c" and len(asks) >= 2 and rng.random() < 0.6:
            nums = rng.choice([st.NUMERALS, st.NUMERALS2])
            req.append(rng.choice(st.CONSULT_LEAD) + "".join(nums[i] + end_punct(a) for i, a in enumerate(asks[:3])))
        elif kind == "s" and rng.random() < 0.5:
            nums = rng.choice([st.NUMERALS, st.NUMERALS2])
            extra = fill(rng.choice(st.GEN_ASK["s"]), slots)
            req.append(rng.choice(st.SUGGEST_LEAD) + nums[0] + end_punct(asks[0]) + nums[1] + extra)
        else:
            lead = rng.choice(st.DEMAND_LEAD) if kind in ("p", "h") and rng.random() < 0.2 else ""
            req.append(lead + end_punct(asks[0]))
            if len(asks) > 1 and rng.random() < 0.35:
                req.append(end_punct(asks[1]))
        if rng.random() < 0.6:
            g = fill(rng.choice(st.GEN_ASK[kind]), slots)
            if g not in req[-1]:
                req.append(g)

        # optional story sentences, added until the letter reaches its length
        optional = []
        if spare_facts:
            optional.append(("story", end_punct(fill(sc.f[rng.choice(spare_facts)], slots))))
        if sc.d:
            optional.append(("story", fill(rng.choice(sc.d), slots)))
        details = st.GEN_DETAILS + (st.RESIDENT_DETAILS if l1 in st.RESIDENT_L1 else [])
        optional.append(("story", fill(rng.choice(details), slots)))
        optional.append(("head", fill(rng.choice(life), slots)))
        optional.append(("story", fill(rng.choice(details), slots)))
        if kind in ("p", "h"):
            optional.append(("impact", end_punct(fill(rng.choice(st.IMPACTS), slots).rstrip("，"))))
            optional.append(("history", fill(rng.choice(st.HIST_PH), hist_slots(o2, o1))))
        km = _Merged(slots, k=t)
        narr = st.NARR + (st.NARR_PLACE if l1 in st.PLACE_L1 else [])
        optional.append(("story", fill(rng.choice(narr), km)))
        optional.append(("story", fill(rng.choice(narr), km)))
        if kind in ("p", "h"):
            optional.append(("history", rng.choice(st.QUOTES)))
        elif kind == "r":
            more = st.REPORT_MORE + (st.REPORT_MORE_PLACE if l1 in st.PLACE_L1 else [])
            optional.append(("history", fill(rng.choice(more), slots)))
            optional.append(("history", fill(rng.choice(more), slots)))
        elif kind == "s":
            optional.append(("req", rng.choice(st.SUGGEST_MORE)))
        else:
            optional.append(("req", rng.choice(st.CONSULT_MORE)))
        if len(asks) > 1:
            optional.append(("req", end_punct(asks[-1])))
        if rng.random() < (0.5 if target >= 400 else 0.12):
            # a second, unrelated problem in the same letter (labelled by the main one)
            _, other = rng.choice([(c, o) for c, o in self.all_scenes if o.p and o is not sc])
            extra = "另外，还想顺便反映一下：" + end_punct(fill(rng.choice(other.f), slots))
            if target >= 400 and rng.random() < 0.6:
                extra += end_punct(fill(rng.choice(other.p), slots))
            optional.append(("other", extra))
        if target >= 400:
            optional.append(("history", fill(rng.choice(hist), hist_slots(o2, o1))))
            optional.append(("story", fill(rng.choice(narr), km)))
            optional.append(("head", fill(rng.choice(life), slots)))
        rng.shuffle(optional)
        other = []

        def length():
            return sum(len(x) for x in lines + head + story + history + impacts + other + req) + 20

        for where, sent in optional:
            if length() >= target and where != "other":
                continue
            if sent in story or sent in head:
                continue
            if any(sent in part for part in (history, req, impacts, other)):
                continue
            {"story": story, "head": head, "impact": impacts, "history": history, "other": other, "req": req}[where].append(sent)

        body = "".join(head + [connector] + story + history + impacts + other)
        reqs = "".join(req)
        sep = "\n" if rng.random() < 0.45 else ""
        lines.append(body + sep + reqs)
        lines.append(rng.choice(st.LETTER_ENDS))
        sign = fill(rng.choice(st.SIGNS), slots)
        if sign:
            lines.append(sign)
        return "\n".join(lines)

    def phone(self, sc, kind, slots, l1):
        rng = self.rng
        parts = [rng.choice(st.PHONE_OPEN)]
        intro = fill(rng.choice(st.PHONE_INTRO), slots)
        if intro:
            parts.append(intro)
        tpl = rng.choice(sc.asks(kind))
        if tpl not in sc.alone:
            first = self.fact(sc, slots)
            parts.append(st.spoken(first, rng))
            if rng.random() < 0.4:
                parts.append(st.spoken(fill(rng.choice(st.TIMES), slots), rng))
            if rng.random() < 0.3 and len(sc.f) > 1:
                second = rng.choice([f for f in sc.f if fill(f, slots) + "。" != first])
                parts.append("还有就是 " + st.spoken(fill(second, slots), rng))
        parts.append(st.spoken(self.ask(sc, kind, slots, generic_p=0.35, tpl=tpl), rng))
        if rng.random() < 0.7:
            parts.append(rng.choice(st.PHONE_CLOSE))
        text = " ".join(p for p in parts if p)
        text = st.colloquial(text, rng, 0.8)
        return st.spoken_numbers(text)

    def render(self, sc, kind, genre, slots, l1):
        if genre == "short":
            text = self.short(sc, kind, slots)
        elif genre == "medium":
            text = self.medium(sc, kind, slots, l1)
        elif genre == "letter":
            text = self.letter(sc, kind, slots, l1)
        else:
            text = self.phone(sc, kind, slots, l1)
        if text is None:
            return None
        rng = self.rng
        if rng.random() < 0.16:
            text = st.add_typos(text, rng, n=rng.choice([1, 1, 2]))
        if rng.random() < 0.04:
            text = st.add_latin(text, rng)
        if rng.random() < 0.025:
            text = st.traditional(text, rng)
        return text.strip()


class _Merged(dict):
    """Slots plus a few fixed extra keys, still inventing missing slot values."""

    def __init__(self, slots, **extra):
        super().__init__(extra)
        self.slots = slots

    def __missing__(self, key):
        return self.slots[key]


def build(seed=SEED):
    rng = random.Random(seed)
    scenes = load_banks()
    classes = load_taxonomy()
    missing = [l2 for _, l2 in classes if l2 not in scenes]
    extra = [l2 for l2 in scenes if l2 not in {c for _, c in classes}]
    assert not missing and not extra, (missing, extra)
    rend = Renderer(rng, scenes)
    l1_of = {l2: l1 for l1, l2 in classes}
    seen, items = set(), []
    for l1, l2 in classes:
        n = CLASS_N[l2]
        bank = scenes[l2]
        kq = quotas(n, KIND_SHARE)
        gq = quotas(n, GENRE_SHARE)
        kinds = [k for k, c in kq.items() for _ in range(c)]
        genres = [g for g, c in gq.items() for _ in range(c)]
        rng.shuffle(kinds)
        rng.shuffle(genres)
        uses = collections.Counter()
        for kind, genre in zip(kinds, genres):
            cands = [i for i, sc in enumerate(bank) if sc.asks(kind)]
            assert cands, (l2, kind)
            for attempt in range(60):
                low = min(uses[i] for i in cands)
                pick = rng.choice([i for i in cands if uses[i] <= low + (attempt // 10)])
                sc = bank[pick]
                g = genre if attempt < 40 else "medium"
                slots = Slots(rng, other_place=rng.random() < OTHER_PLACE_RATE)
                text = rend.render(sc, kind, g, slots, l1_of[l2])
                if text is None:
                    continue
                lo, hi = LEN[g]
                if not lo <= len(text) <= hi or text in seen:
                    continue
                break
            else:
                raise RuntimeError(f"could not render {l2}/{kind}/{genre}")
            uses[pick] += 1
            seen.add(text)
            items.append({"text": text, "kind": KINDS[kind], "category_l1": l1, "category": l2,
                          "source": f"{g}:{sc.t}"})
    rng.shuffle(items)
    return [{"id": f"tr-{i:05d}", **it} for i, it in enumerate(items, 1)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stats", action="store_true")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    items = build()
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for it in items:
            fh.write(json.dumps(it, ensure_ascii=False) + "\n")
    print(f"wrote {len(items)} items to {out}")
    if args.stats:
        for key in ("category_l1", "kind"):
            print(key, dict(collections.Counter(it[key] for it in items).most_common()))
        print("genre", dict(collections.Counter(it["source"].split(":")[0] for it in items).most_common()))


if __name__ == "__main__":
    main()
