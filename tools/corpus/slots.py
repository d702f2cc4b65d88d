"""Slot values for the scenario templates: places, names, amounts, dates.

Every item gets one `Slots` object, so a placeholder such as {xq} has the same value
everywhere it appears in that item. All randomness comes from the rng passed in.
Beijing district and 街道 names come from gateway/data/beijing_gazetteer.json; residential
compounds (小区), companies and shops are invented.
"""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
_GAZ = json.loads((ROOT / "gateway/data/beijing_gazetteer.json").read_text(encoding="utf-8"))

# Towns and townships (镇/乡) with their district, for villages.
TOWNS = [(d["name"], s["name"]) for d in _GAZ["districts"] for s in d["subdivisions"] if s.get("type") in ("镇", "乡")]
# (district, [街道/乡镇 names]) in file order, so the draw is deterministic.
DISTRICTS = [(d["name"], [s["name"] for s in d["subdivisions"]]) for d in _GAZ["districts"]]
# The central and near-suburban districts carry most of the traffic; weight them up.
DISTRICT_WEIGHTS = {"朝阳区": 6, "海淀区": 5, "丰台区": 4, "昌平区": 4, "大兴区": 3, "通州区": 3,
                    "东城区": 2, "西城区": 2, "石景山区": 2, "房山区": 2, "顺义区": 2}

# Places outside Beijing (messages from elsewhere reach the line too; labels do not change).
OTHER_PLACES = ["河北廊坊燕郊", "河北涿州", "天津武清区", "河北固安", "河北保定竞秀区", "山东济南历城区",
                "河南郑州金水区", "湖南长沙岳麓区", "江苏南京江宁区", "四川成都武侯区", "辽宁沈阳铁西区",
                "陕西西安雁塔区", "湖北武汉洪山区", "浙江杭州余杭区", "山西太原小店区", "内蒙古呼和浩特赛罕区",
                "黑龙江哈尔滨南岗区", "安徽合肥蜀山区", "河北张家口桥东区", "天津滨海新区"]

_XQ_A = ["金泰", "和悦", "锦秋", "望春", "嘉和", "康泰", "瑞景", "顺和", "安华", "怡然", "福源", "永泰",
         "清溪", "枫林", "华清", "润泽", "紫薇", "兴隆", "海棠", "育新", "朝晖", "鑫苑", "融景", "馨港",
         "天秀", "明光", "京华", "百合", "双桥", "东坝", "长阳", "回龙", "汇川", "梨园", "新宇", "芳园",
         "惠新", "青塔", "盛世", "龙泽", "北苑", "南湖", "富锦", "恒安", "翠林", "旭日", "德润", "丰和"]
_XQ_B = ["家园", "嘉园", "小区", "花园", "西里", "北里", "东里", "南里", "公寓", "新城", "苑", "雅苑",
         "佳园", "名苑", "一区", "二区", "三区", "里", "东区", "西区", "花园二期", "新村"]
_VILLAGE = ["前屯村", "后沙峪村", "东辛庄村", "王各庄村", "北务村", "西营村", "马坊村", "张家湾村",
            "小汤山村", "南石渠村", "大柳树村", "上庄村", "河南寨村", "杨各庄村", "八里庄村"]
_CO_A = ["鑫达", "恒通", "佳禾", "瑞丰", "宏远", "中晟", "华宇", "众诚", "博益", "天润", "金盾", "安泰",
         "诚信", "亿家", "盛达", "卓越", "优邦", "乐享", "安居", "美家"]
_SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
             "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "韩", "冯", "于", "董", "萧"]
_ROADS = ["朝阳北路", "广渠路", "京顺路", "学院路", "安立路", "立汤路", "通惠河北路", "石景山路",
          "京开高速辅路", "回龙观西大街", "西三旗桥东", "南三环西路", "北四环东路", "望京西路",
          "育新街", "建材城西路", "长椿街", "杨庄路", "黄村西大街", "新华南路", "马家堡西路",
          "林萃路", "北清路", "西红门路", "兴华大街", "玉泉路", "姚家园路", "双桥东路", "东坝中路",
          "顺平路", "府前街", "滨河路"]
# Landmarks of *other* topics, used as pure address colour (the hard cases: 法院 across the
# road, a hospital next door, a school gate).
_LANDMARKS = ["法院对面", "区医院旁边", "第三小学门口", "地铁站B口", "派出所斜对面", "公交总站后面",
              "社保大厅旁边", "菜市场边上", "消防站隔壁", "税务局对面", "中医院后身", "体育馆南门",
              "图书馆对面", "街道办事处旁边", "幼儿园旁边", "加油站对过", "妇幼保健院对面",
              "人民检察院东边", "政务服务中心北侧", "长途汽车站附近"]
_SHOP_A = ["老王", "好邻居", "小李", "金鼎", "川味", "鑫鑫", "聚福", "阿强", "红星", "大众", "乐乐", "如意"]
_SHOP_B = ["烧烤", "超市", "便利店", "饭馆", "麻辣烫", "洗车行", "五金店", "理发店", "水果店", "火锅店",
           "修车铺", "足疗店", "小卖部", "酒吧", "服装店", "KTV", "手机店", "建材店", "家具店", "烟酒店"]
_HOSP = ["区人民医院", "第二医院", "市第六医院", "区中医医院", "区妇幼保健院", "社区卫生服务中心",
         "区第一医院", "肿瘤医院", "口腔医院", "儿童医院"]
_SCHOOL_A = ["实验", "育才", "光明", "朝阳", "培英", "新星", "希望", "东方", "第二", "第五", "红旗"]
_SCHOOL_B = ["小学", "中学", "幼儿园", "小学分校", "中学初中部"]

CN_DIG = "零一二三四五六七八九"


def cn_small(n: int) -> str:
    """Chinese reading of 0..99 (十二, 二十五)."""
    if n < 10:
        return CN_DIG[n]
    t, u = divmod(n, 10)
    return ("" if t == 1 else CN_DIG[t]) + "十" + ("" if u == 0 else CN_DIG[u])


class Slots(dict):
    """A dict that invents a value the first time a placeholder is asked for."""

    def __init__(self, rng, other_place: bool = False):
        super().__init__()
        self.rng = rng
        self.other_place = other_place
        name, streets = self._district()
        self.district_name, self.street_name = name, rng.choice(streets)

    def _district(self):
        rng = self.rng
        weights = [DISTRICT_WEIGHTS.get(n, 1) for n, _ in DISTRICTS]
        return rng.choices(DISTRICTS, weights=weights)[0]

    def __missing__(self, key):
        fn = getattr(self, "_" + key, None)
        if fn is None or not callable(fn):
            raise KeyError(key)
        val = fn()
        self[key] = val
        return val

    # --- places ------------------------------------------------------------------------------
    def _dist(self):
        return self.district_name

    def _xq(self):
        return self.rng.choice(_XQ_A) + self.rng.choice(_XQ_B)

    def _xq2(self):
        return self.rng.choice(_XQ_A) + self.rng.choice(_XQ_B)

    def _bld(self):
        r = self.rng
        return f"{r.randint(1, 24)}号楼{r.randint(1, 6)}单元"

    def _lou(self):
        return f"{self.rng.randint(1, 30)}号楼"

    def _room(self):
        r = self.rng
        return f"{r.randint(1, 18)}0{r.randint(1, 6)}"

    def _floor(self):
        return str(self.rng.randint(5, 18))

    def _place(self):
        """Where the writer lives: a Beijing district/街道, or another city."""
        if self.other_place:
            return self.rng.choice(OTHER_PLACES)
        d, st = self.district_name, self.street_name
        return self.rng.choice([d + st, d, st, d + st])

    def _street(self):
        return self.street_name

    def _xiang(self):
        """A Beijing town or township (镇/乡) with its district, or a county elsewhere."""
        if self.other_place:
            return self.rng.choice(OTHER_PLACES)
        d, t = self.rng.choice(TOWNS)
        return self.rng.choice([d + t, t, d + t])

    def _village(self):
        return self.rng.choice(_VILLAGE)

    def _road(self):
        return self.rng.choice(_ROADS)

    def _lm(self):
        return self.rng.choice(_LANDMARKS)

    def _city(self):
        return self.rng.choice(OTHER_PLACES)

    # --- organisations ---------------------------------------------------------------------------
    def _brand(self):
        return self.rng.choice(_CO_A)

    def _co(self):
        r = self.rng
        return self["brand"] + r.choice(["有限公司", "公司", "集团", "实业有限公司", "公司", "股份有限公司"])

    def _fan(self):  # a restaurant
        return self.rng.choice(_SHOP_A) + self.rng.choice(["烧烤", "饭馆", "麻辣烫", "火锅店", "川菜馆", "饺子馆", "拉面馆",
                                                          "小吃店", "烤肉店", "快餐店", "家常菜", "烤串店"])

    def _yao(self):  # a pharmacy
        return self.rng.choice(_CO_A + _SHOP_A) + self.rng.choice(["大药房", "药店", "医药连锁药店", "药房"])

    def _xiu(self):  # car repair / car wash
        return self.rng.choice(_SHOP_A) + self.rng.choice(["汽修厂", "修车铺", "洗车行", "汽车美容店", "汽修店"])

    def _mai(self):  # a store
        return self.rng.choice(_SHOP_A + _CO_A) + self.rng.choice(["超市", "便利店", "小卖部", "水果店", "生鲜超市", "商店"])

    def _ka(self):  # a shop that sells prepaid cards
        return self.rng.choice(_SHOP_A + _CO_A) + self.rng.choice(["理发店", "美容院", "洗车店", "健身房", "游泳馆", "干洗店",
                                                                   "美甲店", "蛋糕店", "美发沙龙", "瑜伽馆"])

    def _wy(self):
        return self.rng.choice(_CO_A) + self.rng.choice(["物业", "物业公司", "物业管理公司"])

    def _shop(self):
        return self.rng.choice(_SHOP_A) + self.rng.choice(_SHOP_B)

    def _hosp(self):
        return self.rng.choice(["", self.district_name]) + self.rng.choice(_HOSP)

    def _school(self):
        return self.rng.choice(_SCHOOL_A) + self.rng.choice(_SCHOOL_B)

    def _name(self):
        return self.rng.choice(_SURNAMES)

    def _bus(self):
        return str(self.rng.choice([self.rng.randint(1, 999), self.rng.randint(300, 999)]))

    def _line(self):
        return self.rng.choice(["1号线", "2号线", "4号线", "5号线", "6号线", "8号线", "10号线", "13号线",
                                "14号线", "15号线", "昌平线", "房山线", "亦庄线", "八通线", "17号线", "19号线"])

    def _plate(self):
        r = self.rng
        return "京" + r.choice("ABCEFGHJKLMNPQ") + "".join(r.choice("0123456789") for _ in range(4)) + r.choice("0123456789DFGHKX")

    def _phone(self):
        r = self.rng
        return f"1{r.choice('3589')}{r.randint(0, 9)}****{r.randint(1000, 9999)}"

    # --- numbers and time ------------------------------------------------------------------------
    def _n(self):
        return str(self.rng.randint(2, 9))

    def _n2(self):
        return str(self.rng.randint(2, 12))

    def _age(self):
        return str(self.rng.randint(68, 93))

    def _amt(self):
        return str(self.rng.choice([30, 50, 80, 100, 120, 150, 180, 200, 260, 300, 350, 400, 480, 500, 600, 800]))

    def _mamt(self):
        return str(self.rng.choice([1200, 1500, 2000, 2680, 3000, 3500, 4200, 4800, 5000, 6800, 8000, 9800]))

    def _bigamt(self):
        r = self.rng
        return r.choice([f"{r.randint(2, 9)}万", f"{r.randint(1, 9)}{r.choice('05')}000", f"{r.randint(2, 9)}万多", f"{r.randint(12, 98)}000"])

    def _sdur(self):  # hours to days
        return self.rng.choice(["一上午", "一整天", "两天", "三天", "好几天", "大半天", "一天一夜", "四五天", "一个星期", "十几个小时"])

    def _dur(self):  # weeks to months
        return self.rng.choice(["两个星期", "半个多月", "二十多天", "一个多月", "一个月", "两个月", "三个多月",
                                "快两个月", "三周", "四十多天", "将近三个月", "两个多月"])

    def _ldur(self):  # months to years
        return self.rng.choice(["半年", "大半年", "一年多", "两年", "三年多", "好几年", "快一年", "八个多月", "两年多", "五六年"])

    def _year(self):
        return self.rng.choice(["2024", "2025", "2025", "2026", "2026"])

    def _ym(self, day=False):
        """A past year and month (the corpus is dated 2026-12-06)."""
        r = self.rng
        y = self._year()
        m = r.randint(1, 11 if y == "2026" else 12)
        return f"{y}年{m}月" + (f"{r.randint(1, 28)}日" if day else "")

    def _month(self):
        return f"{self.rng.randint(1, 12)}月"

    def _date(self):
        r = self.rng
        return r.choice([self._ym(), f"今年{r.randint(1, 11)}月", f"去年{r.randint(1, 12)}月",
                         f"{r.randint(1, 11)}月{r.randint(1, 28)}号", f"{r.randint(1, 11)}月{r.randint(1, 28)}日",
                         "上个月", f"今年{r.randint(3, 10)}月初", self._ym(day=True)])

    def _day(self):
        return self.rng.choice(["昨天", "前天", "上周五", "上周末", "今天早上", "昨天晚上", "大前天", "上周三", "这周一"])

    def _time(self):
        return self.rng.choice(["晚上十点多", "夜里十一点", "凌晨一两点", "早上六点", "半夜十二点多", "晚上九点以后", "凌晨三点", "中午一点"])
