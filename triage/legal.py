"""Does the citizen ask for a legal channel (a court, a petition, arbitration, administrative
review, enforcement of a judgment)?

A pure function, `legal_channel(text)`, returns a `LegalChannel` (route, cue, the reply that
points to the right channel) or None.

It fires only when the citizen
* asks how to sue, appeal, petition, arbitrate or seek review ("劳动仲裁怎么申请", "判决不服怎么上诉"),
* says the matter is already there ("已经起诉了", "法院已经立案", "判决下来了对方不执行"), or
* states a plan to use the channel in a message that is about that plan ("我想申请劳动仲裁").

A court or petition office named in an address or a story (市人民法院对面的路灯坏了, 我在法院上班,
信访办门口的垃圾), an angry threat inside a complaint (再吵我就起诉他们), news and hearsay are not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from knowledge_base.text import normalise_head

__all__ = ["LegalChannel", "Route", "legal_channel", "REPLIES"]

MAX_TEXT = 2000

Route = Literal["litigation", "petition", "arbitration", "review", "enforcement"]


@dataclass(frozen=True)
class LegalChannel:
    route: Route
    cue: str  # the words that decided it (normalised text)
    reply: str  # what the citizen is told


# The first three are bot/lexicon.py's LEGAL_PATTERNS replies, unchanged.
REPLIES: dict[str, str] = {
    "litigation": "涉及诉讼的事项请通过人民法院、检察机关依法处理，可拨打 12368 诉讼服务热线咨询。",
    "petition": "信访事项请通过信访渠道依法提出，可向北京市信访办或所在区信访部门反映（网上信访：北京市人民政府网站“信访”栏目）。",
    "enforcement": "已进入仲裁或判决执行程序的事项请通过仲裁委员会或人民法院依法处理，对方拒不履行的可依法申请强制执行。",
    "arbitration": ("劳动争议可以向用人单位所在地或劳动合同履行地的区劳动人事争议仲裁委员会申请仲裁，申请时效一般为一年"
                    "（自知道或者应当知道权利被侵害之日起计算），可拨打 12333 咨询。已在仲裁程序中的事项请通过仲裁委员会依法处理。"),
    "arbitration_civil": "约定了仲裁条款的合同纠纷可以向约定的仲裁委员会申请仲裁。已在仲裁程序中的事项请通过仲裁委员会依法处理，对方不履行裁决的可依法申请人民法院强制执行。",
    "review": ("对行政机关的行政行为（如行政处罚、行政决定）不服的，可以自知道该行为之日起六十日内依法申请行政复议，"
               "也可以依法向人民法院提起行政诉讼。已在复议程序中的事项请通过行政复议机构依法处理。"),
}

P = r"[,，。.!！?？;；:：、\n~～…]"
NP = r"[^,，。.!！?？;；:：、\n~～…]"
SENTENCE_END = re.compile(r"[。.!！?？;；\n]+")
CLAUSE_END = re.compile(P + "+")
BLANK = "□"

BODIES = r"(?:(?:最高|高级|中级|基层|市|区|县|人民|知识产权|互联网|金融|铁路|海淀|朝阳|东城|西城|丰台|石景山|通州|顺义|昌平|大兴|房山|门头沟|怀柔|平谷|密云|延庆|第[一二三四]中级)*(?:人民)?(?:法院|法庭|检察院)|信访(?:办|局|接待中心|接待室|大厅|办公室)|(?:劳动人事争议|劳动争议|劳动)?仲裁(?:委员会|委|院))"


def _alt(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p.replace('{NP}', NP).replace('{P}', P).replace('{BODIES}', BODIES)})" for p in patterns))


# A court, petition office or arbitration body used as a place or an employer: not a legal matter.
PLACE_MENTIONS = _alt([
    r"{BODIES}(的)?(对面|旁边|门口|附近|后面|前面|楼下|周边|周围|路口|东侧|西侧|南侧|北侧|东边|西边|南边|北边|外面|院内|院里|大门|停车场|食堂|家属院|宿舍|那条路|路段|红绿灯|斜对面|隔壁|边上|西门|东门|南门|北门|一带|那边)",
    r"(法院|检察院|信访|仲裁)(路|街|胡同|小区|站|公交站|地铁站|东路|西路|南路|北路|大街|家属楼)",
    r"在{NP}{0,6}(法院|检察院|信访办|信访局|仲裁委|仲裁院)(上班|工作|当|任职)", r"(法院|检察院|仲裁委)的?(工作人员|职工|法官家属)",
    r"(去|到|路过|经过){BODIES}(的路上|时|办事的时候|的时候)",
])
# Not asking: they do not want to go to court.
NOT_WANTED = _alt([
    r"(不想|不愿意?|不打算|不准备|不敢|没钱|没精力|没时间|懒得|没必要|不值得|打不起)(去)?(打官司|起诉|上访|信访|仲裁|诉讼|走法律程序|告)",
    r"(打官司|起诉|仲裁|诉讼)(太|很|又|费|耗)(贵|麻烦|慢|费时|费钱|时间|钱)",
])
# Told as news or hearsay.
META = _alt([r"新闻", r"报道", r"听说", r"据说", r"电视(上|里)", r"网上(看到|说)", r"电视剧", r"电影", r"小说"])

# A question (in the clause of the legal cue, or a bare follow-up question in the next clause).
ASKS = _alt([
    r"怎么(?!了|回事|搞的|可能)", r"如何", r"怎样", r"咋", r"哪(里|儿|个|些|家)", r"去哪", r"吗", r"么[?？]?$", r"[?？]", r"流程", r"材料", r"条件", r"时效", r"期限", r"费用",
    r"需要(什么|哪些|多少|多久|多长|准备|带|提供|交|请)", r"多少钱", r"多久", r"多长时间", r"能不能", r"可不可以", r"可以{NP}{0,10}(吗|么)", r"是否", r"能否",
    r"找谁", r"咨询", r"请问", r"渠道", r"途径", r"程序", r"手续", r"要不要", r"有没有用", r"管用", r"步骤", r"收费", r"标准", r"还能{NP}{0,8}(吗|么)",
    r"(我|应|该)该(怎|如何|找|去|向)", r"应该(怎|如何|找|去|向)", r"行不行", r"(?<![凭为])什么", r"进度",
])
# A follow-up question about something else ("能不能申请分期"): not bound to the previous clause.
OTHER_ACTION = _alt([r"申请(?!(劳动)?仲裁|复议|执行|再审|强制)", r"办理", r"提取", r"补办", r"迁", r"转学", r"报销", r"分期", r"退", r"换", r"修", r"缴", r"领"])
# A plan stated as such, just before the cue ("我想申请劳动仲裁", "准备起诉").
PLAN_BEFORE = re.compile(r"(想|要|准备|打算|计划|考虑|决定|需要|申请)(要)?(去)?(向)?" + NP + r"{0,6}?(申请|提起|提出|走)?$")
# An angry threat or reported speech ("再不修我就起诉", "银行说要起诉我"), or 12345 asked instead.
THREAT = _alt([
    r"不然", r"否则", r"再不", r"大不了", r"(我|我们)?就(去)?(要)?(起诉|告|上访|信访|仲裁|打官司)", r"告到", r"等着(收)?(传票|吃官司)", r"非(要|得)",
    r"一定(要)?(起诉|告|上访)", r"必须(要)?(起诉|告|上访)", r"说要", r"扬言", r"威胁", r"(还是|先)(希望|想|请)", r"商量",
])


@dataclass(frozen=True)
class _Route:
    route: Route
    cue: re.Pattern[str]  # the procedure named (asked about, planned or already under way)
    already: re.Pattern[str]  # the matter is already in this channel
    weak_cue: re.Pattern[str] | None = None  # a cue that counts only when the sentence also says `needs`
    needs: re.Pattern[str] | None = None


ROUTES: list[_Route] = [
    # Enforcement first: a judgment or award exists and the other side does not comply.
    _Route("enforcement", _alt([r"强制执行", r"申请(法院)?执行", r"执行(局|庭|法官|案件|案子|立案)", r"老赖"]), _alt([
        r"(判决|裁决|调解书|判了|裁定|仲裁结果|法院判|生效)(书)?{NP}{0,20}({P}{NP}{0,16})?(不执行|拒不|不履行|不给|不还|不付|不支付|不赔|赖账|赖着|执行不了|执行难|没执行|未执行|没有执行|迟迟不|不按|一直不|还是不|也不|就是不|不理|没给|没付|没还|没赔|没支付|没有给|未给|未付|拿不到|要不到|没拿到)",
        r"(法院|执行法官|执行局|判决|裁决){NP}{0,12}({P}{NP}{0,12})?(执行不到|执行不了|执行不下来|执行不到位|执行难|不执行|一直不执行|终结执行|终本)",
        r"(强制)?执行{NP}{0,4}申请了", r"执行{NP}{0,8}(还)?(没|没有)(执行到|拿到|到位|结果)", r"执行不到", r"(法院)?执行{NP}{0,6}(没进展|没结果|没动静|没下文|一直拖|拖着)", r"(申请了|已经申请)(强制)?执行",
        r"拒不(履行|执行)(判决|裁决|调解)",
    ])),
    _Route("arbitration", _alt([r"(劳动|人事|劳动人事)?(争议)?仲裁", r"仲裁(委|院|委员会)"]), _alt([
        r"已经{NP}{0,4}(申请|提起|提交|去)?(了)?{NP}{0,4}仲裁", r"仲裁(委|委员会|院)?{NP}{0,8}(已经)?(立案|受理|开庭|审理|裁决|调解)",
        r"仲裁(中|阶段|正在|还在|结果|裁决|期间)", r"仲裁{NP}{0,6}(开过庭|还没(审|结|判|裁|出)|没(审|结)完)", r"(正在|在|还在)(打)?(劳动)?仲裁", r"申请了{NP}{0,4}仲裁",
    ])),
    _Route("review", _alt([r"行政复议", r"复议", r"不服{NP}{0,12}(处罚|决定|罚款|罚单|处理决定|行政行为|认定)",
                           r"(处罚|决定|罚款|罚单|处理决定|认定|罚了){NP}{0,12}({P}{NP}{0,4})?不服"]), _alt([
        r"已经{NP}{0,4}(申请|提起|提交)?(了)?{NP}{0,4}复议", r"复议(决定|结果)?{NP}{0,4}(已经)?(受理|立案|下来|出来)", r"(正在|还在)复议", r"申请了{NP}{0,4}复议",
    ]), weak_cue=re.compile(r"不服"), needs=re.compile(r"罚|处罚|决定|行政|认定|执法")),
    _Route("litigation", _alt([
        r"起诉", r"上诉", r"诉讼", r"打官司", r"官司", r"应诉", r"传票", r"再审", r"(去|到|向|上)法院(告|起诉|立案)", r"告(他|她|他们|对方|开发商|公司|物业|老板|医院|单位)",
        r"(法院|立案庭)(立案|受理)", r"抗诉", r"自诉", r"支付令", r"(向|去|到)法院(申请|起诉|立案|告)", r"(财产|诉前)保全", r"立案庭",
    ]), _alt([
        r"已经{NP}{0,6}(起诉|上诉|开庭|打官司|在诉讼|提起诉讼|判了|判决|申请再审|递交诉状)", r"法院{NP}{0,4}已经{NP}{0,2}立案", r"已经{NP}{0,4}在法院立案",
        r"(法院|案子|案件)(已经|现在|正在|还在|也)?(立案|受理|开庭|审理|判决了|判了|在审|调解|审理中)", r"(?<![要想会说])起诉(了)?(我|我们)",
        r"判决(书)?{NP}{0,2}(已经)?(下来|出来|生效)了?", r"正在(打官司|诉讼|审理|上诉)", r"(一审|二审|再审)(中|阶段|判决|已经|还没|结束)", r"收到(了)?{NP}{0,6}传票",
        r"被{NP}{0,6}(起诉|告上法院|告到法院)(了)?", r"案子(还)?在法院", r"等(待)?(判决|开庭)", r"(官司|诉讼)(还)?在(打|进行)",
        r"(官司|案子|案件)(还)?在(审理|审|检察院|法院)", r"移送(检察院|法院|起诉)", r"审查起诉", r"(判决|裁定|判)(书)?{NP}{0,4}不服", r"不服{NP}{0,6}(判决|裁定|一审|二审)",
    ]), weak_cue=re.compile(r"申诉"), needs=re.compile(r"法院|判决|裁定|再审|检察院|案子|案件|诉讼")),  # not 健康宝/信用/考试申诉
    _Route("petition", _alt([r"信访", r"上访", r"访民"]), _alt([
        r"已经{NP}{0,4}(信访|上访)", r"信访(件|事项)?{NP}{0,4}(已经)?(受理|立案|答复|办理|转办|告知)", r"信访(答复|处理意见|意见|事项)(书)?{NP}{0,6}(不满意|不服|有异议)",
        r"(信访|上访)(过|了)(好几次|多次|很多次|几次|\d+次|一次|两次|三次)?", r"信访{NP}{0,20}({P}{NP}{0,12})?(申请|要求)?(复查|复核)",
        r"(去|到|找|向){NP}{0,4}(信访办|信访局|信访部门|信访){NP}{0,4}(反映|投诉|上访|去)?过", r"信访{NP}{0,8}(不认可|不满|不服|不满意|有异议)",
        r"信访(件|事项)?{NP}{0,4}(没回复|没答复|没结果|没下文|没人管|一直没)",
    ])),
]

# Grievance words: a plan to sue stated inside a complaint is a threat more often than a request.
GRIEVANCE = _alt([
    r"吵", r"噪音", r"扰民", r"投诉", r"举报", r"漏水", r"不管", r"不修", r"乱", r"占", r"违建", r"脏", r"臭", r"油烟", r"太过分", r"欺负",
    r"气人", r"恶心", r"凭什么", r"不讲理",
])


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: BLANK * len(m.group(0)), text)


def _sentences(text: str) -> list[str]:
    out, start = [], 0
    for m in SENTENCE_END.finditer(text):
        out.append(text[start:m.end()])
        start = m.end()
    if start < len(text):
        out.append(text[start:])
    return out


def _clauses(sentence: str) -> list[str]:
    out, start = [], 0
    for m in CLAUSE_END.finditer(sentence):
        out.append(sentence[start:m.end()])
        start = m.end()
    if start < len(sentence):
        out.append(sentence[start:])
    return out


def _reply(route: Route, text: str) -> str:
    if route == "arbitration" and not re.search(r"劳动|人事|工资|社保|辞退|开除|加班|用人单位|单位|公司|老板|工伤|员工|入职|离职|合同工|劳务", text):
        if re.search(r"合同|仲裁委员会|仲裁条款|商事|买卖|租赁", text):
            return REPLIES["arbitration_civil"]
    return REPLIES[route]


def _cues(clause: str, sentence: str) -> list[tuple[int, _Route, re.Match[str]]]:
    """The procedures named in a clause, in order."""
    found = []
    for route in ROUTES:
        found += [(m.start(), route, m) for m in route.cue.finditer(clause)]
        if route.weak_cue is not None and route.needs is not None and route.needs.search(sentence):
            found += [(m.start(), route, m) for m in route.weak_cue.finditer(clause)]
    return sorted(found, key=lambda f: f[0])


def legal_channel(text: str) -> LegalChannel | None:
    """The legal channel this message asks for, or None (a mention, a threat or nothing legal)."""
    clean = normalise_head(text, MAX_TEXT)
    if not clean:
        return None
    masked = _blank(_blank(clean, PLACE_MENTIONS), NOT_WANTED)
    grievance = bool(GRIEVANCE.search(masked))
    for sentence in _sentences(masked):
        if META.search(sentence):
            continue
        clauses = _clauses(sentence)
        # 1. A question about a procedure: the cue in the question's clause, or a bare follow-up
        #    question ("需要准备什么材料") about the cue of the clause before.
        for i, clause in enumerate(clauses):
            if not ASKS.search(clause):
                continue
            cues = _cues(clause, sentence)
            bound = clause
            if not cues and i > 0 and not OTHER_ACTION.search(clause):
                bound = clauses[i - 1]
                cues = _cues(bound, sentence)
            if not cues:
                continue
            _, route, m = cues[-1]  # the procedure named last, nearest the question
            threat = THREAT.search(bound)
            if threat and not (bound is clause and ASKS.search(clause[m.end():])):
                continue
            return LegalChannel(route.route, m.group(0), _reply(route.route, clean))
        # 2. The matter is already in a legal channel (enforcement first).
        for route in ROUTES:
            if (already := route.already.search(sentence)) is not None:
                return LegalChannel(route.route, already.group(0), _reply(route.route, clean))
        # 3. A plan stated as such, in a message about that plan.
        for clause in clauses:
            if THREAT.search(clause):
                continue
            for _, route, m in _cues(clause, sentence):
                if PLAN_BEFORE.search(clause[: m.start()]) and not grievance:
                    return LegalChannel(route.route, m.group(0), _reply(route.route, clean))
    return None
