"""Genres and noise: how one scenario becomes a citizen's message.

Four genres:
  short   chat lines, 6-30 characters, colloquial, punctuation often missing
  medium  web/WeChat messages, 30-150 characters
  letter  letters to the mayor's mailbox / the government message board, 150-600 characters
  phone   a call-taker's verbatim transcript: spoken, repetitive, no punctuation, numbers
          written as Chinese characters

Everything here is kind-neutral unless it sits in a dict keyed by kind code, and all the
kind-neutral pieces (openers, closers, signatures) are shared by every class and kind.
"""
import logging
import re

import jieba

jieba.setLogLevel(logging.WARNING)

# --- kind-specific generic asks (topic-neutral) -------------------------------------------------
GEN_ASK = {
    "p": ["为什么就没人管？", "到底有没有人管？", "希望尽快解决。", "希望有关部门管一管。", "这种情况还要持续多久？",
          "请问这到底归谁管？各部门推来推去。", "我们老百姓该找谁说理去？", "太不像话了！", "反映多次都没有结果，非常不满。",
          "要求严肃处理。", "难道非要出了事才管吗？", "请给我们一个说法。", "这样的服务谁能满意？", "实在忍无可忍了。",
          "希望尽快解决，别再拖了。", "为什么每次都是石沉大海？"],
    "c": ["想问一下这种情况该找哪个部门？", "请问有相关规定吗？", "具体怎么办理？需要带什么材料？", "麻烦告知一下流程。",
          "想咨询一下。", "请问在哪里能查到？", "能不能给个准确的答复？", "这个归哪里管？", "想了解一下具体政策。",
          "网上说法不一，想问个准话。", "请问需要本人去吗？", "有没有电话可以直接问？"],
    "h": ["求求你们帮帮忙。", "实在没办法了，只能打12345。", "麻烦尽快派人来看看。", "请帮帮我们。", "拜托了，很着急。",
          "希望能尽快帮我们解决。", "我们自己实在解决不了。", "恳请帮助！", "我们真的等不起了。", "麻烦帮忙协调一下。"],
    "r": ["请有关部门依法查处。", "我可以提供照片和视频。", "请对举报人信息保密。", "希望尽快查处。", "请派人来现场核实。",
          "特此举报。", "希望执法部门严肃处理。", "照片我都拍下来了。", "请查处并回复处理结果。"],
    "s": ["希望相关部门考虑一下。", "个人一点建议，仅供参考。", "相信能方便很多人。", "希望能采纳。", "这是很多居民共同的心声。",
          "不知道是否可行，请领导考虑。", "希望能研究一下。", "一点小建议，望采纳。"],
}

# --- other ways to say the same request (not every report says 举报, not every proposal 建议) ---
REPORT_PRE = ["我要举报：", "实名举报，", "反映一个违法行为：", "举报一下，", "向你们反映：", ""]
REPORT_POST = ["请你们来查一查。", "希望执法部门来管一管。", "麻烦派人来查一下。", "请依法处理。", "这是违法的吧？请查处。",
               "请相关部门调查。"]
SUGGEST_SWAP = ["希望", "能不能", "是否可以考虑", "最好能", "可不可以", "我觉得应该", "呼吁", "恳请"]
SUGGEST_SWAP_NENG = ["希望", "恳请", "我建议", "提个建议：", "强烈建议", "呼吁"]  # when the body already has 能
KIND_PRE = {"p": ["我要投诉，", "投诉一下：", "必须投诉一下，", "我想投诉，"],
            "c": ["咨询一下，", "想问一下，", "请教一下，", "问个事，"],
            "h": ["求助！", "求助：", "麻烦帮个忙，", "急！"]}


def vary_ask(text: str, kind: str, rng) -> str:
    """Rephrase a bank ask so the kind is not always carried by the same word."""
    if kind == "r" and text.startswith("举报"):
        r = rng.random()
        if r < 0.3:
            body = text[2:].rstrip("。！")
            return body + "，" + rng.choice(REPORT_POST)
        if r < 0.45:
            return rng.choice(REPORT_PRE) + text[2:]
    if kind == "s" and text.startswith("建议") and rng.random() < 0.4:
        body = text[2:].rstrip("。！")
        swap = rng.choice(SUGGEST_SWAP_NENG if "能" in body or "可以" in body else SUGGEST_SWAP)
        return swap + body + ("？" if swap in ("能不能", "可不可以", "是否可以考虑") else "。")
    if kind in KIND_PRE and rng.random() < 0.1:
        return rng.choice(KIND_PRE[kind]) + text
    return text


# --- kind-neutral pieces -------------------------------------------------------------------------
OPENERS = ["你好，", "您好，", "你好！", "12345你好，", "领导好，", "打扰一下，", "您好！", "你好 ", "您好。",
           "你好，我想反映个事，", "您好，有个情况，", "麻烦您看一下，", "你们好，", "hi 你好，", "早上好，", "晚上好，"]
QINGWEN = "请问，"
CLOSERS = ["谢谢！", "谢谢。", "麻烦了。", "辛苦了。", "盼复。", "望回复，谢谢。", "麻烦给个回复。", "多谢", "谢谢您",
           "辛苦您了！", "等您回复。", "麻烦尽快回复。", "谢谢！！", "感谢！", "辛苦！", "拜托了。"]
INTROS = ["我是{place}{xq}的居民，", "我住在{place}{xq}，", "我是{xq}{bld}的业主，", "我家住{xq}，", "{xq}居民反映：",
          "本人住{place}，", "我住{lm}的{xq}，", "我是{place}的，", "我们这是{place}{xq}，", "我是{xq}的租户，",
          "家住{place}{xq}{bld}，", "我是{place}人，"]
TIMES = ["这个情况已经持续{dur}了。", "从{date}到现在一直这样。", "已经不是第一次了。", "前前后后反映过{n}次。",
         "最近越来越严重。", "{date}就开始了。", "前后有{dur}了。", "{day}又是这样。"]

TITLE_KIND = {
    "c": ["关于{t}的咨询", "咨询{t}的问题", "{t}相关问题咨询", "请问{t}的问题怎么办", "{t}，请问该怎么办"],
    "p": ["关于{t}的投诉", "投诉{t}", "{t}问题反映", "强烈反映{t}问题", "{t}，谁来管？", "再次反映{t}"],
    "h": ["求助：{t}", "关于{t}的求助", "{t}，恳请帮助", "紧急求助", "恳请帮助解决{t}"],
    "r": ["举报{t}", "关于{t}的举报", "实名举报：{t}", "举报信"],
    "s": ["关于{t}的建议", "建议解决{t}问题", "对{t}的几点建议", "一条建议"],
}
TITLE_NEUTRAL = ["关于{t}的问题", "{t}", "{xq}{t}问题", "反映{t}的情况", "{t}的事", "关于{place}{t}", "{t}问题"]
GREETINGS = ["尊敬的领导：", "尊敬的市长：", "市长您好！", "尊敬的市长信箱工作人员：", "您好！", "各位领导好：",
             "尊敬的{dist}领导：", "领导您好，", "尊敬的有关部门负责同志：", "12345工作人员您好：", "尊敬的政府领导：",
             "你好："]
PERSONAS = [
    ("我是住在{xq}的一名退休职工，今年{age}岁。", ["我和老伴都七十多岁了，孩子不在身边。", "我本人不太会用电脑，这封信是孩子帮我写的。",
                                          "我是退休教师，平时很少给政府添麻烦。"]),
    ("我今年{age}岁，和老伴住在{xq}。", ["我本人不太会用电脑，这封信是孩子帮我写的。", "孩子们都在外地，家里就我们老两口。"]),
    ("我是{xq}的老住户了，在这住了二十多年。", ["以前从没遇到过这种情况。", "我是土生土长的北京人。"]),
    ("我是一名上班族，住{place}。", ["我平时上班很忙，很少有时间处理这些事。", "我刚搬来这边不到一年。", "我是一名护士，经常上夜班。"]),
    ("我是一名学生家长，家住{place}。", ["我是一名全职妈妈，平时在家带孩子。", "我们家三口人，孩子正在上小学。"]),
    ("我是{place}的一名居民，也是两个孩子的母亲。", ["我是一名全职妈妈，平时在家带孩子。"]),
    ("我是一名普通市民，家住{place}。", ["我和爱人都是普通工薪阶层。", "我是个体户，自己开了个小店。", "我是一名残疾人，行动不太方便。"]),
    ("我姓{name}，住在{place}{xq}{bld}。", ["我和爱人都是普通工薪阶层。", "我们家老人常年住在这里。"]),
    ("我是{place}{xq}的一名业主。", ["我们小区是老小区，大多是九十年代的房子。", "我和爱人都是普通工薪阶层。"]),
    ("本人系{xq}居民。", []),
    ("我是{city}人，在北京工作{ldur}了。", ["我是外地人，来北京打拼了十几年。", "我平时上班很忙，很少有时间处理这些事。"]),
    ("我是一名外地来京务工人员。", ["我是一名快递员，每天早出晚归。", "我是个体户，自己开了个小店。"]),
]
LIFE_ANY = ["说实话，不到万不得已我也不想写这封信。", "我反复考虑了很久才写这封信。", "我知道领导工作很忙，但这件事确实困扰我们很久了。"]
SELVES_VILLAGE = ["我是{xiang}{village}的村民。", "我是{village}的村民，今年{age}岁。", "我是{village}的一名普通农民。",
                  "我家住在{village}，祖祖辈辈都在这里。"]
# self-introductions of people at work (labour, social insurance): no pensioners there
SELVES_WORK = ["我是{co}的一名员工。", "我是一名外地来京务工人员。", "我是一名上班族，住{place}。", "我是一名普通市民，家住{place}。",
               "我是{city}人，在北京工作{ldur}了。", "我姓{name}，今年三十多岁，在{place}上班。", "我是一名普通的打工者。"]
LIFE_WORK = ["我在这家公司干了好几年，一直兢兢业业。", "我是家里的顶梁柱，上有老下有小。", "我们这些打工的，不懂法，也不知道该找谁。",
             "我平时上班很忙，很少有时间处理这些事。", "说实话，不到万不得已我也不想写这封信。", "我反复考虑了很久才写这封信。"]
CONNECTORS = ["事情是这样的：", "情况是这样的，", "具体情况如下：", "", "我想反映一个问题。", "有件事想跟您说一下。",
              "现将情况反映如下：", "", "想跟领导说个事。"]
HIST_C = ["我在网上查了一些资料，但说法不一样。", "打电话问过几个地方，都说不清楚。", "问了身边的朋友，也都不太了解。",
          "社区的工作人员也说不太清楚。", "之前看到过一些通知，但没看明白。", "去办事大厅问过一次，人太多没问成。"]
HIST_PH = ["期间我们找过{org1}，{res}", "我们先后找了{org1}和{org2}，{res}", "{date}我就打过12345，{res}",
           "前前后后反映了{n}次，{res}", "我也去{org1}当面反映过，{res}", "找{org1}，{org1}说找{org2}，{res}"]
HIST_R = ["我之前也向{org1}反映过，一直没有处理。", "这个情况周围邻居都知道，就是没人管。", "我曾经当面劝过，对方根本不理会。",
          "我拍了照片和视频，可以提供。", "{date}就发现了，一直持续到现在。"]
HIST_S = ["我在这里住了{ldur}，对这一带的情况比较了解。", "身边很多邻居也有同样的想法。", "我观察了很久，也和邻居们商量过。",
          "我看到{city}那边已经这么做了，效果很好。", "这个问题困扰大家很久了。"]
RESULTS = ["对方一直推脱。", "说会研究研究，然后就没下文了。", "说不归他们管，让我们去找别的部门。",
           "工单显示已办结，可问题根本没解决。", "来人看了一眼就走了。", "答复说正在协调，一等就是{dur}。",
           "电话打过去没人接。", "他们让我们耐心等待。", "对方态度还挺好，就是一直不解决。", "每次都说马上处理。"]
IMPACTS = ["家里有{age}岁的老人，", "孩子还小，", "严重影响了我们的正常生活。", "我们实在是没办法了。",
           "每天都过得提心吊胆。", "邻居们意见都很大。", "我爱人身体也不好，", "我每天上班很早，"]
GEN_DETAILS = ["{date}开始有这个情况。", "到现在已经{dur}了。", "这期间我拍了照片，可以提供。", "周围好多人都遇到过同样的事。",
               "这件事前前后后折腾了很久。", "我身边的朋友也碰到过类似的情况。", "网上也有不少人在说这个事。",
               "我也不知道该找谁，只好写信给您。", "这事说大不大，说小也不小。", "我把情况尽量说清楚一些。",
               "具体时间我记不太清了，大概是{date}。", "我手里有相关的票据和聊天记录。", "为这个事我请了好几次假。",
               "家里人都劝我算了，可我觉得应该反映一下。", "我已经尽量自己解决过了。"]
# only where the writer speaks for a building or a neighbourhood
RESIDENT_DETAILS = ["不光是我一家，整栋楼的住户都受影响。", "我们这里住的大多是老人。", "小区里的邻居们都很有意见。",
                    "附近几个小区的居民都深受其害。"]
RESIDENT_L1 = ("城乡建设", "环境保护", "公共安全", "农业农村")
# longer letters: more story, the other side's words, kind-specific elaboration
NARR = ["一开始以为过几天就好了，没想到拖到了现在。", "为了{k}这件事，我们没少操心。", "这事要从{date}说起。",
        "我把前前后后的经过简单说一下。", "{k}这个事，我一直想找个地方说说。", "我先把情况说清楚。"]
# only where the problem is a place one can go and look at
NARR_PLACE = ["{day}我又去看了一下，还是老样子。", "具体地点就在{lm}附近，很好找。", "从{date}开始，{k}的问题就一直存在。"]
PLACE_L1 = ("城乡建设", "环境保护", "公共安全", "农业农村", "交通运输")
QUOTES = ["对方的原话是：“这事我们管不了，你们去找别人吧。”", "工作人员跟我说：“正在走流程，再等等。”",
          "对方说：“我们也没办法，上面不批。”", "他们说：“情况我们已经知道了。”然后就没有然后了。",
          "对方让我们“回去等通知”，可通知一直没来。"]
REPORT_MORE = ["我担心被报复，所以请为我保密。", "据我了解，这种情况已经持续了{ldur}。", "周围不少人都知道，只是不愿意出面。",
               "我手里有相关的材料，可以配合调查。"]
REPORT_MORE_PLACE = ["这种情况一般在{time}左右最明显。", "相关的车牌号是{plate}。", "具体位置在{lm}附近。",
                     "周围不少人都看见了，只是不愿意出面。"]
SUGGEST_MORE = ["这样既方便了群众，也能减少矛盾。", "花钱不多，却能解决大问题。", "相信这样做会得到大家的支持。",
                "这件事如果能办成，附近几千户居民都会受益。", "我知道这需要协调很多部门，但确实值得做。"]
CONSULT_MORE = ["再问一下，有没有可以电话咨询的地方？", "如果不归你们管，麻烦告诉我该找哪里。",
                "另外，这个事具体归哪个部门管？", "希望能给一个明确的答复，别让我们再跑冤枉路。"]
DEMAND_LEAD = ["我们的诉求很简单：", "我们只有一个要求：", "恳请领导督促相关部门：", "我的诉求是："]
CONSULT_LEAD = ["想咨询以下几个问题：", "想请教几个问题：", "有几个问题想问一下：", "请帮忙解答："]
SUGGEST_LEAD = ["为此提出以下建议：", "我有几点建议：", "建议如下：", "我想提个建议："]
NUMERALS = ["一、", "二、", "三、"]
NUMERALS2 = ["1.", "2.", "3."]
LETTER_ENDS = ["以上情况，恳请领导重视。", "盼复为谢！", "此致\n敬礼！", "望早日答复。", "谢谢！", "麻烦了，期待回复。",
               "感谢百忙之中阅读此信。", "恳请领导在百忙之中关注一下。", "期待您的回复。", "谢谢领导！"]
SIGNS = ["{xq}一业主", "{name}先生", "{name}女士", "一位{place}的市民", "{name}某某\n{date}", "联系电话：{phone}",
         "", "", "", "一名普通市民", "{xq}居民"]

ORGS = {
    "城乡建设": ["物业", "居委会", "街道", "住建委", "城管", "开发商"],
    "环境保护": ["物业", "居委会", "街道", "城管", "环保局", "派出所"],
    "交通运输": ["交警", "公交公司", "交通委", "客服", "街道", "平台客服"],
    "教育文体": ["学校", "班主任", "教委", "街道", "客服", "居委会"],
    "劳动和社会保障": ["公司人事", "劳动监察大队", "人社局", "仲裁委", "社保中心", "街道"],
    "商贸旅游": ["商家", "平台客服", "市场监管所", "消协", "12315", "街道"],
    "卫生计生": ["医院医务处", "科室主任", "卫健委", "医保局", "社区卫生服务中心", "院办"],
    "公共安全": ["物业", "居委会", "派出所", "消防", "街道", "城管"],
    "民政": ["居委会", "街道", "民政局", "残联", "社区"],
    "农业农村": ["村委会", "镇政府", "农业农村局", "村支书", "乡里"],
    "政务服务": ["窗口", "派出所", "街道", "政务服务中心", "客服"],
}

# --- spoken style ----------------------------------------------------------------------------
PHONE_OPEN = ["喂 你好", "喂 是12345吧", "哎你好 我想跟你们说个事儿", "喂 那个", "你好你好", "喂喂 能听见吗", "啊 你好",
              "喂 您好 我想反映个情况", "喂 是热线吧", "你好 我这有个事儿"]
PHONE_INTRO = ["我是那个{place}的", "我住{xq}", "我们这是{xq}啊", "我是{xq}{bld}的", "我是{place}那边的", "我家在{xq}",
               "我姓{name}", ""]
FILLERS = ["那个", "就是", "然后", "嗯", "对", "就是说", "你知道吧", "怎么说呢", "反正就是", "这个", "哎", "然后呢"]
PHONE_CLOSE = ["就这个事儿", "你们给看看吧", "好 谢谢啊", "就这么个情况", "麻烦你们了啊", "你给记一下", "行 那我等你们电话",
               "就这事 谢谢", "你看看能不能给弄一下", "对 就这个", "好嘞 谢谢"]

SHORT_TAIL = {
    "p": ["没人管吗", "太气人了", "到底管不管", "烦死了", "谁来管管", "有没有人管啊", "无语了", "服了", "太过分了"],
    "c": ["找谁啊", "咋办", "归谁管", "该找哪个部门", "问一下", "有啥规定不", "这个找哪", "咋处理啊"],
    "h": ["求帮忙", "急", "咋整啊 求助", "谁能帮帮俺", "求助求助", "快来人看看吧", "帮帮忙吧", "急急急"],
}
SHORT_PRE = ["", "", "", "你好 ", "您好 ", "问下 ", "那个 ", "喂 ", "12345 "]

# --- noise ---------------------------------------------------------------------------------------
TYPOS = [("已经", "以经"), ("投诉", "投拆"), ("反映", "反应"), ("在", "再"), ("再", "在"), ("的", "得"), ("得", "的"),
         ("部门", "部们"), ("做", "作"), ("账", "帐"), ("现在", "现再"), ("一直", "一只"), ("按时", "安时"),
         ("希望", "希忘"), ("麻烦", "麻繁"), ("其他", "其它"), ("辛苦", "幸苦"), ("那", "哪"), ("地", "的"),
         ("么", "嘛"), ("吗", "嘛"), ("账户", "帐户"), ("物业", "物叶"), ("报修", "保修")]
LATIN = [("物业", "wy"), ("微信", "vx"), ("谢谢", "thx"), ("手机上", "手机app上"), ("好的", "ok"), ("电话", "tel"),
         ("谢谢", "3q"), ("朋友圈", "pyq")]
TRAD = dict(zip("这个们说时门区号楼车费电问题为么没还东发过后里业务关处办请谢对话经钱头单应该实现点开让给总觉进认报价网联气热难长",
                "這個們說時門區號樓車費電問題為麼沒還東發過後裡業務關處辦請謝對話經錢頭單應該實現點開讓給總覺進認報價網聯氣熱難長"))
COLLOQ = [("什么", "啥", 0.6), ("怎么", "咋", 0.55), ("我们", "咱们", 0.15), ("我们", "俺们", 0.1), ("我", "俺", 0.08),
          ("没有", "没", 0.3), ("这样", "这样子", 0.1), ("非常", "老", 0.2), ("一下", "一下子", 0.05)]

CN = "零一二三四五六七八九"


def _cn_int(n: int) -> str:
    """Reading of an integer below 100000 (三百五十, 一万二千)."""
    if n == 0:
        return "零"
    units = ["", "十", "百", "千", "万"]
    s, zero = "", False
    digits = list(map(int, str(n)))
    for i, d in enumerate(digits):
        pos = len(digits) - 1 - i
        if d == 0:
            zero = True
            continue
        if zero and s:
            s += "零"
        zero = False
        s += CN[d] + units[pos]
    if s.startswith("一十"):
        s = s[1:]
    return s.replace("二千", "两千").replace("二万", "两万").replace("二百", "两百") if len(s) > 1 else s


def spoken_numbers(text: str) -> str:
    """Digits to Chinese as a call-taker types what was said: 1502 -> 一五零二, 300元 -> 三百块."""
    def money(m):
        n = int(m.group(1))
        return _cn_int(n) + m.group(2) + "块" if n < 100000 else m.group(0)

    text = re.sub(r"(\d+)(多?)(元|块)", money, text)
    text = re.sub(r"(\d+)(多?)(?=万)", lambda m: _cn_int(int(m.group(1))) + m.group(2), text)
    text = re.sub(r"(\d+)%", lambda m: "百分之" + _cn_int(int(m.group(1))), text)
    text = re.sub(r"(\d{4})年", lambda m: "".join(CN[int(c)] for c in m.group(1)) + "年", text)

    def other(m):
        s = m.group(0)
        if len(s) >= 3:
            return "".join(CN[int(c)] for c in s).replace("一", "幺") if len(s) >= 7 else "".join(CN[int(c)] for c in s)
        return _cn_int(int(s))
    return re.sub(r"\d+", other, text)


def colloquial(text: str, rng, strength=1.0) -> str:
    for a, b, p in COLLOQ:
        if a in text and rng.random() < p * strength:
            text = text.replace(a, b, 1 if rng.random() < 0.5 else -1)
    return text


def strip_punct(text: str, rng, keep_some=True, space=0.45) -> str:
    """Drop most punctuation, as people do in chat; sometimes keep a question mark."""
    out = []
    for ch in text:
        if ch in "，。、；：":
            r = rng.random()
            out.append(" " if r < space else ("" if r < 0.85 or not keep_some else ch))
        elif ch in "！？" and rng.random() < 0.6:
            out.append("" if rng.random() < 0.5 else ch)
        else:
            out.append(ch)
    return re.sub(r"\s+", " ", "".join(out)).strip()


def add_typos(text: str, rng, n=1) -> str:
    cands = [(a, b) for a, b in TYPOS if a in text and a != b]
    rng.shuffle(cands)
    for a, b in cands[:n]:
        idx = [m.start() for m in re.finditer(re.escape(a), text)]
        if not idx:
            continue
        i = rng.choice(idx)
        text = text[:i] + b + text[i + len(a):]
    return text


def add_latin(text: str, rng) -> str:
    cands = [(a, b) for a, b in LATIN if a in text]
    if not cands:
        return text
    a, b = rng.choice(cands)
    return text.replace(a, b, 1)


try:  # OpenCC is a dependency of the project; the small table is the fallback
    import opencc
    _S2T = opencc.OpenCC("s2t")
except Exception:  # pragma: no cover
    _S2T = None


def traditional(text: str, rng) -> str:
    """The whole message in traditional characters, as typed on a HK/TW/Macau keyboard."""
    if _S2T is not None:
        return _S2T.convert(text)
    return "".join(TRAD.get(c, c) for c in text)


def spoken(text: str, rng) -> str:
    """Make a written sentence sound like a transcribed call: fillers, repeats, no punctuation."""
    parts = [p for p in re.split(r"[，。！？；：、,.!?]+", text) if p.strip()]
    out = []
    for p in parts:
        p = p.strip()
        if rng.random() < 0.35:
            out.append(rng.choice(FILLERS))
        out.append(p)
        if len(p) >= 4 and rng.random() < 0.15:  # repeat the last word or two, as people do
            words = [w for w in jieba.lcut(p, HMM=False) if w.strip()]
            if len(words) >= 2:
                out.append("".join(words[-rng.choice([1, 2]):]))
        if rng.random() < 0.08:
            out.append(rng.choice(["对吧", "是吧", "你说是不是", "啊", "真是的"]))
    return " ".join(out)
