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
 * (/static/agent/desk.js). This module only wires the panel together: it mounts the markup,
 * registers the desk's hooks (enter, teardown, socketOpen, event, ticketRendered) and binds the
 * controls. The work is in the modules beside it, one job each:
 *   calls-model.js   the calls known, the call model, which call is shown
 *   call-events.js   the `call.*` desk-socket events
 *   call-loading.js  GET /agent/calls and each call's ticket
 *   call-chrome.js   the panel around the call: switcher, banner, elapsed, status, earlier calls
 *   transcript.js    the transcript, partials, follow-latest scrolling, the lag indicator
 *   prefill.js       the pre-filled fields and their editor
 *   suggestions.js   the knowledge-base suggestions
 *   call-markup.js   the panel's elements, mounted in the desk's slots
 *   call-format.js   leg labels, mm:ss, the caller's number
 *   followups.js     the 回访 callback list
 *
 * All untrusted text is inserted with textContent via h(); innerHTML is never used.
 */
import * as Staff from '/static/common/staff.js';
import { AgentDesk as Desk } from '/static/agent/desk.js';
import { state } from './calls-model.js';
import { onEvent } from './call-events.js';
import { applyTicket, fetchTicket, loadCalls, took } from './call-loading.js';
import { bindChrome, updateElapsed } from './call-chrome.js';
import { bindTranscript, transcriptBox } from './transcript.js';
import { bindPrefill } from './prefill.js';
import { bindSuggestions } from './suggestions.js';
import { mountCallPanel } from './call-markup.js';
import { loadFollowups, mountFollowups } from './followups.js';

var $ = Staff.$;

// ---------------------------------------------------------------------
// Hooks for the desk (AgentDesk.register, desk.js)
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

// The controls; the pre-filled fields and the suggestions act on the call's ticket through call-loading.js.
function bind() {
  bindPrefill({ fetchTicket: fetchTicket, took: took });
  bindSuggestions({ took: took });
  bindTranscript();
  bindChrome();
}

mountCallPanel();
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
