/*
 * Beijing 12345 hotline - agent desktop: boots the desk and wires its modules together.
 *
 * Plain browser JS, no build step, no external dependencies.
 * Contract: docs/http-api.md ("Agent desktop").
 *
 * All untrusted text (citizen content, names, server messages) is inserted
 * with textContent via the h() helper; innerHTML is never used.
 *
 * An ES module (the page's entry). Login, session, API calls, DOM and time helpers:
 * /static/common/staff.js. This file logs in and out (Staff.start: enterDesk, teardownDesk) and
 * binds the page's events; the desk's parts are modules beside it:
 *   state.js       the shared desk state
 *   labels.js      label tables and label functions (EVENT_LABELS, ...)
 *   format.js      times, due times, phone numbers, sizes, durations
 *   parts.js       chips, sections, key-value lists, ticket links
 *   list.js        the ticket list: paging, live rows, new-ticket count, filter, keyboard
 *   detail.js      the ticket detail pane
 *   history.js     the history timeline's readable details
 *   actions.js     备注, 更正, 转派 and the action message line
 *   dispatch.js    分类与承办单位
 *   supervisor.js  dead letters and the local inbox
 *   socket.js      the live connection with reconnects
 *   panels.js      loading the channel panels and what AgentDesk offers them
 *   desk.js, confirm.js, duplicates.js: the panel registry, asking first, 疑似重复.
 * The channel panels (phone, partner hotlines, sign-language video) live in their channel
 * packages and plug in through AgentDesk.register() (desk.js); the desk loads the ones that
 * GET /api/v1/agent/desk-panels lists.
 */
import * as Staff from '/static/common/staff.js';
import { $, withBusy } from '/static/common/staff.js';
import { panelHooks } from './desk.js';
import { state } from './state.js';
import { refreshDueMarks } from './format.js';
import {
  applyFilter, firstVisibleRow, loadList, loadMore, markAllSeen, onListClick, onListKeydown, resetList
} from './list.js';
import { closeDetail, loadDetail, openTicket } from './detail.js';
import { onCorrectSubmit, onForward, onNoteSubmit } from './actions.js';
import { loadTaxonomy, onDispatchEdit, onDispatchSubmit, onDispatchViewClick } from './dispatch.js';
import {
  clearSupervisor, loadDeadLetters, loadLocalInbox, onCaseMarkSubmit, onRedrive, openCaseMark, syncCaseMarkFields
} from './supervisor.js';
import { connectWs, disconnectWs, reconnectNow } from './socket.js';
import { fillAgentDesk, loadDeskPanels } from './panels.js';

var ROLE_ORDER = ['admin', 'supervisor', 'agent', 'kb_editor', 'kb_reviewer'];

function isSupervisor() { return Staff.hasRole('supervisor'); }

var deskEntries = 0;  // each login into the desk; a late panel load must not reconnect an older one

// ---------------------------------------------------------------------
// Views: login (Staff.start) / desk
// ---------------------------------------------------------------------

function boot() {
  bindEvents();
  Staff.start({
    app: 'desk',
    roleOrder: ROLE_ORDER,
    enter: enterDesk,
    teardown: teardownDesk,
    messages: { 422: '提交的信息有误' },
    fieldsInMessage: true
  });
}

// Logged in: the top bar is filled; load the list and open the live connection.
function enterDesk() {
  resetList();
  closeDetail();
  loadList();
  loadTaxonomy();

  var sup = isSupervisor();
  $('supervisor').hidden = !sup;
  $('wall-link').hidden = !sup;
  $('workspace').classList.toggle('has-supervisor', sup);
  if (sup) { loadDeadLetters(); loadLocalInbox(); }

  state.intervals.push(setInterval(refreshDueMarks, 30000));
  panelHooks.enter();
  // The live connection opens once the panels are in: no event reaches the desk before the panel
  // that shows it (a call ringing while the phone panel was still loading was lost).
  var entry = ++deskEntries;
  loadDeskPanels().then(function () { if (entry === deskEntries) connectWs(); });
  if (sup) {
    state.intervals.push(setInterval(function () {
      if (!document.hidden) { loadDeadLetters(true); loadLocalInbox(true); }
    }, 60000));
  }
  $('ticket-filter').focus();
}

function teardownDesk() {
  deskEntries += 1;  // a panel load still pending opens no connection for this session
  disconnectWs();
  panelHooks.teardown();
  state.titlePrefix = '';
  state.intervals.forEach(clearInterval);
  state.intervals = [];
  clearTimeout(state.detailRefreshTimer);
  clearTimeout(state.announceTimer);
  state.announceQueue = [];
  state.drafts.clear();
  state.forwardedIds.clear();
  resetList();
  closeDetail();
  clearSupervisor();
  $('announcer').textContent = '';
}

// ---------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------

function bindEvents() {
  var list = $('ticket-list');
  list.addEventListener('click', onListClick);
  list.addEventListener('keydown', onListKeydown);
  $('list-reload').addEventListener('click', function () {
    withBusy($('list-reload'), loadList);
  });
  $('load-more').addEventListener('click', loadMore);
  $('new-count').addEventListener('click', markAllSeen);
  $('ticket-filter').addEventListener('input', applyFilter);
  $('ticket-filter').addEventListener('keydown', function (ev) {
    if (ev.key === 'ArrowDown') {
      var first = firstVisibleRow();
      if (first) { ev.preventDefault(); first.focus(); }
    }
  });

  $('note-form').addEventListener('submit', onNoteSubmit);
  $('note-text').addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      $('note-form').requestSubmit ? $('note-form').requestSubmit($('note-submit')) : onNoteSubmit(ev);
    }
  });
  $('note-text').addEventListener('input', function () {
    if (state.selectedId) state.drafts.set(state.selectedId, $('note-text').value);
  });
  $('correct-form').addEventListener('submit', onCorrectSubmit);
  ['correct-kind', 'correct-district', 'correct-street'].forEach(function (id) {
    $(id).addEventListener('input', function () { state.correctDirty = true; });
    $(id).addEventListener('change', function () { state.correctDirty = true; });
  });
  $('dispatch-form').addEventListener('submit', onDispatchSubmit);
  ['dispatch-category', 'dispatch-unit'].forEach(function (id) {
    $(id).addEventListener('input', onDispatchEdit);
    $(id).addEventListener('change', onDispatchEdit);
  });
  $('dispatch-view').addEventListener('click', onDispatchViewClick);
  $('forward').addEventListener('click', onForward);
  $('detail-refresh').addEventListener('click', function () {
    if (state.selectedId) withBusy($('detail-refresh'), function () {
      return loadDetail(state.selectedId, { resetForm: false });
    });
  });

  // Esc inside the detail pane returns focus to the selected row.
  $('ticket-detail').addEventListener('keydown', function (ev) {
    if (ev.key !== 'Escape') return;
    var row = state.selectedId && state.rowEls.get(state.selectedId);
    if (row && !row.hidden) { ev.preventDefault(); row.focus(); }
  });

  // Ticket-id buttons anywhere (links, dead letters, local inbox).
  document.addEventListener('click', function (ev) {
    var t = ev.target.closest && ev.target.closest('[data-open-ticket]');
    if (t) { openTicket(t.getAttribute('data-open-ticket'), { focus: true }); return; }
    var r = ev.target.closest && ev.target.closest('button.redrive');
    if (r) onRedrive(r);
  });

  $('dead-letters-refresh').addEventListener('click', function () {
    withBusy($('dead-letters-refresh'), function () { return loadDeadLetters(); });
  });
  $('local-inbox').addEventListener('click', function (ev) {
    var btn = ev.target.closest('[data-mark-case]');
    if (btn) openCaseMark(btn.getAttribute('data-mark-case'));
  });
  $('case-mark-status').addEventListener('change', syncCaseMarkFields);
  $('case-mark-form').addEventListener('submit', onCaseMarkSubmit);
  $('case-mark-cancel').addEventListener('click', function () { $('case-mark-form').hidden = true; });
  $('local-inbox-refresh').addEventListener('click', function () {
    withBusy($('local-inbox-refresh'), function () { return loadLocalInbox(); });
  });

  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) { reconnectNow(); refreshDueMarks(); }
  });
}

fillAgentDesk();
boot();
