/*
 * Beijing 12345 hotline - agent desktop, phone panel: the `call.*` events from the desk socket
 * (channels/phone/service.py pushes them). Each handler updates the call's model and redraws only
 * what the event changed: the ring takes the panel (unless the agent is talking on another call)
 * and is announced, the answer puts the call's ticket in the detail pane, words go into the
 * transcript, and the end, transfers, lost audio and transcription limits or gaps show in the
 * status. An event about a call the desk has not seen (opened mid-call) brings it in and loads it.
 */
import * as Staff from '/static/common/staff.js';
import { AgentDesk as Desk } from '/static/agent/desk.js';
import { current, ensureCall, inAudience, isLiveMine, me, state, upsert, watchesLive } from './calls-model.js';
import { LEG_LABELS, callerText } from './call-format.js';
import {
  announce, endedHeading, focusCall, removeCall, renderAll, renderChrome, renderIfCurrent, renderStatus
} from './call-chrome.js';
import { addFinalEl, mutateTranscript, renderLag, renderPartial, renderPartialEl, renderPartials } from './transcript.js';
import { renderPrefill } from './prefill.js';
import { renderSuggestions } from './suggestions.js';
import { fetchTicket, scheduleFetchTicket, scheduleLoadCalls } from './call-loading.js';

var $ = Staff.$, isBlank = Staff.isBlank;

// The model for an event about a call we may not know yet (desk opened mid-call): a call the event
// brings in is loaded in full, and shown if it is the agent's.
function ensure(msg) {
  return ensureCall(msg, function (c) {
    scheduleLoadCalls();
    fetchTicket(c);
    if (c.mine) focusCall(c);
  });
}

export function onEvent(msg) {
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
