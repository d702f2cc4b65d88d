/*
 * Beijing 12345 hotline - agent desktop: the ticket's history in words an agent reads.
 *
 * Each history event's detail becomes readable pairs (historyDetail): known keys and values are
 * translated (labels.js), corrections show "旧 → 新", the bot's reasons and emergency signals are
 * put in Chinese, nested values become "甲、乙" or "键：值；键：值" (never JSON), and a value the
 * desk has no words for is shown as it is, muted. historyItem renders one timeline entry; fmtValue
 * is also used for the detail's links and disposition.
 */
import * as Staff from '/static/common/staff.js';
import { dash, h, isBlank, toMs } from '/static/common/staff.js';
import {
  AUDIO_CLOSE_LABELS, CALL_STATE_LABELS, CASE_STATUS_LABELS, DECISION_LABELS, DETAIL_CHANNEL_LABELS,
  DETAIL_HIDDEN, DETAIL_KEY_LABELS, DIVERT_LABELS, ENGINE_LABELS, EVENT_LABELS, FALLBACK_LABELS, FILLED_FIELD_LABELS,
  GAP_EVENTS, GAP_KEY_LABELS, HANGUP_CAUSE_LABELS, HOW_LABELS, KIND_LABELS, LEG_LABELS, LEGAL_ROUTE_LABELS,
  LOCATION_FIELD_LABELS, PARTNER_STATUS_LABELS, PREFILL_FIELD_LABELS, REASON_PATTERNS, SIGNAL_LABELS,
  SIGNAL_NOTE_LABELS, SPEECH_REASON_LABELS, TRANSFER_TYPE_LABELS, URGENCY_LABELS, VIDEO_END_LABELS,
  actorText, errorText, hopLabel, labelled, partnerName, targetLabel
} from './labels.js';
import { fmtPhone, fmtSeconds, pct, timeEl } from './format.js';
import { ticketLink } from './parts.js';

export function fmtValue(v) {
  if (isBlank(v)) return '';
  if (typeof v === 'boolean') return v ? '是' : '否';
  if (typeof v === 'object') return plainValue(v);
  return String(v);
}

function kindOrPending(k) { return isBlank(k) ? '待分类' : (KIND_LABELS[k] || null); }

// "待分类 → 投诉"; an unknown value is shown raw and muted.
function change(fromLabel, fromRaw, toLabel, toRaw, emptyText) {
  function side(label, raw) {
    if (label) return label;
    if (isBlank(raw)) return h('span', { class: 'muted' }, emptyText || '（空）');
    return labelled(null, raw);
  }
  return [side(fromLabel, fromRaw), h('span', { class: 'arrow', 'aria-label': '改为' }, ' → '), side(toLabel, toRaw)];
}

function detailItem(label, value, raw) {
  return h('span', { class: 'tl-kv' + (raw ? ' tl-kv--raw' : '') }, h('span', { class: 'tl-k' }, label + '：'), value);
}

// The `corrected` event records {kind: {from, to}, location: {from: {...}, to: {...}}}.
function correctedItems(d) {
  var items = [];
  if (d.kind && typeof d.kind === 'object') {
    items.push(detailItem('诉求类型', change(kindOrPending(d.kind.from), d.kind.from,
      kindOrPending(d.kind.to), d.kind.to)));
  }
  if (d.location && typeof d.location === 'object') {
    var from = d.location.from || {}, to = d.location.to || {};
    Object.keys(LOCATION_FIELD_LABELS).forEach(function (f) {
      var a = isBlank(from[f]) ? '' : String(from[f]);
      var b = isBlank(to[f]) ? '' : String(to[f]);
      if (a === b) return;
      items.push(detailItem(LOCATION_FIELD_LABELS[f], change(a || null, null, b || null, null, '未填写')));
    });
  }
  // {dispatch: {confirmed: true}} or {dispatch: {from: {category, unit}, to: {category, unit}}}
  if (d.dispatch && typeof d.dispatch === 'object') {
    if (d.dispatch.confirmed) items.push(detailItem('分类与承办单位', '坐席确认智能推荐'));
    if (d.dispatch.to && typeof d.dispatch.to === 'object') {
      var was = d.dispatch.from || {}, now = d.dispatch.to;
      [['category', '二级分类', '未分类'], ['unit', '承办单位', '未指定']].forEach(function (f) {
        var a = isBlank(was[f[0]]) ? '' : String(was[f[0]]);
        var b = isBlank(now[f[0]]) ? '' : String(now[f[0]]);
        if (a !== b) items.push(detailItem(f[1], change(a || null, null, b || null, null, f[2])));
      });
    }
  }
  return items;
}

// A handling unit {name, type, confidence} in one line: "朝阳区望京街道办事处（街道乡镇，置信度 82%）".
function unitText(u) {
  if (isBlank(u)) return '—';
  if (typeof u !== 'object') return String(u);
  var extra = [u.type, pct(u.confidence) ? '置信度 ' + pct(u.confidence) : ''].filter(function (x) { return !isBlank(x); });
  return dash(u.name) + (extra.length ? '（' + extra.join('，') + '）' : '');
}

// Who set the dispatch block: triage's proposal, or an agent who confirmed or corrected it.
function dispatchByText(by) {
  if (isBlank(by) || by === 'bot') return '智能推荐';
  return actorText(by) || String(by);
}

// A dispatch block in a history detail (triage's record, or what it filled in) in one line.
function dispatchText(d) {
  if (d.confirmed) return '坐席确认智能推荐';
  var parts = [];
  var topic = [d.category_l1, d.category].filter(function (x) { return !isBlank(x); }).join('／');
  if (topic) parts.push(topic);
  if (!isBlank(d.unit)) parts.push('承办单位：' + unitText(d.unit));
  if (Array.isArray(d.alternatives) && d.alternatives.length) parts.push('备选：' + d.alternatives.map(unitText).join('、'));
  if (!isBlank(d.partner)) parts.push('建议转外省市：' + partnerName(d.partner));
  if (!isBlank(d.by) && d.by !== 'bot') parts.push('设定人：' + dispatchByText(d.by));
  return parts.join('，') || '—';
}

function reasonText(r) {
  if (isBlank(r)) return '';
  r = String(r);
  var m = /^(\w+) \(([\s\S]*)\): embedded engine decided$/.exec(r);
  if (m) return '改由内置引擎研判（' + (FALLBACK_LABELS[m[1]] || 'Rasa 未能研判') + '）';
  for (var i = 0; i < REASON_PATTERNS.length; i++) {
    if (REASON_PATTERNS[i][0].test(r)) return r.replace(REASON_PATTERNS[i][0], REASON_PATTERNS[i][1]);
  }
  m = /^(\w+) cue$/.exec(r);
  if (m && KIND_LABELS[m[1]]) return '识别为' + KIND_LABELS[m[1]] + '类诉求';
  // The request's kind (triage/decision.py): "complaint (classifier 0.69)", "help (self-labelled)".
  m = /^(\w+) \((classifier|self-labelled)(?: ([\d.]+))?\)$/.exec(r);
  if (m && KIND_LABELS[m[1]]) {
    if (m[2] === 'self-labelled') return '市民自述为' + KIND_LABELS[m[1]];
    return '识别为' + KIND_LABELS[m[1]] + '类诉求' + (m[3] ? '（分类模型置信度 ' + pct(Number(m[3])) + '）' : '');
  }
  m = /^possible emergency: ([\s\S]*)$/.exec(r);
  if (m) return emergencyReason(m[1], '可能是紧急情况');
  m = /^legal-channel request \((\w+)\) “(.*)”$/.exec(r);
  if (m) return '属于法定途径办理事项“' + m[2] + '”' + (LEGAL_ROUTE_LABELS[m[1]] ? '（' + LEGAL_ROUTE_LABELS[m[1]] + '）' : '');
  var emergency = emergencyReason(r);
  if (emergency !== r) return emergency;
  return errorText(r);
}

// "fire “着火了” → 119 (unsure: a weak signal)" -> 识别到紧急情况“着火了”（火情），应转 119 火警；尚不确定：迹象较弱
function emergencyReason(r, lead) {
  var m = /^(.+?) “(.*)” → (\d+)(?: \((unsure: )?(.*?)(, but now)?\))?$/.exec(r);
  if (!m || !SIGNAL_LABELS[m[1]]) return r;
  var notes = (m[5] || '').split(', ').filter(Boolean).map(function (n) { return SIGNAL_NOTE_LABELS[n] || n; }).join('、');
  var text = (lead || '识别到紧急情况') + '“' + m[2] + '”（' + SIGNAL_LABELS[m[1]] + '），应转 ' + (DIVERT_LABELS[m[3]] || m[3]);
  if (notes && m[4]) text += '；尚不确定：' + notes;
  else if (notes) text += '；虽然' + notes + '，但情况正在发生';
  return text;
}

function locationText(v) {
  if (!v || typeof v !== 'object') return isBlank(v) ? '' : String(v);
  var parts = [v.district, v.street, v.text].filter(function (x) { return !isBlank(x); }).map(String);
  return parts.length ? parts.join(' ') : '—';
}

// A nested value (list or object) as readable text: "甲、乙" / "键：值；键：值". Never JSON.
function plainValue(v, k, ev) {
  if (isBlank(v)) return '—';
  if (Array.isArray(v)) {
    return v.map(function (x) { return plainValue(x, k, ev); }).join('、') || '—';
  }
  if (typeof v === 'object') {
    if (k === 'location') return locationText(v);
    if ((k === 'unit' || k === 'alternatives') && !isBlank(v.name)) return unitText(v);
    if (k === 'dispatch' && v.from === undefined && v.to === undefined) return dispatchText(v);
    return Object.keys(v).filter(function (kk) {
      return !DETAIL_HIDDEN[kk] && !isBlank(v[kk]) && !(typeof v[kk] === 'object' && !Object.keys(v[kk]).length);
    }).map(function (kk) {
      return detailKeyLabel(kk) + '：' + plainValue(v[kk], kk, ev);
    }).join('；') || '—';
  }
  var label = valueLabel(k, v, ev);
  return label === null ? String(v) : label;
}

function detailKeyLabel(k) {
  if (DETAIL_KEY_LABELS[k]) return DETAIL_KEY_LABELS[k];
  return String(k).replace(/_/g, ' ');
}

// The Chinese for a scalar detail value, or null when it is shown as it is.
function valueLabel(k, v, ev) {
  if (typeof v === 'boolean') return v ? '是' : '否';
  if (GAP_EVENTS[ev] && (k === 'from' || k === 'to')) return '第 ' + fmtSeconds(v);
  switch (k) {
    case 'decision': return DECISION_LABELS[v] || null;
    case 'type':
      if (ev === 'call_transferred') return TRANSFER_TYPE_LABELS[v] || null;
      return DECISION_LABELS[v] || null;
    case 'hop': return hopLabel(v);
    case 'target': return targetLabel(v);
    case 'channel': return ev === 'received' || DETAIL_CHANNEL_LABELS[v] ? (DETAIL_CHANNEL_LABELS[v] || null) : null;
    case 'kind': return isBlank(v) ? '待分类' : (KIND_LABELS[v] || null);
    case 'urgency': return URGENCY_LABELS[v] || null;
    case 'reason':
      if (ev === 'video_ended') return VIDEO_END_LABELS[v] || null;
      if (ev === 'audio_interrupted') return AUDIO_CLOSE_LABELS[v] || null;
      if (GAP_EVENTS[ev]) return SPEECH_REASON_LABELS[v] || null;
      return errorText(v);
    case 'reasons': return reasonText(v);
    case 'partner': case 'origin': return partnerName(v);
    case 'status':
      if (ev === 'case_status') return CASE_STATUS_LABELS[v] || null;
      return ev === 'partner_status' ? (PARTNER_STATUS_LABELS[v] || null) : (PARTNER_STATUS_LABELS[v] || '').replace('对方', '') || null;
    case 'engine': return ENGINE_LABELS[v] || null;
    case 'fallback': return FALLBACK_LABELS[v] || null;
    case 'guard': return v === 'emergency' ? '命中紧急情况用语，直接研判' : null;
    case 'how': return HOW_LABELS[v] || null;
    case 'state': return CALL_STATE_LABELS[v] || null;
    case 'leg': return LEG_LABELS[v] || null;
    case 'fields': case 'field': return PREFILL_FIELD_LABELS[v] || null;
    case 'seconds': case 'talk_seconds': case 'hold_time': case 'seconds_received': return fmtSeconds(v);
    case 'position': return '第 ' + v + ' 位';
    case 'cause': return HANGUP_CAUSE_LABELS[String(v)] || null;
    case 'chat_messages': return v + ' 条';
    case 'confidence': return typeof v === 'number' ? Math.round(v * 100) + '%' : null;
    case 'rasa_ms': return v + ' 毫秒';
    case 'version': return '第 ' + v + ' 版';
    case 'line': return DIVERT_LABELS[v] || null;
    case 'phone': case 'callback_phone': return fmtPhone(v);
    case 'due_at': return toMs(v) ? Staff.formatTime(v, 'short') : null;
    case 'error': return errorText(v);
    case 'by': return v === 'bot' ? '智能推荐' : (actorText(v) || null);
    case 'category': case 'category_l1': case 'unit': case 'name': case 'model': return String(v);
    case 'filled': return FILLED_FIELD_LABELS[v] || null;
    default: return null;
  }
}

function detailValue(k, v, ev) {
  if (k === 'case_id' || k === 'entry_id' || k === 'partner_ticket_id') return h('span', { class: 'mono' }, String(v));
  if (k === 'related' && typeof v === 'string') return ticketLink(v);
  if ((k === 'due_at' || k === 'at') && typeof v === 'string' && toMs(v)) return timeEl(v);
  if (v && typeof v === 'object') return plainValue(v, k, ev);
  var label = valueLabel(k, v, ev);
  if (label !== null && label !== '') return label;
  // A value the desk has no words for: shown as it is, muted.
  return labelled(null, v);
}

export function historyDetail(e) {
  var d = e.detail;
  if (!d || typeof d !== 'object' || Array.isArray(d)) return [];
  var items = [];
  var handled = {};
  if (e.event === 'corrected') {
    items = correctedItems(d);
    handled.kind = handled.location = handled.dispatch = true;
  }
  // A hangup cause with a label: its English name (cause_text) adds nothing.
  if (!isBlank(d.cause) && HANGUP_CAUSE_LABELS[String(d.cause)]) handled.cause_text = true;
  else if (!isBlank(d.cause_text)) handled.cause = true;
  Object.keys(d).forEach(function (k) {
    if (handled[k] || DETAIL_HIDDEN[k]) return;
    var v = d[k];
    if (isBlank(v) || (typeof v === 'object' && !Object.keys(v).length)) return;
    if (v && typeof v === 'object' && !Array.isArray(v) && v.from !== undefined && v.to !== undefined) {
      items.push(detailItem(detailKeyLabel(k), change(plainValue(v.from, k, e.event), v.from, plainValue(v.to, k, e.event), v.to)));
      return;
    }
    var label = e.event === 'call_ended' && k === 'seconds' ? '排队等候'
      : GAP_EVENTS[e.event] && GAP_KEY_LABELS[k] ? GAP_KEY_LABELS[k] : detailKeyLabel(k);
    items.push(detailItem(label, detailValue(k, v, e.event), !DETAIL_KEY_LABELS[k] && !(GAP_EVENTS[e.event] && GAP_KEY_LABELS[k])));
  });
  return items;
}

// One entry of the ticket's history timeline: time, event, actor and the readable details.
export function historyItem(e) {
  var items = historyDetail(e);
  var known = !!EVENT_LABELS[e.event];
  var actor = actorText(e.actor);
  return h('li', { class: 'tl-item ev-' + String(e.event || '').replace(/[^a-z0-9_-]/gi, ''), 'data-event': e.event || '' },
    timeEl(e.at, 'tl-at'),
    known ? h('span', { class: 'tl-event' }, EVENT_LABELS[e.event])
      : h('span', { class: 'tl-event tl-event--unknown', title: '未识别的事件：' + dash(e.event) }, '其他处理记录'),
    actor ? h('span', { class: 'tl-actor' }, actor)
      : (isBlank(e.actor) ? null : h('span', { class: 'tl-actor raw' }, String(e.actor))),
    items.length ? h('span', { class: 'tl-detail' }, items) : null);
}
