/*
 * Beijing 12345 hotline - agent desktop, phone panel: the panel around the call. Whether the panel
 * shows and which call (renderAll redraws every part for the current call, removeCall / focusCall
 * change it), the call switcher, the 通话 indicator in the top bar and the page title's 【来电】, the
 * banner (who is calling, the queue, the ticket, how long it has rung or lasted), the status lines
 * (how the call ended, transfers, audio lost, legs not transcribed, transcription gaps), the
 * citizen's earlier calls, the close / collapse button and the screen-reader announcer.
 */
import * as Staff from '/static/common/staff.js';
import { AgentDesk as Desk } from '/static/agent/desk.js';
import { current, dropCall, me, pickCurrent, state } from './calls-model.js';
import { LEG_LABELS, callerText, clock } from './call-format.js';
import { renderLag, renderTranscript, transcriptBox } from './transcript.js';
import { renderPrefill } from './prefill.js';
import { renderSuggestions } from './suggestions.js';

var $ = Staff.$, h = Staff.h, replaceKids = Staff.replaceKids, isBlank = Staff.isBlank, toMs = Staff.toMs;

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

function causeText(ended) {
  var c = ended.cause;
  if (!isBlank(ended.cause_text) && CJK.test(ended.cause_text)) return String(ended.cause_text);
  if (c !== null && c !== undefined && CAUSES[c]) return CAUSES[c];
  return isBlank(ended.cause_text) ? '' : String(ended.cause_text);
}

// ---------------------------------------------------------------------
// Which call is shown
// ---------------------------------------------------------------------

// Forget a call (dismissed: closed by the agent) and redraw: the whole panel if it was shown.
export function removeCall(id, dismissed) {
  if (dropCall(id, dismissed)) renderAll(true);
  else renderChrome();
}

export function focusCall(c) {
  if (state.currentId === c.linkedid) return;
  state.currentId = c.linkedid;
  renderAll(true);
}

// ---------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------

export function renderIfCurrent(c) {
  if (c === current()) renderAll(false);
  else renderChrome();
}

// fresh: the shown call changed (rebuild the transcript from scratch).
export function renderAll(fresh) {
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
export function renderChrome() {
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

export function endedHeading(c) {
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

export function renderBanner(c) {
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
export function updateElapsed() {
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

export function renderStatus(c) {
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
// The announcer and the panel's controls
// ---------------------------------------------------------------------

export function announce(text) {
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

export function bindChrome() {
  $('call-close').addEventListener('click', onClose);
  $('calls-indicator').addEventListener('click', onIndicator);
  $('call-switch').addEventListener('click', onSwitch);
}
