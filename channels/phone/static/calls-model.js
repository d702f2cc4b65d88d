/*
 * Beijing 12345 hotline - agent desktop, phone panel: the calls the panel knows and which one it
 * shows. One `state` object shared by the panel's modules (the calls by linkedid, the current one,
 * the transcript's bookkeeping, the loading sequence numbers and timers), the call model
 * (newCall), merging a LiveCall into it (upsert), the model for an event about a call not seen
 * yet (ensureCall), forgetting a call (dropCall) and choosing the call to show (pickCurrent,
 * current). No DOM and no requests: the modules that draw and load call these and act on what
 * they return.
 */
import * as Staff from '/static/common/staff.js';

// ---------------------------------------------------------------------
// State
// ---------------------------------------------------------------------

export var state = {
  calls: new Map(),      // linkedid -> call model (see newCall)
  currentId: null,       // the call shown in the panel
  renderedId: null,      // the call whose transcript is in the DOM
  dismissed: new Set(),  // linkedids the agent closed: late events do not bring them back
  panelOpen: false,      // opened by hand (calls that are not the agent's own, e.g. a supervisor's)
  follow: true,          // transcript sticks to the newest line
  segEls: new Map(),     // transcript index -> <li> of the call shown
  partialEls: {},        // leg -> <li class="partial">
  callsSeq: 0,
  eventCount: 0,         // call events handled so far (see loadCalls)
  callsTimer: null,
  tick: null,
  active: false
};

export function me() {
  var u = Staff.user();
  return u ? u.username : null;
}

function newCall(linkedid, ticketId) {
  return {
    linkedid: linkedid,
    ticketId: ticketId || null,
    live: {},              // the latest LiveCall
    state: 'new',          // new | queued | ringing | connected | ended
    mine: false,           // the agent is (or was) ringing / talking on it
    ringingMe: false,
    connectedAt: 0,
    ended: null,           // {abandoned, cause, cause_text, unknown}
    transferred: false,
    finals: new Map(),     // transcript index -> segment
    partials: {},          // leg -> {text, audio_time}
    limited: {},           // leg -> why it is not transcribed (full | no_node)
    gaps: {},              // leg -> {state: open | closed, from, to, seconds}: its speech node was lost
    lag: {},               // leg -> {behind, seconds}
    lagFromLive: 0,        // LiveCall.lag, until the first lag event
    audio: {},             // leg -> {type, error|reason}
    notes: [],             // transfers
    suggestions: [],
    expanded: new Set(),   // entry ids shown in full
    inserted: new Set(),   // entry ids already inserted into the ticket
    pending: new Set(),    // entry ids being inserted
    sgMsgs: {},            // entry id -> error text
    prefill: {},           // field -> {value, segment, text, start, applied}
    editing: null,         // the prefill field whose editor is open
    fieldMsgs: {},         // field -> {text, kind}
    ticket: null,          // the full ticket, once loaded
    ticketSig: '',         // what of it the panel shows (applyTicket)
    ticketSeq: 0,
    ticketTimer: null
  };
}

// ---------------------------------------------------------------------
// Model updates
// ---------------------------------------------------------------------

export function inAudience(msg) {
  return Array.isArray(msg.audience) && msg.audience.indexOf(me()) !== -1;
}

export function isMineLive(live) {
  var u = me();
  return (!!u && (live.agent === u || (Array.isArray(live.ringing) && live.ringing.indexOf(u) !== -1))) || watchesLive(live);
}

// No agent mapping on the gateway (pop_supervisors): no agent's phone is known, so supervisors'
// and admins' desks take the call themselves, as an agent's takes their own.
export function watchesLive(live) {
  return !!live && live.pop_supervisors === true && !live.agent &&
    (Staff.hasRole('supervisor') || Staff.hasRole('admin'));
}

// Merge a LiveCall (from an event or GET /agent/calls) into the model.
export function upsert(live, mine) {
  if (!live || !live.linkedid) return null;
  var c = state.calls.get(live.linkedid);
  if (!c) { c = newCall(live.linkedid, live.ticket_id); state.calls.set(live.linkedid, c); }
  c.live = Object.assign({}, c.live, live);
  if (live.ticket_id) c.ticketId = live.ticket_id;
  if (live.state && !c.ended) c.state = live.state;
  if (Array.isArray(live.suggestions)) c.suggestions = live.suggestions;
  if (live.prefill && typeof live.prefill === 'object') {
    Object.keys(live.prefill).forEach(function (f) {
      // Values the machine found; whether they went into the ticket, its provenance tells.
      if (!c.prefill[f]) c.prefill[f] = Object.assign({}, live.prefill[f], { applied: false });
    });
  }
  if (typeof live.lag === 'number' && !Object.keys(c.lag).length) c.lagFromLive = live.lag;
  if (Array.isArray(live.speech_limited)) live.speech_limited.forEach(function (l) { c.limited[l.leg] = l.reason; });
  if (Array.isArray(live.speech_gaps)) {
    live.speech_gaps.forEach(function (g) { c.gaps[g.leg] = { state: 'open', from: g.from }; });
  }
  if (mine || isMineLive(live)) c.mine = true;
  return c;
}

// The model for an event about a call we may not know yet (desk opened mid-call). onNew(c) is
// called when the event brings the call in (the caller loads it in full and may show it).
export function ensureCall(msg, onNew) {
  var id = msg.linkedid || (msg.call && msg.call.linkedid);
  if (!id) return null;
  var c = state.calls.get(id);
  if (!c && state.dismissed.has(id)) return null;
  if (!c) {
    c = newCall(id, msg.ticket_id);
    c.mine = inAudience(msg);
    c.state = 'connected';
    state.calls.set(id, c);
    onNew(c);
  }
  if (msg.ticket_id && !c.ticketId) c.ticketId = msg.ticket_id;
  if (inAudience(msg)) c.mine = true;
  return c;
}

// Forget a call (dismissed: closed by the agent, late events do not bring it back). True if it was
// the call shown: another one is now current and the caller redraws the panel.
export function dropCall(id, dismissed) {
  var c = state.calls.get(id);
  if (c) clearTimeout(c.ticketTimer);
  if (dismissed) state.dismissed.add(id);
  state.calls.delete(id);
  if (state.currentId !== id) return false;
  state.currentId = null;
  pickCurrent();
  return true;
}

// Choose which call the panel shows when the current one goes away.
export function pickCurrent() {
  if (state.currentId && state.calls.has(state.currentId)) return;
  var best = null, bestRank = 99;
  state.calls.forEach(function (c) {
    var rank = c.ringingMe ? 0 : c.mine && !c.ended ? 1 : c.mine ? 2 : 3;
    if (rank < bestRank) { best = c; bestRank = rank; }
  });
  state.currentId = best ? best.linkedid : null;
}

export function current() { return state.currentId ? state.calls.get(state.currentId) || null : null; }

export function isLiveMine(c) { return c && c.mine && !c.ended && !c.transferred && c.state === 'connected'; }
