"""Cue words the decision engine looks for, as data. Emergencies come first and are matched
generously: a false alarm costs a sentence, a missed fire costs lives."""
from __future__ import annotations

import re

# What each emergency line is for, as the citizen is told (the cues are in triage/emergency.py).
EMERGENCY_WHAT: dict[str, str] = {"119": "火警、燃气泄漏等险情", "120": "急救", "110": "治安警情", "122": "交通事故"}
EMERGENCY_REPLY = "这可能是紧急情况，请立即拨打 {line}（{what}）。12345 不受理紧急警情，已为您记录。"
# Not sure it is happening now: the numbers first, and the request is still taken, urgently.
POSSIBLE_EMERGENCY_REPLY = ("如果情况紧急、正在发生，请立即拨打 {line}（{what}）。"
                            "您反映的问题我们已按紧急诉求登记，将尽快转交相关部门处理。请留下联系电话和具体地点。")
CRISIS_REPLY = ("我们很关心您的安全。如果您或身边的人有生命危险，请立即拨打 110 或 120；"
                "也可以拨打心理援助热线 12356（24小时）。{person}")
CRISIS_PERSON = {"web": "请留下您的电话，工作人员会马上联系您；您也可以直接拨打 12345。",
                 "other": "正在为您转接工作人员，请不要离开。"}
PARTNER_REPLY = ("您反映的问题发生在北京市以外，属于{hotline}受理范围。我们将为您转交该热线办理（京津冀12345一键互转），"
                 "请留下联系电话，方便当地工作人员联系您。")
KIND_LABELS = {"consultation": "咨询", "help": "求助", "complaint": "投诉", "report": "举报", "suggestion": "建议"}

HANDOFF_PATTERNS = [r"转人工", r"人工(服务|客服|坐席|接线|来)", r"(找|要|接|让)(个)?(真人|人工|客服|工作人员|接线员)", r"^人工$", r"不要机器人",
                    r"真人", r"活人", r"接线员", r"跟人说话"]

CHITCHAT_PATTERNS = [
    r"^(你好|您好|hi|hello|哈喽|在吗|在不在|有人吗|早上好|晚上好|下午好)[!！。.?？~]*$",
    r"^(谢谢|多谢|感谢|好的|好|嗯|哦|知道了|明白了|再见|拜拜|ok)[!！。.~]*$",
    r"(讲个笑话|唱首歌|你是谁|你叫什么|你是机器人吗|你几岁|陪我聊|聊会儿?天|无聊|哈哈|呵呵|嘻嘻)",
    r"^(好的|好|嗯|哦)?(谢谢|多谢|感谢)(你|您)?(啦|了|哈)?[!！。.~]*$",
    r"^(我)?(要|想)(反映|咨询|问|说)(个|一个|一下|点)?(问题|事|事情|情况)?[。!！~]*$", r"^(有个事|问个事|咨询|在不在|我有问题)[。!！?？~]*$",
]

# Things a city hotline does not do: answered with a friendly clarifying question, not a ticket.
OUT_OF_SCOPE_PATTERNS = [
    r"(下不下雨|会不会下雨|天气(怎么样|如何|预报))", r"(订|买).{0,6}(火车票|机票|车票)", r"翻译", r"写.{0,10}(诗|作文|作业|文章)", r"作业",
    r"股票|基金涨|彩票", r"(推荐|附近).{0,8}(好吃|饭馆|餐厅|酒店)", r"^\s*[0-9+\-*/=×÷ ]+(等于几|=\s*\?)?\s*$", r"等于几", r"星期几|几号了|几点了",
]

# A question about how to do something (怎么投诉) is a consultation, not a complaint.
# A consultation names something to do or to know: without any of these a short message is too vague.
CONSULTATION_CUES = [r"办理?", r"申请", r"手续", r"材料", r"条件", r"流程", r"标准", r"政策", r"规定", r"补贴", r"费", r"证", r"报销", r"提取", r"报名", r"税",
                     r"怎么|如何|哪里|哪儿|哪个|哪些|哪几|哪天|几月|多少|多久|是否|能否|可以|能不能|吗|什么时候|何时|找谁|咋办"]

QUESTION_CUES = [r"想(要)?(办|把|申请|咨询|了解|知道|问|查)", r"应该", r"该(怎|注意|找|向)", r"啥", r"干嘛", r"有没有", r"怎样", r"会怎", r"怎么", r"如何", r"哪里", r"哪儿", r"哪个", r"哪些", r"哪几", r"哪(一)?天", r"几(号|月)", r"什么", r"多少", r"找谁", r"咋", r"合理吗", r"能不能", r"会不会", r"要不要", r"算不算", r"吗[?？]?$", r"是否", r"能否", r"可以.{0,8}吗", r"需要.{0,6}(材料|条件|手续)", r"[?？]$", r"咨询", r"请问", r"多久", r"(?<!好)(?<!这)(?<!那)几天(能|可以|就|才|内)", r"流程", r"条件", r"办理"]

UTILITIES_CUES = [r"停水", r"停电", r"停气", r"没水", r"没电", r"断电", r"断水", r"暖气", r"供暖", r"燃气", r"煤气", r"天然气", r"热水"]



def compile_all(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))
