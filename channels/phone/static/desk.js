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
import { current, ensureCall, inAudience, isLiveMine, isMineLive, me, pickCurrent, state, upsert, watchesLive } from './calls-model.js';
import { LEG_LABELS, callerText } from './call-format.js';
import {
  announce, bindChrome, endedHeading, focusCall, removeCall, renderAll, renderBanner, renderChrome, renderIfCurrent,
  renderStatus, updateElapsed
} from './call-chrome.js';
import {
  addFinalEl, bindTranscript, mutateTranscript, renderLag, renderPartial, renderPartialEl, renderPartials, transcriptBox
} from './transcript.js';
import { PREFILL_FIELDS, bindPrefill, renderPrefill, ticketValue } from './prefill.js';
import { bindSuggestions, renderSuggestions } from './suggestions.js';
import { loadFollowups, mountFollowups } from './followups.js';

var $ = Staff.$, h = Staff.h, api = Staff.api, isBlank = Staff.isBlank;

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
  bindChrome();
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
