/*
 * Beijing 12345 hotline - agent desktop: the phone call panel.
 *
 * Screen pop when the agent's phone rings, then the live call: the two-leg transcript
 * (finals in time order, each leg's current partial), the decoding-lag indicator, knowledge-base
 * answers to insert, fields pre-filled from the transcript to confirm or correct, and the end
 * of the call. Backend: channels/phone/ (service.py pushes `call.*` events on the desk socket,
 * routes.py serves GET /agent/calls and the insert / confirm actions).
 *
 * Served at /static/phone/desk.js (styles: desk.css); the desk loads it when
 * GET /api/v1/agent/desk-panels lists it, and it plugs in with AgentDesk.register()
 * (/static/agent/desk.js). Its markup is built here (markup()) and mounted in the desk's slots.
 *
 * All untrusted text is inserted with textContent via h(); innerHTML is never used.
 */
import * as Staff from '/static/common/staff.js';
import { AgentDesk as Desk } from '/static/agent/desk.js';
import { current, dropCall, ensureCall, inAudience, isLiveMine, isMineLive, me, pickCurrent, state, upsert, watchesLive } from './calls-model.js';
import { LEG_LABELS, callerText, clock } from './call-format.js';
import {
  addFinalEl, bindTranscript, mutateTranscript, renderLag, renderPartial, renderPartialEl, renderPartials, renderTranscript, transcriptBox
} from './transcript.js';
import { PREFILL_FIELDS, bindPrefill, renderPrefill, ticketValue } from './prefill.js';
import { bindSuggestions, renderSuggestions } from './suggestions.js';
import { loadFollowups, mountFollowups } from './followups.js';

var $ = Staff.$, h = Staff.h, replaceKids = Staff.replaceKids;
var api = Staff.api, isBlank = Staff.isBlank, toMs = Staff.toMs;

// AudioSocket close reasons (channels/phone/audiosocket.py CloseReason).
var AUDIO_REASONS = {
  truncated: '音频流意外中断', reset: '音频连接被重置', idle: '长时间未收到音频',
  protocol_error: '音频数据格式异常', peer_error: '电话系统报告错误', shutdown: '转写服务正在重启'
};
// Why a leg is not transcribed (channels/phone/nodes.py Admission.outcome).
var LIMIT_REASONS = { full: '转写容量已满', no_node: '暂无可用的转写服务' };
// Q.850 hangup causes as Asterisk reports them.
var CAUSES = {
  1: '空号', 16: '正常挂机', 17: '用户忙', 18: '无人响应', 19: '无人接听', 21: '呼叫被拒绝',
  27: '对方线路故障', 31: '正常挂机', 34: '线路繁忙', 38: '网络故障', 41: '临时故障', 127: '网络互通异常'
};
var CJK = /[\u4e00-\u9fff]/;

// ---------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------

function causeText(ended) {
  var c = ended.cause;
  if (!isBlank(ended.cause_text) && CJK.test(ended.cause_text)) return String(ended.cause_text);
  if (c !== null && c !== undefined && CAUSES[c]) return CAUSES[c];
  return isBlank(ended.cause_text) ? '' : String(ended.cause_text);
}

// ---------------------------------------------------------------------
// Model updates
// ---------------------------------------------------------------------

// The model for an event about a call we may not know yet (desk opened mid-call): a call the event
// brings in is loaded in full, and shown if it is the agent's.
function ensure(msg) {
  return ensureCall(msg, function (c) {
    scheduleLoadCalls();
    fetchTicket(c);
    if (c.mine) focusCall(c);
  });
}

// Forget a call (dismissed: closed by the agent) and redraw: the whole panel if it was shown.
function removeCall(id, dismissed) {
  if (dropCall(id, dismissed)) renderAll(true);
  else renderChrome();
}

function focusCall(c) {
  if (state.currentId === c.linkedid) return;
  state.currentId = c.linkedid;
  renderAll(true);
}

// ---------------------------------------------------------------------
// Events from the desk socket
// ---------------------------------------------------------------------

function onEvent(msg) {
  if (!state.active || !msg) return;
  state.eventCount++;
  dispatch(msg);
  var c = state.calls.get(msg.linkedid || (msg.call && msg.call.linkedid));
  if (c) c.lastEvent = state.eventCount;
}

function dispatch(msg) {
  switch (msg.type) {
    case 'call.ringing': return onRinging(msg);
    case 'call.ring_stopped': return onRingStopped(msg);
    case 'call.connected': return onConnected(msg);
    case 'call.partial': return onPartial(msg);
    case 'call.final': return onFinal(msg);
    case 'call.lag': return onLag(msg);
    case 'call.suggestions': return onSuggestions(msg);
    case 'call.prefill': return onPrefill(msg);
    case 'call.transferred': return onTransferred(msg);
    case 'call.audio_failed':
    case 'call.audio_interrupted': return onAudio(msg);
    case 'call.transcription_limited': return onLimited(msg);
    case 'call.transcription_gap': return onGap(msg);
    case 'call.ended': return onEnded(msg);
  }
}

function onRinging(msg) {
  var forMe = (!!msg.agent && msg.agent === me()) || (!msg.agent && watchesLive(msg.call));
  if (forMe && msg.call) state.dismissed.delete(msg.call.linkedid);
  var c = upsert(msg.call, forMe);
  if (!c) return;
  if (!c.ended) c.state = 'ringing';
  if (forMe) {
    c.ringingMe = true;
    c.ended = null;
    // A ringing phone takes the panel, unless the agent is still talking on another call.
    var cur = current();
    if (!cur || cur === c || !isLiveMine(cur)) {
      state.currentId = c.linkedid;
      renderAll(true);
    } else {
      renderChrome();
    }
    var earlier = Array.isArray(c.live.earlier) ? c.live.earlier.length : 0;
    announce('来电：' + callerText(c.live) + (c.live.caller_name ? '，' + c.live.caller_name : '') +
      (earlier ? '，该号码近期来电 ' + earlier + ' 次' : ''));
    if (!c.ticket) fetchTicket(c);
  } else {
    renderIfCurrent(c);
  }
}

function onRingStopped(msg) {
  if (!inAudience(msg)) return; // another agent's phone stopped ringing
  var c = state.calls.get(msg.linkedid);
  if (!c) return;
  c.ringingMe = false;
  if (c.live.agent === me() && c.state === 'connected') { renderIfCurrent(c); return; }
  if (c.ended) { renderIfCurrent(c); return; }
  // Taken by another agent, or the caller gave up: close the pop.
  removeCall(c.linkedid);
}

function onConnected(msg) {
  var c = state.calls.get(msg.linkedid || (msg.call && msg.call.linkedid));
  var wasMyCall = !!(c && c.live.agent === me());
  var wasRinging = !!(c && c.ringingMe);
  c = upsert(msg.call, false);
  if (!c) return;
  c.state = 'connected';
  c.ringingMe = false;
  c.ended = null;
  if (!c.connectedAt) c.connectedAt = Date.now();
  var agent = c.live.agent;
  if ((agent && agent === me()) || watchesLive(c.live)) {
    c.mine = true;
    c.transferred = false;
    state.currentId = c.linkedid;
    renderAll(true);
    fetchTicket(c);
    // Put the call's ticket in the detail pane, unless the agent is editing another one.
    if (Desk.selectedId() !== c.ticketId && !Desk.editing()) Desk.openTicket(c.ticketId, { focus: false });
  } else if (wasMyCall) {
    // Transferred on to a colleague: keep what we have, let the agent close it.
    c.transferred = true;
    c.notes.push({ kind: 'warn', text: '通话已转接给' + (agent ? '坐席 ' + agent : '其他坐席') + '，您已不在该通话中' });
    renderIfCurrent(c);
  } else if (wasRinging) {
    // Answered by someone else: gone from an agent's desk; a supervisor keeps watching it.
    if (!Staff.hasRole('supervisor')) { removeCall(c.linkedid); return; }
    c.mine = false;
    renderAll(false);
  } else {
    renderIfCurrent(c);
  }
}

function onPartial(msg) {
  var c = ensure(msg);
  if (!c || c.ended || !LEG_LABELS[msg.leg]) return;
  c.partials[msg.leg] = isBlank(msg.text) ? null : { text: String(msg.text), audio_time: msg.audio_time };
  if (c !== current()) return;
  if ($('call-body').hidden) renderChrome(); // words while it still rings (the caller's leg is heard from the queue on)
  renderPartial(c, msg.leg);
}

function onFinal(msg) {
  var c = ensure(msg);
  if (!c || !msg.segment || typeof msg.index !== 'number') return;
  var leg = msg.leg || msg.segment.leg;
  c.finals.set(msg.index, msg.segment);
  c.partials[leg] = null;
  if (c === current()) {
    if ($('call-body').hidden) renderChrome();
    mutateTranscript(function () {
      addFinalEl(msg.index, msg.segment);
      renderPartialEl(c, leg);
    });
  }
}

function onLag(msg) {
  var c = ensure(msg);
  if (!c) return;
  c.lag[msg.leg || 'caller'] = { behind: !!msg.behind, seconds: Number(msg.seconds) || 0 };
  c.lagFromLive = 0;
  if (c === current()) renderLag(c);
}

function onSuggestions(msg) {
  var c = ensure(msg);
  if (!c) return;
  c.suggestions = Array.isArray(msg.items) ? msg.items : [];
  if (c === current()) renderSuggestions(c);
}

function onPrefill(msg) {
  var c = ensure(msg);
  if (!c || !msg.fields) return;
  Object.keys(msg.fields).forEach(function (f) {
    c.prefill[f] = Object.assign({}, msg.fields[f], { applied: true });
  });
  if (c === current()) renderPrefill(c);
  scheduleFetchTicket(c); // provenance (and who confirmed) lives on the ticket
}

function onTransferred(msg) {
  var c = ensure(msg);
  if (!c) return;
  var d = msg.detail || {};
  var to = d.target_number || d.exten || '';
  var how = d.type === 'attended' ? '咨询后转接' : d.type === 'blind' ? '直接转接' : '转接';
  c.transferred = c.transferred || d.type === 'attended' || d.type === 'blind';
  c.notes.push({ kind: 'warn', text: '通话已' + how + (to ? '至 ' + to : '') + '。' });
  renderIfCurrent(c);
}

function onAudio(msg) {
  var c = ensure(msg);
  if (!c) return;
  var leg = LEG_LABELS[msg.leg] ? msg.leg : 'caller';
  c.audio[leg] = msg.type === 'call.audio_failed'
    ? { type: 'failed', detail: msg.error || '' }
    : { type: 'interrupted', detail: msg.reason || '' };
  c.partials[leg] = null;
  if (c === current()) { renderStatus(c); renderPartial(c, leg); }
}

function onLimited(msg) {
  var c = ensure(msg);
  if (!c || !LEG_LABELS[msg.leg]) return;
  c.limited[msg.leg] = msg.reason || '';
  if (c === current()) renderStatus(c);
}

// The leg's speech node was lost: open while it moves to another node, closed once it has.
function onGap(msg) {
  var c = ensure(msg);
  if (!c || !LEG_LABELS[msg.leg]) return;
  c.gaps[msg.leg] = { state: msg.state, from: msg.from, to: msg.to, seconds: msg.seconds };
  if (msg.state === 'open') c.partials[msg.leg] = null;
  if (c === current()) { renderStatus(c); renderPartial(c, msg.leg); }
}

function onEnded(msg) {
  var c = ensure(msg);
  if (!c) return;
  c.ended = { abandoned: !!msg.abandoned, cause: msg.cause, cause_text: msg.cause_text };
  c.state = 'ended';
  c.ringingMe = false;
  c.partials = {};
  c.lag = {};
  c.lagFromLive = 0;
  if (!c.mine && (c !== current() || $('call-panel').hidden)) { removeCall(c.linkedid); return; } // someone else's call, not on screen
  if (c.mine) announce(endedHeading(c));
  if (c === current()) renderPartials(c);
  renderIfCurrent(c);
  fetchTicket(c); // the last words and the closed ticket
}

// ---------------------------------------------------------------------
// Loading: live calls and the call's ticket
// ---------------------------------------------------------------------

function loadCalls() {
  var seq = ++state.callsSeq;
  var eventsBefore = state.eventCount;
  return api('GET', '/agent/calls').then(function (data) {
    if (seq !== state.callsSeq || !state.active) return;
    showTranscriptionNotice(data && data.phone);
    var seen = new Set();
    ((data && data.calls) || []).forEach(function (live) {
      if (!live || !live.linkedid) return;
      seen.add(live.linkedid);
      var known = state.calls.has(live.linkedid);
      var c = upsert(live, false);
      if (((c.live.agent && c.live.agent === me()) || watchesLive(c.live)) && c.state === 'connected') { c.mine = true; c.ringingMe = false; }
      else if (c.state === 'ringing' && isMineLive(live)) c.ringingMe = true;
      if (!known || !c.ticket) fetchTicket(c);
      else scheduleFetchTicket(c); // catch up on what was said while the socket was down
    });
    // Calls we showed that are no longer live: they ended (or moved on) while we were away.
    state.calls.forEach(function (c, id) {
      // An event newer than the request is fresher than its answer (the pop is pushed before it is stored).
      if (seen.has(id) || c.ended || (c.lastEvent || 0) > eventsBefore) return;
      if (!c.mine) { removeCall(id); return; }
      if (c.state !== 'connected' && !c.transferred) { removeCall(id); return; }
      c.ended = { unknown: true };
      c.state = 'ended';
      c.partials = {};
      c.lag = {};
      c.lagFromLive = 0;
      fetchTicket(c);
    });
    pickCurrent();
    renderAll(false); // the transcript is rebuilt only if another call is now shown: the agent keeps their place
    var c = current();
    if (c) renderPartials(c);
    if (isLiveMine(c) && !Desk.selectedId()) Desk.openTicket(c.ticketId, { focus: false });
  }, function () { /* the panel keeps what it has; the next socket open retries */ });
}

// Without a speech model the gateway still pops calls and files tickets, but transcribes nothing.
function showTranscriptionNotice(phone) {
  var t = phone && phone.transcription;
  var off = typeof t === 'string' && t.indexOf('off') === 0;
  var el = $('asr-off-notice');
  el.hidden = !off;
  el.title = off ? t : '';
}

function scheduleLoadCalls() {
  clearTimeout(state.callsTimer);
  state.callsTimer = setTimeout(loadCalls, 300);
}

function fetchTicket(c) {
  if (!c || !c.ticketId) return Promise.resolve();
  clearTimeout(c.ticketTimer);
  var seq = ++c.ticketSeq;
  return api('GET', '/agent/tickets/' + encodeURIComponent(c.ticketId)).then(function (t) {
    if (seq !== c.ticketSeq || state.calls.get(c.linkedid) !== c) return;
    applyTicket(c, t);
  }, function () { /* shown again on the next event or reload */ });
}

function scheduleFetchTicket(c) {
  clearTimeout(c.ticketTimer);
  c.ticketTimer = setTimeout(function () { fetchTicket(c); }, 400);
}

// A full ticket for the call (from our own fetch, an action's answer, or the detail pane).
function applyTicket(c, t) {
  if (!t || t.id !== c.ticketId) return;
  c.ticket = t;
  var added = [];
  (Array.isArray(t.transcript) ? t.transcript : []).forEach(function (seg, i) {
    if (seg && !c.finals.has(i)) { c.finals.set(i, seg); added.push(i); }
  });
  (Array.isArray(t.history) ? t.history : []).forEach(function (e) {
    if (e && e.event === 'kb_answer_inserted' && e.detail && e.detail.entry_id) c.inserted.add(e.detail.entry_id);
  });
  // The detail pane reloads the ticket after every utterance: redraw the lists only when what
  // they show changed, so a button is not replaced under the agent's pointer.
  var sig = JSON.stringify([
    (Array.isArray(t.provenance) ? t.provenance : []).filter(function (p) { return p && p.by === 'asr'; }),
    PREFILL_FIELDS.map(function (f) { return ticketValue(t, f); }),
    Array.from(c.inserted)
  ]);
  var changed = sig !== c.ticketSig;
  c.ticketSig = sig;
  if (c !== current()) return;
  if (added.length) {
    if ($('call-body').hidden) renderChrome();
    mutateTranscript(function () {
      added.forEach(function (i) { addFinalEl(i, c.finals.get(i)); });
    });
  }
  renderBanner(c);
  if (changed) {
    renderPrefill(c);
    renderSuggestions(c);
  }
}

// A ticket answered by an action on the call's ticket: show it here and in the detail pane.
function took(c, t) {
  if (t && t.id) {
    applyTicket(c, t);
    Desk.showTicket(t);
  }
  if (c === current()) { renderPrefill(c); renderSuggestions(c); }
}

// ---------------------------------------------------------------------
// Rendering: panel chrome
// ---------------------------------------------------------------------

function renderIfCurrent(c) {
  if (c === current()) renderAll(false);
  else renderChrome();
}

// fresh: the shown call changed (rebuild the transcript from scratch).
function renderAll(fresh) {
  pickCurrent();
  var c = current();
  renderChrome();
  if (!c) { state.renderedId = null; return; }
  if (state.renderedId !== c.linkedid) { fresh = true; state.renderedId = c.linkedid; }
  renderBanner(c);
  renderStatus(c);
  renderEarlier(c);
  if (fresh) renderTranscript(c);
  renderLag(c);
  renderPrefill(c);
  renderSuggestions(c);
}

// Panel visibility, workspace layout, the call switcher, the top-bar indicator and the title.
function renderChrome() {
  var c = current();
  var visible = !!c && (c.mine || state.panelOpen);
  var panel = $('call-panel');
  panel.hidden = !visible;
  $('workspace').classList.toggle('has-call', visible);

  var liveCount = 0;
  state.calls.forEach(function (x) { if (!x.ended) liveCount++; });
  var ind = $('calls-indicator');
  ind.hidden = visible || state.calls.size === 0;
  $('calls-indicator-num').textContent = String(liveCount || state.calls.size);
  ind.title = '查看进行中的通话';

  var ringing = false;
  state.calls.forEach(function (x) { if (x.ringingMe && !x.ended) ringing = true; });
  Desk.setTitlePrefix(ringing ? '【来电】' : '');

  var sw = $('call-switch');
  if (state.calls.size > 1 && visible) {
    var items = Array.from(state.calls.values()).sort(function (a, b) {
      return toMs(a.live.started_at) - toMs(b.live.started_at);
    });
    replaceKids(sw, items.map(function (x) {
      return h('button', {
        type: 'button', class: 'call-switch-item s-' + x.state, 'data-linkedid': x.linkedid,
        'aria-pressed': x === c ? 'true' : 'false'
      }, h('span', { class: 'call-switch-state' }, shortState(x)), ' ', callerText(x.live));
    }));
    sw.hidden = false;
  } else {
    sw.replaceChildren();
    sw.hidden = true;
  }
  if (!c) return;
  panel.setAttribute('data-state', c.ended ? 'ended' : c.state);
  // The pop is about who is calling; the live view needs the room for the transcript.
  var body = $('call-body');
  var showBody = c.state === 'connected' || !!c.ended || c.transferred || c.finals.size > 0 || hasPartial(c);
  if (body.hidden === showBody) {
    body.hidden = !showBody;
    if (showBody) { state.follow = true; transcriptBox().scrollTop = transcriptBox().scrollHeight; }
  }
  $('call-earlier').classList.toggle('is-compact', showBody);
  panel.classList.toggle('is-mine', !!c.mine);
  var close = $('call-close');
  var closable = !!c.ended || c.transferred || !c.mine;
  close.hidden = !closable;
  close.textContent = c.ended || c.transferred ? '关闭' : '收起';
  close.setAttribute('aria-label', (c.ended || c.transferred ? '关闭' : '收起') + '通话面板');
  updateElapsed();
}

function hasPartial(c) {
  return Object.keys(c.partials).some(function (leg) { return !!c.partials[leg]; });
}

function shortState(c) {
  if (c.ended) return '已结束';
  return { ringing: '来电', connected: '通话中', queued: '排队中', 'new': '呼入' }[c.state] || '通话';
}

function endedHeading(c) {
  if (c.ended && c.ended.abandoned) return '市民已挂断（排队中放弃）';
  return '通话已结束';
}

function heading(c) {
  var other = c.live.agent && c.live.agent !== me() ? '（坐席 ' + c.live.agent + '）' : '';
  if (c.ended) return endedHeading(c);
  if (c.transferred) return '通话已转出';
  if (c.state === 'ringing') return c.ringingMe ? '来电' : '来电振铃中' + ringingWho(c);
  if (c.state === 'connected') return '通话中' + other;
  if (c.state === 'queued') return '排队等候中';
  return '呼入中';
}

function ringingWho(c) {
  var r = Array.isArray(c.live.ringing) ? c.live.ringing : [];
  return r.length ? '（' + r.join('、') + '）' : '';
}

function renderBanner(c) {
  var live = c.live;
  $('call-heading').textContent = heading(c);
  var num = $('call-number');
  num.textContent = callerText(live);
  num.title = isBlank(live.caller) ? '' : String(live.caller);
  var name = $('call-name');
  name.textContent = live.caller_name || '';
  name.hidden = !live.caller_name;
  var q = $('call-queue');
  q.textContent = live.queue ? '队列 ' + live.queue : '';
  q.hidden = !live.queue;
  var link = $('call-ticket-link');
  link.textContent = c.ticketId || '—';
  link.setAttribute('data-open-ticket', c.ticketId || '');
  link.disabled = !c.ticketId;
  link.title = c.ticketId ? '在右侧打开工单 ' + c.ticketId : '';
  updateElapsed();
}

// "已等候 00:35" while ringing, "通话中 03:12" while connected, the start time once ended.
function updateElapsed() {
  var c = current();
  var el = $('call-elapsed');
  if (!c) { el.textContent = ''; return; }
  var start = toMs(c.live.started_at);
  if (c.ended || c.transferred) {
    replaceKids(el, start ? ['来电于 ', Desk.timeEl(c.live.started_at)] : null);
    return;
  }
  if (!start) { el.textContent = ''; return; }
  var now = Date.now();
  if (c.state === 'connected') {
    el.textContent = c.connectedAt
      ? '通话 ' + clock((now - c.connectedAt) / 1000) + '（来电已 ' + clock((now - start) / 1000) + '）'
      : '来电已 ' + clock((now - start) / 1000);
  } else {
    el.textContent = '已等候 ' + clock((now - start) / 1000);
  }
  el.title = Staff.formatTime(c.live.started_at, 'full');
}

function renderStatus(c) {
  var lines = [];
  if (c.ended) {
    var cause = causeText(c.ended);
    var text = endedHeading(c) + (c.ended.unknown ? '（实时连接中断期间结束）' : '') + (cause ? '，挂机原因：' + cause : '');
    if (c.ended.abandoned) text += '。请按工单回拨市民。';
    lines.push(h('p', { class: 'msg msg--' + (c.ended.abandoned ? 'warn' : 'ok') + ' call-ended' }, text));
  }
  c.notes.forEach(function (n) { lines.push(h('p', { class: 'msg msg--' + n.kind + ' call-note' }, n.text)); });
  Object.keys(LEG_LABELS).forEach(function (leg) {
    var a = c.audio[leg];
    if (!a) return;
    var text = a.type === 'failed'
      ? '该通话的语音转写不可用（' + LEG_LABELS[leg] + '一侧，语音通道未能建立），请手工记录通话要点。'
      : '该通话' + LEG_LABELS[leg] + '一侧的语音转写已中断（' + (AUDIO_REASONS[a.detail] || '原因不明') + '），后续内容请手工记录。';
    lines.push(h('p', { class: 'msg msg--error call-audio', 'data-leg': leg, title: a.detail ? String(a.detail) : null }, text));
  });
  Object.keys(LEG_LABELS).forEach(function (leg) {
    if (c.limited[leg] === undefined) return;
    var why = LIMIT_REASONS[c.limited[leg]] || '转写服务不可用';
    var text = why + '：本通话' + LEG_LABELS[leg] + '一侧未转写' + (leg === 'caller' ? '，请手工记录市民所述要点。' : '。');
    lines.push(h('p', { class: 'msg msg--warn call-limited', 'data-leg': leg }, text));
  });
  Object.keys(LEG_LABELS).forEach(function (leg) {
    var g = c.gaps[leg];
    if (!g) return;
    var at = '自通话 ' + clock(Number(g.from) || 0) + ' 起';
    var text = g.state === 'open'
      ? LEG_LABELS[leg] + '一侧的语音转写暂时中断（' + at + '，转写服务节点失联），正在切换到其他节点……'
      : LEG_LABELS[leg] + '一侧的语音转写已恢复；' + at + '约 ' + Math.max(1, Math.round(Number(g.seconds) || 0)) + ' 秒的内容未能转写，请留意补记。';
    lines.push(h('p', { class: 'msg msg--warn call-gap', 'data-leg': leg, 'data-state': g.state }, text));
  });
  replaceKids($('call-status'), lines);
}

function renderEarlier(c) {
  var list = Array.isArray(c.live.earlier) ? c.live.earlier : [];
  var box = $('call-earlier');
  box.hidden = false;
  box.classList.toggle('is-repeat', list.length > 0);
  $('call-earlier-heading').textContent = list.length ? '该号码近期来电 ' + list.length + ' 次' : '该号码近期无来电记录';
  replaceKids($('call-earlier-list'), list.map(function (t) {
    return h('li', null, h('button', {
      type: 'button', class: 'earlier-item', 'data-open-ticket': t.id, title: '在右侧打开工单 ' + t.id
    },
    h('span', { class: 'earlier-id' }, String(t.id)),
    Desk.timeEl(t.received_at, 'earlier-at'),
    h('span', { class: 'earlier-tags' }, [Desk.channelLabel(t.channel), t.kind_label || Desk.kindLabel(t.kind), t.status_label || Desk.statusLabel(t.status)]
      .filter(Boolean).join(' · ')),
    h('span', { class: 'earlier-summary' }, t.summary || '（无摘要）')));
  }));
}

// ---------------------------------------------------------------------
// Misc
// ---------------------------------------------------------------------

function announce(text) {
  var a = $('call-announcer');
  a.textContent = '';
  setTimeout(function () { a.textContent = text; }, 50);
}

function onClose() {
  var c = current();
  if (!c) return;
  if (c.ended || c.transferred) {
    removeCall(c.linkedid, true);
  } else {
    state.panelOpen = false;
    renderChrome();
  }
  if ($('call-panel').hidden) {
    var ind = $('calls-indicator');
    if (!ind.hidden) ind.focus();
  }
}

function onIndicator() {
  pickCurrent();
  state.panelOpen = true;
  renderAll(true);
  var panel = $('call-heading');
  if (panel) { panel.setAttribute('tabindex', '-1'); panel.focus(); }
}

function onSwitch(ev) {
  var btn = ev.target.closest && ev.target.closest('[data-linkedid]');
  if (!btn) return;
  var c = state.calls.get(btn.getAttribute('data-linkedid'));
  if (c) { state.currentId = c.linkedid; renderAll(true); }
}

// ---------------------------------------------------------------------
// Hooks for agent.js
// ---------------------------------------------------------------------

function enter() {
  state.active = true;
  clearInterval(state.tick);
  state.tick = setInterval(function () { if (!$('call-panel').hidden) updateElapsed(); }, 1000);
  loadCalls();
  loadFollowups();
}

function teardown() {
  state.active = false;
  clearInterval(state.tick);
  clearTimeout(state.callsTimer);
  state.calls.forEach(function (c) { clearTimeout(c.ticketTimer); });
  state.calls.clear();
  state.currentId = null;
  state.panelOpen = false;
  state.callsSeq++;
  state.segEls.clear();
  state.partialEls = {};
  state.renderedId = null;
  state.dismissed.clear();
  transcriptBox().replaceChildren();
  $('call-panel').hidden = true;
  $('workspace').classList.remove('has-call');
  $('calls-indicator').hidden = true;
  $('asr-off-notice').hidden = true;
  $('call-announcer').textContent = '';
  Desk.setTitlePrefix('');
}

function socketOpen() {
  if (state.active) loadCalls();
}

// The detail pane loaded a ticket: if it is a call's, keep the panel in step with it.
function ticketRendered(t) {
  if (!t || !t.id) return;
  state.calls.forEach(function (c) {
    if (c.ticketId === t.id) applyTicket(c, t);
  });
}

// ---------------------------------------------------------------------
// Markup: the calls indicator and the speech-model notice in the top bar, the call panel on top
// of the workspace (hidden while there is no call), the screen-reader announcer.
// ---------------------------------------------------------------------

function markup() {
  Desk.mount('phone', 'topbar', [
    h('button', { id: 'calls-indicator', type: 'button', class: 'calls-indicator', hidden: true, 'aria-controls': 'call-panel' },
      '通话 ', h('span', { id: 'calls-indicator-num' }, '0')),
    // Shown when the gateway runs without a speech model (GET /api/v1/agent/calls, phone.transcription).
    h('span', { id: 'asr-off-notice', class: 'asr-off-notice', role: 'status', hidden: true }, '通话实时转写未启用：语音模型未安装')
  ]);
  // Screen pop, then the live call.
  Desk.mount('phone', 'workspace', h('section', {
    id: 'call-panel', class: 'pane call-panel', 'aria-labelledby': 'call-heading', 'data-state': 'ringing', hidden: true
  },
    h('div', { id: 'call-switch', class: 'call-switch', role: 'group', 'aria-label': '切换通话', hidden: true }),
    h('div', { class: 'call-banner' },
      h('h2', { id: 'call-heading', class: 'call-heading' }, '来电'),
      h('div', { class: 'call-who' },
        h('span', { id: 'call-number', class: 'call-number' }),
        h('span', { id: 'call-name', class: 'call-name' })),
      h('span', { id: 'call-queue', class: 'call-fact' }),
      h('span', { id: 'call-elapsed', class: 'call-fact call-elapsed' }),
      h('span', { class: 'spacer' }),
      h('span', { class: 'call-ticket' }, '工单 ',
        h('button', { id: 'call-ticket-link', type: 'button', class: 'linkish', 'data-open-ticket': '', title: '在右侧打开该工单' })),
      h('button', { id: 'call-close', type: 'button', class: 'btn btn--small', hidden: true }, '关闭')),
    h('div', { id: 'call-status', class: 'call-status', role: 'status', 'aria-live': 'polite' }),
    h('div', { id: 'call-earlier', class: 'call-earlier', hidden: true },
      h('h3', { id: 'call-earlier-heading', class: 'call-earlier-title' }),
      h('ul', { id: 'call-earlier-list', class: 'call-earlier-list', 'aria-labelledby': 'call-earlier-heading' })),
    h('div', { id: 'call-body', class: 'call-body', hidden: true },
      h('section', { class: 'call-main', 'aria-labelledby': 'call-transcript-heading' },
        h('div', { class: 'call-sub-head' },
          h('h3', { id: 'call-transcript-heading', class: 'block-title' }, '实时转写'),
          h('span', { class: 'call-legend', 'aria-hidden': 'true' },
            h('span', { class: 'legend-caller' }, '市民'), h('span', { class: 'legend-agent' }, '坐席')),
          h('span', { id: 'call-lag', class: 'call-lag', role: 'status', hidden: true })),
        h('ol', {
          id: 'call-transcript', class: 'call-transcript', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
          'aria-labelledby': 'call-transcript-heading', tabindex: '0'
        }),
        h('button', { id: 'call-follow', type: 'button', class: 'call-follow', hidden: true }, '回到最新 ↓')),
      h('div', { class: 'call-side' },
        h('section', { class: 'call-block', 'aria-labelledby': 'call-prefill-heading' },
          h('h3', { id: 'call-prefill-heading', class: 'block-title' }, '自动填写 ', h('span', { class: 'muted' }, '（据通话转写，请核对）')),
          h('div', { id: 'call-prefill', class: 'call-prefill' })),
        h('section', { class: 'call-block', 'aria-labelledby': 'call-suggestions-heading' },
          h('h3', { id: 'call-suggestions-heading', class: 'block-title' }, '知识库推荐答复'),
          h('ol', { id: 'call-suggestions', class: 'call-suggestions' }))))));
  // Screen-reader announcements for incoming calls and their end.
  Desk.mount('phone', 'end', h('div', { id: 'call-announcer', class: 'sr-only', 'aria-live': 'assertive', 'aria-atomic': 'true' }));
}

function bind() {
  bindPrefill({ fetchTicket: fetchTicket, took: took });
  bindSuggestions({ took: took });
  bindTranscript();
  $('call-close').addEventListener('click', onClose);
  $('calls-indicator').addEventListener('click', onIndicator);
  $('call-switch').addEventListener('click', onSwitch);
}

markup();
mountFollowups();

Desk.register({
  channel: 'phone',
  events: 'call.',
  enter: enter,
  teardown: teardown,
  socketOpen: socketOpen,
  event: onEvent,
  ticketRendered: ticketRendered
});

bind();
