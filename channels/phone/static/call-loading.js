/*
 * Beijing 12345 hotline - agent desktop, phone panel: what the panel loads from the server. The
 * live calls (GET /agent/calls) when the desk opens and whenever the socket reopens, reconciled
 * with what the events already told (a call gone from the list ended while the desk was away), the
 * speech-model notice that answer carries, and each call's ticket (GET /agent/tickets/{id}): its
 * transcript fills in missed utterances, its provenance and history tell which pre-filled values
 * were confirmed and which answers inserted (applyTicket; the detail pane's tickets and the
 * agent's actions' answers go the same way).
 */
import * as Staff from '/static/common/staff.js';
import { AgentDesk as Desk } from '/static/agent/desk.js';
import { current, isLiveMine, isMineLive, me, pickCurrent, state, upsert, watchesLive } from './calls-model.js';
import { removeCall, renderAll, renderBanner, renderChrome } from './call-chrome.js';
import { addFinalEl, mutateTranscript, renderPartials } from './transcript.js';
import { PREFILL_FIELDS, renderPrefill, ticketValue } from './prefill.js';
import { renderSuggestions } from './suggestions.js';

var $ = Staff.$, api = Staff.api;

export function loadCalls() {
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

export function scheduleLoadCalls() {
  clearTimeout(state.callsTimer);
  state.callsTimer = setTimeout(loadCalls, 300);
}

export function fetchTicket(c) {
  if (!c || !c.ticketId) return Promise.resolve();
  clearTimeout(c.ticketTimer);
  var seq = ++c.ticketSeq;
  return api('GET', '/agent/tickets/' + encodeURIComponent(c.ticketId)).then(function (t) {
    if (seq !== c.ticketSeq || state.calls.get(c.linkedid) !== c) return;
    applyTicket(c, t);
  }, function () { /* shown again on the next event or reload */ });
}

export function scheduleFetchTicket(c) {
  clearTimeout(c.ticketTimer);
  c.ticketTimer = setTimeout(function () { fetchTicket(c); }, 400);
}

// A full ticket for the call (from our own fetch, an action's answer, or the detail pane).
export function applyTicket(c, t) {
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
export function took(c, t) {
  if (t && t.id) {
    applyTicket(c, t);
    Desk.showTicket(t);
  }
  if (c === current()) { renderPrefill(c); renderSuggestions(c); }
}
