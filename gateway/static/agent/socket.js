/*
 * Beijing 12345 hotline - agent desktop: the live connection (GET /api/v1/agent/ws).
 *
 * Opens the desk socket once the panels are in, shows its state in the top bar, and reconnects
 * with exponential backoff and jitter (after repeated failures it first checks that the session
 * still exists). On (re)open it reloads the list so nothing sent meanwhile is missed. Ticket
 * events go to the list (list.js), `resync` reloads, every other event to the channel panels.
 */
import * as Staff from '/static/common/staff.js';
import { $, API } from '/static/common/staff.js';
import { panelHooks } from './desk.js';
import { state } from './state.js';
import { loadList, onTicketEvent } from './list.js';
import { scheduleDetailRefresh } from './detail.js';

var WS_MAX_DELAY_MS = 30000;

function setWsStatus(s, title) {
  var el = $('ws-status');
  el.setAttribute('data-state', s);
  el.textContent = s === 'open' ? '实时连接正常' : s === 'connecting' ? '正在连接…' : '正在重连…';
  el.title = title || '';
}

export function connectWs() {
  state.wsWanted = true;
  clearTimeout(state.wsTimer);
  state.wsTimer = null;
  if (state.ws) return;
  var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + API + '/agent/ws';
  var ws;
  try {
    ws = new WebSocket(url);
  } catch (e) {
    setWsStatus('reconnecting');
    scheduleReconnect();
    return;
  }
  state.ws = ws;
  setWsStatus(state.wsEverOpened ? 'reconnecting' : 'connecting');

  ws.onopen = function () {
    if (state.ws !== ws) return;
    var reconnect = state.wsEverOpened;
    state.wsEverOpened = true;
    state.wsAttempt = 0;
    setWsStatus('open');
    // Reload so that nothing sent while we were (re)connecting is missed.
    loadList();
    panelHooks.socketOpen(reconnect);
    if (reconnect && state.selectedId) scheduleDetailRefresh();
  };
  ws.onmessage = function (ev) {
    if (state.ws !== ws) return;
    var msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    if (msg && (msg.type === 'ticket.created' || msg.type === 'ticket.updated')) onTicketEvent(msg.type, msg.ticket);
    else if (msg && msg.type === 'resync') { loadList(); panelHooks.socketOpen(true); }  // live events were interrupted (Redis outage)
    else if (msg && typeof msg.type === 'string') panelHooks.event(msg);  // call.*, partner.*, video.*: the panels'
  };
  ws.onerror = function () { /* a close event follows */ };
  ws.onclose = function () {
    if (state.ws !== ws) return;
    state.ws = null;
    panelHooks.socketClosed();
    if (!state.wsWanted) return;
    setWsStatus('reconnecting');
    scheduleReconnect();
  };
}

function scheduleReconnect() {
  clearTimeout(state.wsTimer);
  var n = state.wsAttempt++;
  var base = Math.min(WS_MAX_DELAY_MS, 1000 * Math.pow(2, n));
  var delay = Math.round(base / 2 + Math.random() * base / 2);
  setWsStatus('reconnecting', '将在 ' + Math.ceil(delay / 1000) + ' 秒后重试');
  state.wsTimer = setTimeout(function () {
    state.wsTimer = null;
    if (!state.wsWanted) return;
    if (n < 1) { connectWs(); return; }
    // Repeated failures may mean the session ended: check before retrying.
    Staff.refreshSession().then(function () {
      if (state.wsWanted) connectWs();
    }, function (e) {
      if (e.status !== 401 && state.wsWanted) connectWs();
    });
  }, delay);
}

export function reconnectNow() {
  if (!state.wsWanted || state.ws) return;
  state.wsAttempt = 0;
  connectWs();
}

export function disconnectWs() {
  state.wsWanted = false;
  clearTimeout(state.wsTimer);
  state.wsTimer = null;
  state.wsAttempt = 0;
  state.wsEverOpened = false;
  var ws = state.ws;
  state.ws = null;
  if (ws) { try { ws.close(1000, 'logout'); } catch (e) { /* ignore */ } }
  setWsStatus('connecting');
}
