/*
 * Beijing 12345 hotline - agent desktop: the words the desk shows for machine values.
 *
 * The label tables (channels, kinds, statuses, history events and their details, delivery hops and
 * targets, dispositions, the bot's reasons, emergency signals, ...) and the small functions that
 * pick a label (channelLabel, kindLabel, statusLabel, hopLabel, partnerName, targetLabel,
 * actorText, errorText, attKind) or show a raw value muted when there is none (labelled).
 * tests/server/test_desk_language.py reads EVENT_LABELS from this file's text.
 */
import * as Staff from '/static/common/staff.js';
import { h, isBlank } from '/static/common/staff.js';
import { AgentDesk } from './desk.js';

export const CHANNEL_LABELS = {
  phone: '电话',
  wechat: '微信',
  web: '网站',
  video: '视频',
  partner: '外省市转入'
};
export const KIND_LABELS = Staff.KIND_LABELS;
export const STATUS_LABELS = {
  received: '已受理',
  forwarded: '已转派',
  answered: '已答复',
  transferred: '已转外省市',
  diverted: '已分流',
  closed: '已办结',
  abandoned: '已撤回',
  merged: '已并案'
};

export const URGENCY_LABELS = Staff.URGENCY_LABELS;
export const WHO_LABELS = {
  citizen: '市民', requester: '市民', caller: '来电人', agent: '坐席',
  system: '系统', partner: '外省市', bot: '智能助手', supervisor: '值班长'
};
export const LEG_LABELS = { caller: '来电人', citizen: '市民', agent: '坐席', bot: '智能助手', ivr: '语音导航' };
// Message.source
export const SOURCE_LABELS = {
  form: '网上表单', typed: '文字', asr: '语音识别', 'wechat-recognition': '微信语音识别', note: '坐席备注'
};

// History (HistoryEvent.event / actor / detail).
// Every event name the Python code records must have a label here: tests/server/test_desk_language.py
// reads this table from this file (`var EVENT_LABELS = {` up to the first line `  };`) and fails for
// an event without one; hence the function around it.
function eventLabels() {
  var EVENT_LABELS = {
    // intake, router, outbox, desk
    received: '诉求已受理', routed: '分派决定', bot_assessed: '机器人研判（补全信息）',
    held_for_transfer: '诉求发生地不在北京，待坐席转外省市',
    delivered: '投递成功', dead_lettered: '投递失败，已转入死信', redriven: '重新投递',
    // the case system's progress (or a supervisor on the local inbox)
    case_status: '派单系统回告办理状态', notice_queued: '办结告知市民',
    forward_requested: '坐席转派', note_added: '添加备注', corrected: '更正信息',
    // 回访 and duplicates
    followup_answered: '回访：市民评价', held_as_duplicate: '疑似重复，暂缓转派待坐席确认',
    merged: '合并至相同诉求的工单', duplicate_attached: '相同诉求的工单并入本工单', related_queued: '告知派单系统：工单合并',
    // portal chat, WeChat
    message: '市民留言', bot_decided: '机器人研判', form_filed: '市民提交表单',
    location_shared: '市民发送位置', attachment_added: '市民添加附件', filed: '市民完成登记',
    cancelled: '市民取消登记', reply_queued: '改用客服消息答复',
    contact_left: '市民留下联系电话，咨询转为诉求', draft_expired: '登记未完成，草稿已过期',
    // 京津冀一键互转
    transfer_requested: '转外省市', partner_status: '对方回告', partner_status_set: '向转出方回告',
    consent_recorded: '记录市民口头同意',
    // phone
    call_connected: '来电接通', call_transferred: '来电已转接', call_abandoned_in_queue: '来电在排队时挂断',
    call_transfer_requested: '电话转接外省市', call_resynced: '通话状态已恢复', call_ended: '通话结束',
    transcription_unavailable: '语音转写不可用', audio_interrupted: '通话音频中断', prefilled: '据通话转写自动填写',
    transcription_limited: '转写容量不足，该侧未转写', transcription_interrupted: '语音转写中断（转写节点失联）',
    transcription_resumed: '语音转写已在其他节点恢复',
    prefill_confirmed: '坐席确认自动填写内容', kb_answer_inserted: '插入知识库答复',
    // sign-language video
    callback_requested: '市民申请回访', video_accepted: '手语坐席接听视频', video_filed: '视频诉求已登记',
    video_ended: '视频通话结束'
  };
  return EVENT_LABELS;
}
export const EVENT_LABELS = eventLabels();
export const ACTOR_LABELS = {
  system: '系统', citizen: '市民', router: '自动分派', outbox: '投递服务', bot: '智能助手',
  phone: '电话系统', asr: '语音识别', wechat: '微信公众号', video: '视频服务'
};
export const DECISION_LABELS = {
  forward: '转派承办单位', answer: '智能答复', transfer: '转外省市', divert: '分流',
  agent: '转人工处理', human: '转人工处理', abandon: '撤回',
  clarify: '请市民补充说明', emergency: '紧急情况，转应急热线', legal_channel: '告知法定途径', handoff: '转人工处理'
};
// History detail values for `channel`: where the request came in.
export const DETAIL_CHANNEL_LABELS = { web: '网站', phone: '电话', wechat: '微信', video: '视频', partner: '外省市' };
export const DETAIL_KEY_LABELS = {
  decision: '决定', type: '研判结果', hop: '环节', reason: '原因', target: '接收方', case_id: '案件编号',
  status_code: '对方返回状态码', channel: '渠道', kind: '诉求类型', urgency: '紧急程度', location: '地点',
  due_at: '办理时限', phone: '电话', line: '应急热线', reply: '答复内容', reasons: '研判依据',
  confidence: '匹配度', options: '候选条目', entry_id: '知识条目', version: '版本', title: '条目标题',
  engine: '研判方式', fallback: '改用内置研判的原因', guard: '紧急情况检查', rasa_ms: 'Rasa 用时',
  update_id: '回告编号', at: '发生时间', note: '说明',
  bot: '机器人研判', partner: '对方热线', partner_name: '对方热线', agent_name: '经办坐席',
  live_call: '来电同时转接', route: '转接号码', status: '办理状态', result: '办理结果', origin: '转出方',
  partner_ticket_id: '对方工单号', partner_agent: '对方经办人', callback_phone: '回访电话',
  seconds: '时长', talk_seconds: '通话时长', hold_time: '等候时长', position: '排队位置',
  recording: '录像', chat_messages: '文字消息', agent: '坐席', user: '坐席', previous: '原坐席', how: '接通方式',
  state: '通话状态', leg: '通话方', error: '错误', fields: '自动填写项', field: '确认项', segment: '转写片段',
  cause: '挂断原因', cause_text: '挂断原因', related: '关联工单', queue: '队列',
  by_channel: '转接发起线路', context: '转接目录', exten: '转接号码', external: '外部转接',
  target_channel: '转接目标线路', target_number: '转接目标号码', dest_type: '转接方式',
  seconds_received: '已收到音频', detail: '技术说明', from: '原值', to: '新值',
  // 分类与承办单位 (ticket.dispatch) and what triage filled in
  dispatch: '分类与承办单位', category_l1: '一级分类', category: '二级分类', unit: '承办单位',
  alternatives: '备选承办单位', name: '名称', by: '设定人', model: '分类模型', confirmed: '坐席确认',
  crisis: '自伤自杀风险', filled: '自动补全项', phone_left: '留下联系电话'
};
// Detail keys not worth showing (repeated elsewhere or purely technical).
export const DETAIL_HIDDEN = { label: 1, partner_name: 1, reply: 1, options: 1, channel_id: 1 };
// Hangup causes (Q.850 codes as Asterisk reports them); cause_text is its English name.
export const HANGUP_CAUSE_LABELS = {
  '0': '未知原因', '1': '号码不存在', '16': '正常挂断', '17': '用户忙', '18': '无人响应', '19': '无人接听',
  '21': '呼叫被拒绝', '27': '线路故障', '31': '正常挂断', '34': '线路忙', '38': '网络故障', '127': '网络互通错误'
};
// Why a leg was not transcribed, or lost its speech node (channels/phone/service.py).
export const SPEECH_REASON_LABELS = {
  full: '转写容量已满', no_node: '暂无可用的转写服务', node_lost: '转写节点失联', node_stopped: '转写节点停止服务',
  leader_lost: '电话接入服务切换'
};
// The keys of a transcription gap's history events: times on the call's clock.
export const GAP_KEY_LABELS = { from: '中断于通话', to: '恢复于通话', seconds: '未转写时长', node: '转写节点', lost_node: '失联的转写节点', free: '剩余转写容量' };
export const GAP_EVENTS = { transcription_interrupted: 1, transcription_resumed: 1, transcription_limited: 1 };
// Why a call's audio stream ended early (channels/phone/audiosocket.py CloseReason).
export const AUDIO_CLOSE_LABELS = {
  truncated: '音频数据不完整', reset: '连接被重置', idle: '长时间未收到音频', protocol_error: '音频协议错误',
  peer_error: '电话系统报告错误', shutdown: '服务重启'
};
export const LOCATION_FIELD_LABELS = {
  district: '所在区', street: '街道（乡镇）', text: '详细地址', latitude: '纬度', longitude: '经度'
};
export const ENGINE_LABELS = { embedded: '内置研判引擎', rasa: 'Rasa 研判' };
export const FALLBACK_LABELS = {
  rasa_timeout: 'Rasa 响应超时', rasa_down: 'Rasa 服务不可用', rasa_unavailable: 'Rasa 暂不可用', rasa_error: 'Rasa 返回错误'
};
export const HOW_LABELS = { queue: '排队接入', dial: '直接拨入', transfer: '转接', attended_transfer: '咨询后转接', resync: '重连后恢复' };
export const TRANSFER_TYPE_LABELS = { blind: '直接转接', attended: '咨询后转接' };
export const CALL_STATE_LABELS = { ringing: '振铃中', queued: '排队中', connected: '通话中', ended: '已结束' };
export const PREFILL_FIELD_LABELS = { kind: '诉求类型', location: '地点', callback_phone: '回拨电话', district: '所在区', street: '街道（乡镇）' };
// What triage filled in on a ticket (history detail `filled`).
export const FILLED_FIELD_LABELS = {
  kind: '诉求类型', urgency: '紧急程度', due_at: '办理时限', location: '地点', dispatch: '分类与承办单位',
  phone: '电话', callback_phone: '回拨电话'
};
export const VIDEO_END_LABELS = {
  citizen: '市民结束通话', agent: '坐席结束通话', citizen_left: '市民离开页面', disconnected: '视频连接中断',
  agent_disconnected: '坐席视频连接中断', media_timeout: '长时间未收到视频画面', max_duration: '达到最长通话时长',
  callback: '改为登记回访'
};
// The bot's reasons (bot/decision.py, bot/engine.py, bot/rasa/decisions.py) in words an agent reads.
export const REASON_PATTERNS = [
  [/^emergency cue “(.*)”$/, '识别到紧急情况用语“$1”'],
  [/^asked for a person “(.*)”$/, '市民要求人工服务“$1”'],
  [/^legal-channel cue “(.*)”$/, '属于法定途径办理事项“$1”'],
  [/^chose an offered option$/, '市民选择了推荐的条目'],
  [/^small talk$/, '寒暄'],
  [/^out of scope$/, '超出热线服务范围'],
  [/^empty text$/, '内容为空'],
  [/^no knowledge-base answer$/, '知识库中没有对应答复'],
  [/^a problem told at length, no knowledge-base answer$/, '市民详细描述了问题，知识库中没有对应答复'],
  [/^too vague to decide$/, '描述过于笼统，需要补充'],
  [/^tie or bare topic: bm25 ([\d.]+) \/ ([\d.]+)$/, '多个条目同样相关，需要市民选择（匹配分 $1 / $2）'],
  [/^bm25 ([\d.]+), coverage ([\d.]+)$/, '知识库匹配（匹配分 $1，覆盖率 $2）'],
  [/^time mentioned “(.*)”$/, '提到时间“$1”'],
  [/^phone entity is not a valid number$/, '识别出的电话号码无效'],
  [/^entry not served by the current knowledge base$/, '该条目当前未发布'],
  [/^rasa intent (\S+) \(([\d.]+)\)$/, 'Rasa 识别意图 $1（置信度 $2）'],
  [/^best entry \S+ does not speak of “(.*)”$/, '最相关的知识条目没有提到“$1”'],
  [/^chat forward$/, '在线咨询转为诉求']
];
// Emergency signals (triage/emergency.py): "fire “着火了” → 119 (unsure: a weak signal)".
export const SIGNAL_LABELS = {
  'self-harm act': '自伤行为', 'threat to jump': '扬言跳楼', 'suicidal ideation': '轻生念头', fire: '火情', smoke: '冒烟',
  explosion: '爆炸', 'gas leak': '燃气泄漏', 'smell of burning': '焦糊味', violence: '暴力侵害', 'possible violence': '疑似暴力侵害',
  'person at height': '有人身处高处险境', 'missing person': '有人走失', 'missing person, told in steps': '有人走失',
  'child not home': '孩子未归', 'welfare check': '有人可能遇险', 'in the water': '有人落水', 'traffic accident': '交通事故',
  'traffic accident, named': '交通事故', trapped: '有人被困', 'heart or breathing': '心脏或呼吸急症', collapse: '有人晕倒',
  seizure: '抽搐发作', stroke: '疑似中风', 'heavy bleeding': '大量出血', 'bleeding or injury': '出血或受伤', fall: '摔倒受伤',
  'fall, minor': '摔倒', 'poisoning or swallowed': '中毒或误食', 'food poisoning complaint': '食物中毒', 'baby coming': '临产',
  'ambulance needed': '需要救护车'
};
export const SIGNAL_NOTE_LABELS = {
  'told as past': '讲的是过去的事', habitual: '经常发生', 'aftermath or claim': '事后追责或索赔', 'news, hearsay or a drill': '新闻、传闻或演练',
  'a question about a service': '咨询相关服务', 'a weak signal': '迹象较弱', 'also asks the government for something': '同时提出了诉求',
  'also asks about a service': '同时咨询相关服务', 'asks what to do': '询问如何处理'
};
// Legal channels (triage/legal.py routes).
export const LEGAL_ROUTE_LABELS = { litigation: '诉讼', petition: '信访', arbitration: '仲裁', review: '行政复议', enforcement: '申请强制执行' };

// Outbox hops and delivery targets
export const HOP_LABELS = { case: '派单系统' };
export const TARGET_LABELS = {
  'case-system': '12345派单系统', 'local-inbox': '本地收件箱', 'partner-hotline': '外省市热线', 'partner-status': '外省市热线',
  'wechat-customer-service': '微信客服消息', 'wechat-notice': '微信办结告知'
};
export const PARTNER_STATUS_LABELS = { received: '对方已接收', accepted: '对方已受理', in_progress: '对方办理中', resolved: '对方已办结' };
// The case system's status of a forwarded ticket (Ticket.case.status).
export const CASE_STATUS_LABELS = { accepted: '承办单位已受理', in_progress: '办理中', postponed: '延期办理', closed: '已办结' };

// Disposition
export const DISPOSITION_LABELS = {
  answered: '已答复', forwarded: '已转派承办单位', transferred: '已转外省市',
  diverted: '已分流', abandoned: '已撤回', merged: '已并案'
};
export const DISPOSITION_FIELDS = ['at', 'into', 'by', 'target', 'case_id', 'kb_entry_id', 'kb_version', 'partner', 'receipt', 'partner_status', 'result',
  'status_at', 'transfer_id', 'to', 'reason'];
export const DISPOSITION_FIELD_LABELS = {
  at: '时间', target: '接收方', case_id: '案件编号', kb_entry_id: '知识条目', kb_version: '版本', into: '并入工单', by: '操作人',
  partner: '对方热线', receipt: '对方工单号', to: '分流去向', reason: '原因',
  partner_status: '对方办理状态', result: '办理结果', status_at: '状态更新', transfer_id: '转办编号'
};
export const DIVERT_LABELS = { '110': '110 报警服务台', '119': '119 火警', '120': '120 急救', '122': '122 交通事故报警' };

export const OUTCOME_LABELS = { delivered: '成功', retry: '待重试', dead_letter: '失败（死信）' };
export const OUTCOME_GOOD = { delivered: 1 };
export const OUTCOME_BAD = { dead_letter: 1 };

export const LINK_LABELS = { duplicates: '疑似重复', repeat_caller: '重复来电', related: '相关工单' };

export function channelLabel(c) { return CHANNEL_LABELS[c] || (c ? String(c) : '—'); }
export function kindLabel(k, fallback) { return KIND_LABELS[k] || fallback || (k ? String(k) : '待分类'); }
export function statusLabel(s, fallback) { return STATUS_LABELS[s] || fallback || (s ? String(s) : '—'); }
export function hopLabel(hop) {
  if (HOP_LABELS[hop]) return HOP_LABELS[hop];
  var m = /^partner:(.+)$/.exec(hop || '');
  if (m) return '转外省市：' + partnerName(m[1]);
  m = /^partner-status:(.+)$/.exec(hop || '');
  if (m) return '回告转出方：' + (PARTNER_STATUS_LABELS[m[1]] || m[1]).replace('对方', '');
  if (/^wx-reply:notice:/.test(hop || '')) return '微信客服消息（暂存的办结告知）';
  if (/^wx-reply(:|$)/.test(hop || '')) return '微信客服消息答复';
  if (/^notice-[a-z]+:closed$/.test(hop || '')) return '办结告知市民';
  return null;
}
// Directory names, filled by the partner panel once the partner list is loaded.
export function partnerName(id) { return AgentDesk.partnerNames[id] || String(id); }
export function targetLabel(t) { return TARGET_LABELS[t] || null; }

// A translated value, or the raw machine value in a muted style when there is no translation.
export function labelled(label, raw, cls) {
  if (label) return h('span', { class: cls || null }, label);
  if (isBlank(raw)) return h('span', { class: cls || null }, '—');
  return h('span', { class: 'raw' + (cls ? ' ' + cls : ''), title: '未识别的值' }, String(raw));
}

export function actorText(a) {
  if (isBlank(a)) return '';
  a = String(a);
  if (ACTOR_LABELS[a]) return ACTOR_LABELS[a];
  if (a.indexOf('agent:') === 0 && a.length > 6) return '坐席 ' + a.slice(6);
  if (a.indexOf('partner:') === 0 && a.length > 8) return partnerName(a.slice(8));
  return null;
}

// Delivery errors come from the outbox or the remote system: translate the known ones.
export function errorText(e) {
  if (isBlank(e)) return '';
  e = String(e);
  var m = /^retry horizon exceeded; last error: ([\s\S]*)$/.exec(e);
  if (m) return '超过重试时限，最后一次错误：' + (errorText(m[1]) || '未知');
  if (e === 'timeout') return '请求超时';
  if (e === 'ticket missing') return '工单不存在';
  if (e === '2xx without case_id') return '对方已接收但未返回案件编号';
  if (e === 'None') return '未知错误';
  if ((m = /^HTTP (\d{3})$/.exec(e))) return '对方返回 HTTP ' + m[1];
  if ((m = /^(Client\w*Error|Server\w*Error|\w*Connection\w*Error|ClientOSError)\b:?\s*([\s\S]*)$/.exec(e))) {
    return '网络连接失败' + (m[2] ? '（' + m[2] + '）' : '');
  }
  return e;
}

export function attKind(k) {
  return { image: '图片', video: '视频', audio: '录音', recording: '录音', document: '文档' }[k] || String(k);
}
