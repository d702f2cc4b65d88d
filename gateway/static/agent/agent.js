/*
 * Beijing 12345 hotline - agent desktop.
 *
 * Plain browser JS, no build step, no external dependencies.
 * Contract: docs/http-api.md ("Agent desktop").
 *
 * All untrusted text (citizen content, names, server messages) is inserted
 * with textContent via the h() helper; innerHTML is never used.
 *
 * An ES module. Login, session, API calls, DOM and time helpers: /static/common/staff.js.
 * The desk's label tables and label functions: labels.js; times, phone numbers, sizes: format.js;
 * chips, sections, key-value lists, ticket links: parts.js; the history's readable details: history.js.
 * The channel panels (phone, partner hotlines, sign-language video) live in their channel
 * packages and plug in through AgentDesk.register() (desk.js); the desk loads the ones that
 * GET /api/v1/agent/desk-panels lists.
 */
import * as Staff from '/static/common/staff.js';
import * as DeskConfirm from './confirm.js';
import { AgentDesk, loadPanels, panelHooks } from './desk.js';
import { showDuplicates } from './duplicates.js';
import {
  CASE_STATUS_LABELS, DISPOSITION_FIELDS, DISPOSITION_FIELD_LABELS, DISPOSITION_LABELS, DIVERT_LABELS, KIND_LABELS,
  LEG_LABELS, LINK_LABELS, OUTCOME_BAD, OUTCOME_GOOD, OUTCOME_LABELS, PARTNER_STATUS_LABELS, SOURCE_LABELS,
  URGENCY_LABELS, WHO_LABELS, actorText, attKind, channelLabel, errorText, hopLabel, kindLabel, labelled, partnerName,
  statusLabel, targetLabel
} from './labels.js';
import { apiMessage, dueEl, fmtBytes, fmtDuration, fmtPhone, fmtSpan, pct, refreshDueMarks, timeEl } from './format.js';
import { channelChip, empty, kindChip, kv, secretBadge, section, statusChip, ticketLink } from './parts.js';
import { fmtValue, historyItem } from './history.js';

var $ = Staff.$, h = Staff.h, replaceKids = Staff.replaceKids, setMsg = Staff.setMsg;
var isBlank = Staff.isBlank, dash = Staff.dash, toMs = Staff.toMs, api = Staff.api, withBusy = Staff.withBusy;

// ---------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------

var API = Staff.API;
var PAGE_SIZE = 50;
var BASE_TITLE = '12345 坐席工作台';
var WS_MAX_DELAY_MS = 30000;

var ROLE_ORDER = ['admin', 'supervisor', 'agent', 'kb_editor', 'kb_reviewer'];

// Once any of these holds, the ticket must not be forwarded again.
var FORWARD_DONE_STATUSES = { forwarded: 1, transferred: 1, answered: 1, diverted: 1, closed: 1 };

// ---------------------------------------------------------------------
// State
// ---------------------------------------------------------------------

var state = {
  tickets: new Map(), // id -> summary
  order: [],          // ids, newest first
  rowEls: new Map(),  // id -> <li>
  unseen: new Set(),  // ids the agent has not looked at yet
  listLoaded: false,
  listSeq: 0,
  hasMore: false,
  selectedId: null,
  detail: null,       // full ticket currently shown
  detailSeq: 0,
  detailRefreshTimer: null,
  drafts: new Map(),  // ticket id -> unsent note text
  forwardedIds: new Set(), // forwarded from this desk (or answered 409) this session
  correctDirty: false,
  dispatchDirty: false, // the 分类与承办单位 correction form has unsaved edits
  taxonomy: null,       // [{name: 一级分类, children: [二级分类, …]}], loaded once
  taxonomyLoading: null,
  ws: null,
  wsWanted: false,
  wsAttempt: 0,
  wsTimer: null,
  wsEverOpened: false,
  intervals: [],
  titlePrefix: '',    // e.g. '【来电】' while the agent's phone rings (phone panel)
  announceQueue: [],
  announceTimer: null
};

function isSupervisor() { return Staff.hasRole('supervisor'); }

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
  $('supervisor').hidden = true;
  $('dead-letters').replaceChildren();
  resetDeadLetters();
  $('local-inbox').replaceChildren();
  $('dead-letters-count').textContent = '';
  $('local-inbox-count').textContent = '';
  setMsg($('supervisor-msg'), '');
  $('announcer').textContent = '';
}

// ---------------------------------------------------------------------
// Ticket list
// ---------------------------------------------------------------------

function resetList() {
  state.tickets.clear();
  state.order = [];
  state.rowEls.clear();
  state.unseen.clear();
  state.listLoaded = false;
  state.hasMore = false;
  state.listSeq++;
  $('ticket-list').replaceChildren();
  $('load-more').hidden = true;
  setMsg($('list-msg'), '');
  updateNewCount();
  updateListCount();
}

function loadList() {
  var seq = ++state.listSeq;
  if (!state.listLoaded) setMsg($('list-msg'), '正在加载工单…');
  return api('GET', '/agent/tickets?limit=' + PAGE_SIZE).then(function (data) {
    if (seq !== state.listSeq) return;
    applyFreshPage((data && data.tickets) || []);
    setMsg($('list-msg'), state.order.length ? '' : '暂无工单');
  }, function (e) {
    if (seq !== state.listSeq || e.status === 401) return;
    setMsg($('list-msg'), '工单列表加载失败：' + e.message, 'error');
  });
}

// Merge the newest page into what we have (used at start and after reconnects).
function applyFreshPage(list) {
  var hadData = state.listLoaded;
  var prevNewest = 0;
  state.order.forEach(function (id) {
    prevNewest = Math.max(prevNewest, toMs(state.tickets.get(id).received_at));
  });

  var fresh = new Map();
  list.forEach(function (t) { if (t && t.id) fresh.set(t.id, t); });
  var oldestFresh = Infinity;
  fresh.forEach(function (t) { oldestFresh = Math.min(oldestFresh, toMs(t.received_at)); });

  var merged = new Map(fresh);
  if (hadData && list.length >= PAGE_SIZE) {
    // Keep older tickets loaded through "load more".
    state.order.forEach(function (id) {
      var t = state.tickets.get(id);
      if (!merged.has(id) && toMs(t.received_at) < oldestFresh) merged.set(id, t);
    });
  }

  var added = [];
  if (hadData) {
    fresh.forEach(function (t, id) {
      if (!state.tickets.has(id) && toMs(t.received_at) > prevNewest) added.push(t);
    });
  }

  state.tickets = merged;
  state.order = Array.from(merged.values())
    .sort(function (a, b) { return toMs(b.received_at) - toMs(a.received_at); })
    .map(function (t) { return t.id; });
  state.unseen.forEach(function (id) { if (!merged.has(id)) state.unseen.delete(id); });
  added.forEach(function (t) { state.unseen.add(t.id); });

  if (!hadData) state.hasMore = list.length >= PAGE_SIZE;
  state.listLoaded = true;

  renderList();
  added.forEach(function (t) { flashRow(t.id); queueAnnounce(t); });
  updateNewCount();
}

function loadMore() {
  var oldest = state.order.length ? state.tickets.get(state.order[state.order.length - 1]) : null;
  var btn = $('load-more');
  var path = '/agent/tickets?limit=' + PAGE_SIZE + (oldest ? '&before=' + toMs(oldest.received_at) : '');
  withBusy(btn, function () {
    return api('GET', path).then(function (data) {
      var list = (data && data.tickets) || [];
      list.forEach(function (t) {
        if (t && t.id && !state.tickets.has(t.id)) { state.tickets.set(t.id, t); state.order.push(t.id); }
      });
      state.hasMore = list.length >= PAGE_SIZE;
      renderList();
      if (!list.length) setMsg($('list-msg'), '没有更早的工单了');
    }, function (e) {
      if (e.status !== 401) setMsg($('list-msg'), '加载失败：' + e.message, 'error');
    });
  });
}

// Keyed reconciliation: existing rows are updated in place and only moved when
// their position changes, so keyboard focus is preserved.
function renderList() {
  var listEl = $('ticket-list');
  var cursor = listEl.firstChild;
  var keep = new Set(state.order);
  state.order.forEach(function (id) {
    var el = state.rowEls.get(id);
    if (el) fillRow(el, state.tickets.get(id));
    else el = createRow(state.tickets.get(id));
    if (el === cursor) cursor = cursor.nextSibling;
    else listEl.insertBefore(el, cursor);
  });
  while (cursor) {
    var next = cursor.nextSibling;
    listEl.removeChild(cursor);
    cursor = next;
  }
  state.rowEls.forEach(function (el, id) { if (!keep.has(id)) state.rowEls.delete(id); });
  $('load-more').hidden = !state.hasMore;
  applyFilter();
}

function createRow(t) {
  var el = h('li', { class: 'ticket-row', tabindex: '0', 'data-ticket-id': t.id });
  state.rowEls.set(t.id, el);
  fillRow(el, t);
  return el;
}

function fillRow(el, t) {
  var unseen = state.unseen.has(t.id);
  var selected = state.selectedId === t.id;
  el.classList.toggle('is-unseen', unseen);
  el.classList.toggle('is-selected', selected);
  if (selected) el.setAttribute('aria-current', 'true'); else el.removeAttribute('aria-current');
  el.classList.toggle('is-confidential', !!t.confidential);

  el.replaceChildren(
    h('div', { class: 'row-line row-line--top' },
      unseen ? h('span', { class: 'sr-only' }, '新工单，') : null,
      h('span', { class: 't-id' }, t.id),
      channelChip(t.channel),
      kindChip(t.kind, t.kind_label),
      statusChip(t.status, t.status_label),
      t.confidential ? secretBadge(false) : null,
      h('span', { class: 'spacer' }),
      h('span', { class: 't-received' }, h('span', { class: 'lbl' }, '受理 '), timeEl(t.received_at))
    ),
    h('div', { class: 'row-line row-line--bottom' },
      h('span', { class: 't-district' + (t.district ? '' : ' is-empty') }, t.district || '未指定区'),
      h('span', { class: 't-summary', title: t.summary || '' }, t.summary || '（无摘要）'),
      t.phone_masked ? h('span', { class: 't-phone' }, t.phone_masked) : null,
      dueEl(t.due_at, t.status, '时限')
    )
  );
}

function updateRow(id) {
  var el = state.rowEls.get(id);
  var t = state.tickets.get(id);
  if (el && t) { fillRow(el, t); applyFilterToRow(el, t); }
}

function flashRow(id, cls) {
  var el = state.rowEls.get(id);
  if (!el) return;
  cls = cls || 'is-new';
  el.classList.remove(cls);
  void el.offsetWidth; // restart the CSS animation
  el.classList.add(cls);
  setTimeout(function () { el.classList.remove(cls); }, 6000);
}

// Keep the row in sync with a full ticket returned by detail / actions.
function syncRowFromTicket(t) {
  if (!t || !t.id || !state.tickets.has(t.id)) return;
  var old = state.tickets.get(t.id);
  var loc = t.location || null;
  state.tickets.set(t.id, Object.assign({}, old, {
    channel: t.channel || old.channel,
    kind: t.kind,
    kind_label: kindLabel(t.kind),
    status: t.status || old.status,
    status_label: statusLabel(t.status, old.status_label),
    due_at: t.due_at !== undefined ? t.due_at : old.due_at,
    district: loc ? (loc.district || null) : old.district,
    confidential: t.requester ? !!t.requester.confidential : old.confidential
  }));
  updateRow(t.id);
}

// --- live events ---

function onTicketEvent(type, t) {
  if (!t || !t.id) return;
  if (!state.listLoaded) {
    // The initial page is still loading; it will include this ticket.
    return;
  }
  var listEl = $('ticket-list');
  if (type === 'ticket.created') {
    if (state.tickets.has(t.id)) {
      state.tickets.set(t.id, Object.assign({}, state.tickets.get(t.id), t));
      updateRow(t.id);
      return;
    }
    state.tickets.set(t.id, t);
    state.order.unshift(t.id);
    state.unseen.add(t.id);
    var el = createRow(t);
    listEl.insertBefore(el, listEl.firstChild);
    applyFilterToRow(el, t);
    flashRow(t.id);
    updateNewCount();
    updateListCount();
    setMsg($('list-msg'), '');
    queueAnnounce(t);
  } else if (type === 'ticket.updated') {
    if (state.tickets.has(t.id)) {
      state.tickets.set(t.id, Object.assign({}, state.tickets.get(t.id), t));
      updateRow(t.id);
      flashRow(t.id, 'is-updated');
    } else if (state.order.length) {
      // Not loaded yet: insert only if it falls inside the loaded range.
      var oldest = toMs(state.tickets.get(state.order[state.order.length - 1]).received_at);
      if (toMs(t.received_at) >= oldest) {
        state.tickets.set(t.id, t);
        state.order.push(t.id);
        state.order.sort(function (a, b) {
          return toMs(state.tickets.get(b).received_at) - toMs(state.tickets.get(a).received_at);
        });
        renderList();
      }
    }
    if (t.id === state.selectedId) scheduleDetailRefresh();
  }
}

// --- new-ticket counter and announcements ---

function updateNewCount() {
  var n = state.unseen.size;
  $('new-count-num').textContent = String(n);
  $('new-count').hidden = n === 0;
  document.title = state.titlePrefix + (n ? '(' + n + ') ' + BASE_TITLE : BASE_TITLE);
}

function markSeen(id) {
  if (!state.unseen.delete(id)) return;
  updateRow(id);
  updateNewCount();
}

function markAllSeen() {
  var ids = Array.from(state.unseen);
  state.unseen.clear();
  ids.forEach(updateRow);
  updateNewCount();
  $('ticket-list').scrollTop = 0;
  var first = firstVisibleRow();
  if (first) first.focus();
}

function queueAnnounce(t) {
  state.announceQueue.push(t);
  clearTimeout(state.announceTimer);
  state.announceTimer = setTimeout(flushAnnounce, 1200);
}

function flushAnnounce() {
  var q = state.announceQueue;
  state.announceQueue = [];
  if (!q.length) return;
  var text;
  if (q.length === 1) {
    var t = q[0];
    text = '新工单 ' + t.id + '：' + channelLabel(t.channel) + '，' + kindLabel(t.kind, t.kind_label) +
      (t.district ? '，' + t.district : '') + (t.summary ? '，' + String(t.summary).slice(0, 40) : '');
  } else {
    text = '收到 ' + q.length + ' 条新工单';
  }
  var a = $('announcer');
  a.textContent = '';
  setTimeout(function () { a.textContent = text; }, 50);
}

// --- filter ---

function filterTerms() {
  return $('ticket-filter').value.trim().toLowerCase().split(/\s+/).filter(Boolean);
}

function matches(t, terms) {
  if (!terms.length) return true;
  var hay = [t.id, channelLabel(t.channel), kindLabel(t.kind, t.kind_label), statusLabel(t.status, t.status_label),
    t.district, t.summary, t.phone_masked, t.confidential ? '保密' : ''].join(' ').toLowerCase();
  return terms.every(function (w) { return hay.indexOf(w) !== -1; });
}

function applyFilterToRow(el, t, terms) {
  el.hidden = !matches(t, terms || filterTerms());
}

function applyFilter() {
  var terms = filterTerms();
  state.rowEls.forEach(function (el, id) { applyFilterToRow(el, state.tickets.get(id), terms); });
  updateListCount();
}

function updateListCount() {
  var total = state.order.length;
  var shown = 0;
  state.rowEls.forEach(function (el) { if (!el.hidden) shown++; });
  $('list-count').textContent = total === shown ? '共 ' + total + ' 条' : '显示 ' + shown + ' / ' + total + ' 条';
}

// --- keyboard navigation ---

function visibleRows() {
  return Array.prototype.filter.call($('ticket-list').children, function (el) { return !el.hidden; });
}

function firstVisibleRow() { return visibleRows()[0] || null; }

function onListKeydown(ev) {
  var row = ev.target.closest && ev.target.closest('.ticket-row');
  if (!row) return;
  var rows, i;
  switch (ev.key) {
    case 'Enter':
    case ' ':
      ev.preventDefault();
      openTicket(row.getAttribute('data-ticket-id'), { focus: true });
      break;
    case 'ArrowDown':
    case 'ArrowUp':
      ev.preventDefault();
      rows = visibleRows();
      i = rows.indexOf(row) + (ev.key === 'ArrowDown' ? 1 : -1);
      if (rows[i]) rows[i].focus();
      break;
    case 'Home':
    case 'End':
      ev.preventDefault();
      rows = visibleRows();
      if (rows.length) rows[ev.key === 'Home' ? 0 : rows.length - 1].focus();
      break;
  }
}

function onListClick(ev) {
  var row = ev.target.closest && ev.target.closest('.ticket-row');
  if (row) openTicket(row.getAttribute('data-ticket-id'), { focus: false });
}

// ---------------------------------------------------------------------
// Ticket detail
// ---------------------------------------------------------------------

function closeDetail() {
  state.selectedId = null;
  state.detail = null;
  state.detailSeq++;
  state.correctDirty = false;
  state.dispatchDirty = false;
  $('dispatch-view').replaceChildren();
  $('dispatch-units').replaceChildren();
  $('dispatch-unit').value = '';
  $('dispatch-category').value = '';
  $('detail-body').hidden = true;
  $('detail-empty').hidden = false;
  $('detail-content').replaceChildren();
  $('detail-ledger').replaceChildren();
  $('detail-badges').replaceChildren();
  $('detail-heading').textContent = '';
  $('note-text').value = '';
  setMsg($('action-msg'), '');
  setMsg($('detail-loading'), '');
  updateForwardButton();
  panelHooks.ticketClosed();
}

function setSelected(id) {
  var prev = state.selectedId;
  state.selectedId = id;
  if (prev && prev !== id) updateRow(prev);
  updateRow(id);
}

function openTicket(id, opts) {
  if (!id) return;
  opts = opts || {};
  var switching = state.selectedId !== id;
  if (switching && state.selectedId) state.drafts.set(state.selectedId, $('note-text').value);
  setSelected(id);
  markSeen(id);

  $('detail-empty').hidden = true;
  $('detail-body').hidden = false;
  $('detail-heading').textContent = '工单 ' + id;
  if (switching) {
    state.detail = null;
    state.correctDirty = false;
    state.dispatchDirty = false;
    $('dispatch-view').replaceChildren();
    $('detail-content').replaceChildren();
    $('detail-ledger').replaceChildren();
    $('detail-badges').replaceChildren();
    $('note-text').value = state.drafts.get(id) || '';
    setMsg($('action-msg'), '');
    updateForwardButton();
  }
  if (opts.focus) $('detail-heading').focus();
  return loadDetail(id, { resetForm: switching });
}

function loadDetail(id, opts) {
  var seq = ++state.detailSeq;
  setMsg($('detail-loading'), state.detail ? '' : '正在加载工单详情…');
  return api('GET', '/agent/tickets/' + encodeURIComponent(id)).then(function (t) {
    if (seq !== state.detailSeq || state.selectedId !== id) return;
    setMsg($('detail-loading'), '');
    renderDetail(t, opts);
  }, function (e) {
    if (seq !== state.detailSeq || e.status === 401) return;
    setMsg($('detail-loading'), '工单详情加载失败：' + e.message, 'error');
  });
}

var partnerNamesTimer = null;
function schedulePartnerNamesRender() {
  clearTimeout(partnerNamesTimer);
  partnerNamesTimer = setTimeout(function () {
    if (state.detail && state.detail.id === state.selectedId) renderDetail(state.detail, { resetForm: false });
  }, 50);
}

function scheduleDetailRefresh() {
  clearTimeout(state.detailRefreshTimer);
  state.detailRefreshTimer = setTimeout(function () {
    if (state.selectedId) loadDetail(state.selectedId, { resetForm: false });
  }, 400);
}

function renderDetail(t, opts) {
  opts = opts || {};
  state.detail = t;
  var req = t.requester || {};
  var loc = t.location || null;

  $('detail-heading').textContent = '工单 ' + t.id;
  replaceKids($('detail-badges'), [
    statusChip(t.status),
    kindChip(t.kind),
    channelChip(t.channel),
    t.urgency && t.urgency !== 'normal' && URGENCY_LABELS[t.urgency]
      ? h('span', { class: 'chip chip--urgent' }, URGENCY_LABELS[t.urgency]) : null,
    req.confidential ? secretBadge(false) : null
  ]);

  var parts = [];

  // Basic facts
  parts.push(section('基本信息', kv([
    ['受理时间', timeEl(t.received_at)],
    ['办理时限', dueEl(t.due_at, t.status)],
    ['最近更新', timeEl(t.updated_at)],
    ['受理渠道', channelLabel(t.channel)],
    ['诉求类型', kindLabel(t.kind)],
    ['办理状态', statusLabel(t.status)],
    ['紧急程度', labelled(URGENCY_LABELS[t.urgency], t.urgency)],
    t.source && t.source.channel_id
      ? ['来源编号', h('span', { class: 'mono source-id', title: '受理渠道内的原始编号' }, String(t.source.channel_id))] : null
  ]), 'd-basic'));

  // Requester
  var reqBody = [];
  if (req.confidential) {
    reqBody.push(h('p', { class: 'secret-note' }, secretBadge(true),
      ' 诉求人要求对个人信息保密，转派和答复时不得透露其姓名、电话。'));
  }
  reqBody.push(kv([
    ['电话', req.phone ? h('span', { class: 'phone', title: String(req.phone) }, fmtPhone(req.phone)) : '—'],
    ['姓名', dash(req.name)],
    req.wechat_openid ? ['微信 OpenID', String(req.wechat_openid)] : null,
    req.consent_share_partner !== undefined && req.consent_share_partner !== null
      ? ['同意向外省市共享', req.consent_share_partner ? '是' : '否'] : null
  ]));
  parts.push(section('诉求人', reqBody, 'd-requester' + (req.confidential ? ' is-confidential' : '')));

  // Location
  parts.push(section('地点', loc && (loc.district || loc.street || loc.text) ? kv([
    ['所在区', dash(loc.district)],
    loc.street ? ['街道（乡镇）', String(loc.street)] : null,
    ['详细地址', dash(addressText(loc))]
  ]) : empty('未提供地点'), 'd-location'));

  // Content
  parts.push(section('诉求内容', t.content
    ? h('p', { class: 'content-text' }, String(t.content)) : empty('（无内容）'), 'd-content'));

  // Disposition
  if (t.disposition) parts.push(section('处理结果', kv(dispositionPairs(t.disposition)), 'd-disposition'));

  // The case system's progress (受理, 办理中, 延期, 办结)
  if (t.case) parts.push(section('办理进展', kv(casePairs(t.case)), 'd-case'));

  // Links
  var links = t.links || {};
  var linkPairs = [];
  Object.keys(links).forEach(function (k) {
    var v = links[k];
    if (isBlank(v) || v === false || (Array.isArray(v) && !v.length)) return;
    var val;
    if (Array.isArray(v)) {
      val = h('span', { class: 'link-list' }, v.map(function (x) {
        if (x && typeof x === 'object' && x.ticket_id) {  // a duplicate candidate: id and similarity
          return h('span', null, ticketLink(x.ticket_id), ' 相似度 ' + Math.round((Number(x.score) || 0) * 100) + '%');
        }
        return typeof x === 'string' ? ticketLink(x) : h('span', null, fmtValue(x));
      }));
    } else if (typeof v === 'string' && /^[A-Z]{1,4}-/.test(v)) {
      val = ticketLink(v);
    } else {
      val = fmtValue(v);
    }
    linkPairs.push([LINK_LABELS[k] || k, val]);
  });
  if (linkPairs.length) parts.push(section('关联', kv(linkPairs), 'd-links'));
  // 疑似重复: side by side with 合并 (duplicates.js fills it once the detail is on screen).
  if (links.duplicates && links.duplicates.length) parts.push(h('section', { id: 'dup-compare', class: 'd-section d-duplicates' }));
  // 回访: the citizen's answer, once.
  if (t.followup) {
    var fu = t.followup;
    parts.push(section('回访', kv([
      ['是否解决', fu.resolved ? '已解决' : '未解决'],
      ['满意度', { satisfied: '满意', basically_satisfied: '基本满意', unsatisfied: '不满意' }[fu.satisfaction] || fu.satisfaction],
      ['原因', fu.reason || '—'], ['时间', timeEl(fu.at)], ['方式', { 'web-chat': '网站咨询', 'web-track': '进度查询页', wechat: '微信', phone: '电话回访' }[fu.channel] || fu.channel],
      ['记录人', actorText(fu.by)]
    ]), 'd-followup'));
  }

  // Messages
  var msgs = Array.isArray(t.messages) ? t.messages : [];
  parts.push(section('沟通记录（' + msgs.length + '）', msgs.length
    ? h('ol', { class: 'messages' }, msgs.map(function (m) {
      return h('li', { class: 'message who-' + (m.who || 'unknown') },
        h('div', { class: 'message-meta' },
          labelled(WHO_LABELS[m.who], m.who, 'message-who'),
          m.who === 'agent' && m.author ? h('span', { class: 'message-author' }, m.author) : null,
          timeEl(m.at),
          m.source ? labelled(SOURCE_LABELS[m.source], m.source, 'message-source') : null),
        h('p', { class: 'message-text' }, dash(m.text)));
    }))
    : empty('暂无沟通记录'), 'd-messages'));

  // Transcript (collapsed, can be long)
  var tr = Array.isArray(t.transcript) ? t.transcript : [];
  if (tr.length) {
    parts.push(h('section', { class: 'd-section d-transcript' },
      h('details', null,
        h('summary', { class: 'd-title' }, '通话转写（' + tr.length + ' 段）'),
        h('ol', { class: 'transcript' }, tr.map(function (s) {
          var low = typeof s.confidence === 'number' && s.confidence < 0.6;
          return h('li', { class: low ? 'low-confidence' : null },
            h('span', { class: 'leg' }, LEG_LABELS[s.leg] || dash(s.leg)),
            h('span', { class: 'muted' }, fmtSpan(s.start, s.end)),
            h('span', { class: 'transcript-text' }, dash(s.text)),
            low ? h('span', { class: 'muted' }, '（识别置信度低）') : null);
        })))));
  }

  // Attachments
  var atts = Array.isArray(t.attachments) ? t.attachments : [];
  parts.push(section('附件（' + atts.length + '）', atts.length
    ? h('ul', { class: 'attachments' }, atts.map(function (a) {
      var name = a.filename || (a.sha256 ? String(a.sha256).slice(0, 12) : '附件');
      return h('li', null,
        a.sha256
          ? h('a', { href: API + '/agent/blobs/' + encodeURIComponent(a.sha256), target: '_blank',
            rel: 'noopener', title: 'SHA-256 ' + a.sha256 }, name)
          : h('span', null, name),
        h('span', { class: 'muted' }, ' ' + [a.kind ? attKind(a.kind) : null, a.mime, fmtBytes(a.size)]
          .filter(Boolean).join(' · ')));
    }))
    : empty('无附件'), 'd-attachments'));

  // History timeline
  var hist = Array.isArray(t.history) ? t.history : [];
  parts.push(section('处理记录（' + hist.length + '）', hist.length
    ? h('ol', { class: 'timeline' }, hist.map(historyItem))
    : empty('暂无处理记录'), 'd-history'));

  // Delivery ledger: rendered full width below the two columns (wide table).
  var dels = Array.isArray(t.deliveries) ? t.deliveries : [];
  var ledger = section('投递记录（' + dels.length + '）', dels.length
    ? h('div', { class: 'table-wrap' }, h('table', { class: 'table deliveries' },
      h('thead', null, h('tr', null,
        ['环节', '次数', '时间', '结果', '接收方', '状态码', '案件编号', '错误或说明', '下次重试', '耗时']
          .map(function (c) { return h('th', { scope: 'col' }, c); }))),
      h('tbody', null, dels.map(function (d) {
        var oc = String(d.outcome || '');
        return h('tr', { class: 'delivery-row' },
          h('td', { class: 'nowrap' }, labelled(hopLabel(d.hop), d.hop)),
          h('td', { class: 'num' }, dash(d.attempt)),
          h('td', null, timeEl(d.at)),
          h('td', { class: 'nowrap' }, labelled(OUTCOME_LABELS[oc], d.outcome,
            'outcome ' + (OUTCOME_GOOD[oc] ? 'outcome--ok' : OUTCOME_BAD[oc] ? 'outcome--bad' : 'outcome--other'))),
          h('td', { class: 'nowrap' }, labelled(targetLabel(d.target), d.target)),
          h('td', { class: 'num' }, dash(d.status_code)),
          h('td', { class: 'mono case-id' }, dash(d.case_id)),
          h('td', { class: d.error ? 'err' : null }, d.error ? errorText(d.error) : (d.note ? String(d.note) : '—')),
          h('td', null, d.next_attempt_at ? timeEl(d.next_attempt_at) : '—'),
          h('td', { class: 'num' }, fmtDuration(d.duration_ms)));
      }))))
    : empty('尚未投递'), 'd-deliveries');

  replaceKids($('detail-content'), parts);
  replaceKids($('detail-ledger'), ledger);

  if (opts.resetForm || !state.correctDirty) fillCorrectForm(t);
  renderDispatch(t, opts.resetForm || !state.dispatchDirty);
  updateForwardButton();
  syncRowFromTicket(t);
  panelHooks.ticketRendered(t);
  if (document.getElementById('dup-compare')) showDuplicates(document.getElementById('dup-compare'), t, AgentDesk.reloadDetail);
  syncPartnerButton();
}

// The free-text address. Older tickets stored "朝阳区 望京…": drop that district prefix.
function addressText(loc) {
  var text = isBlank(loc.text) ? '' : String(loc.text).trim();
  if (loc.district && text.indexOf(loc.district + ' ') === 0) {
    var rest = text.slice(loc.district.length).trim();
    if (rest) text = rest;
  }
  return text;
}

function dispositionPairs(disp) {
  var pairs = [['处理方式', labelled(DISPOSITION_LABELS[disp.type], disp.type)]];
  var keys = DISPOSITION_FIELDS.filter(function (k) { return k in disp; });
  Object.keys(disp).forEach(function (k) {
    if (k !== 'type' && keys.indexOf(k) === -1) keys.push(k);
  });
  keys.forEach(function (k) {
    var v = disp[k];
    var val;
    if (isBlank(v)) val = '—';
    else if (k === 'at') val = timeEl(v);
    else if (k === 'target') val = labelled(targetLabel(v), v);
    else if (k === 'case_id' || k === 'receipt' || k === 'kb_entry_id') val = h('span', { class: 'mono' }, String(v));
    else if (k === 'kb_version') val = '第 ' + v + ' 版';
    else if (k === 'to') val = DIVERT_LABELS[String(v)] || String(v);
    else if (k === 'partner') val = partnerName(v);
    else if (k === 'partner_status') val = labelled(PARTNER_STATUS_LABELS[v], v);
    else if (k === 'status_at') val = timeEl(v);
    else if (k === 'transfer_id') val = h('span', { class: 'mono' }, String(v));
    else val = fmtValue(v);
    var label = DISPOSITION_FIELD_LABELS[k];
    pairs.push([label ? label : h('span', { class: 'raw' }, k), val]);
  });
  return pairs;
}

function casePairs(c) {
  return [
    ['案件编号', h('span', { class: 'mono' }, String(c.case_id))],
    ['办理状态', h('span', { class: 'case-status', 'data-status': c.status }, labelled(CASE_STATUS_LABELS[c.status], c.status))],
    ['状态时间', timeEl(c.status_at)],
    ['承办单位', dash(c.unit)],
    c.due_at ? ['延期至', timeEl(c.due_at)] : null,
    c.postponed_reason ? ['延期原因', String(c.postponed_reason)] : null,
    c.result ? ['办理结果', h('p', { class: 'content-text case-result' }, String(c.result))] : null,
    c.closed_at ? ['办结时间', timeEl(c.closed_at)] : null
  ];
}

function fillCorrectForm(t) {
  var loc = t.location || {};
  var kindSel = $('correct-kind');
  kindSel.value = t.kind && KIND_LABELS[t.kind] ? t.kind : '';
  var distSel = $('correct-district');
  distSel.value = loc.district || '';
  if (distSel.value !== (loc.district || '')) distSel.value = '';
  $('correct-street').value = loc.street || '';
  state.correctDirty = false;
}

// --- actions ---

function actionMsg(text, kind) { setMsg($('action-msg'), text, kind); }

function onNoteSubmit(ev) {
  ev.preventDefault();
  var id = state.selectedId;
  if (!id) return;
  var ta = $('note-text');
  var text = ta.value.trim();
  if (!text) { actionMsg('请填写备注内容', 'error'); ta.focus(); return; }
  withBusy($('note-submit'), function () {
    return api('POST', '/agent/tickets/' + encodeURIComponent(id) + '/notes', { text: text }).then(function (t) {
      state.drafts.delete(id);
      if (state.selectedId !== id) return;
      if (ta.value.trim() === text) ta.value = '';
      actionMsg('备注已保存', 'ok');
      if (t && t.id) renderDetail(t, { resetForm: false }); else loadDetail(id, { resetForm: false });
    }, function (e) {
      if (e.status !== 401 && state.selectedId === id) actionMsg('备注保存失败：' + e.message, 'error');
    });
  });
}

function onCorrectSubmit(ev) {
  ev.preventDefault();
  var id = state.selectedId;
  var t = state.detail;
  if (!id || !t || t.id !== id) { actionMsg('工单详情尚未加载完成，请稍候', 'error'); return; }
  var loc = t.location || {};
  var body = {};
  var kind = $('correct-kind').value;
  if (kind && kind !== t.kind) body.kind = kind;
  var district = $('correct-district').value;
  var street = $('correct-street').value.trim();
  var location = {};
  if (district !== (loc.district || '')) location.district = district || null;
  if (street !== (loc.street || '')) location.street = street;
  if (Object.keys(location).length) body.location = location;
  if (!Object.keys(body).length) { actionMsg('没有需要保存的更改', null); return; }

  withBusy($('correct-submit'), function () {
    return api('PATCH', '/agent/tickets/' + encodeURIComponent(id), body).then(function (nt) {
      if (state.selectedId !== id) return;
      state.correctDirty = false;
      actionMsg('更正已保存', 'ok');
      if (nt && nt.id) renderDetail(nt, { resetForm: true }); else loadDetail(id, { resetForm: true });
    }, function (e) {
      if (e.status !== 401 && state.selectedId === id) actionMsg('更正保存失败：' + e.message, 'error');
    });
  });
}

// ---------------------------------------------------------------------
// 分类与承办单位 (ticket.dispatch): triage proposes a topic and a handling unit, the agent
// confirms it or corrects it. The view is re-rendered with the ticket; the correction form is
// static (agent.html) so that an edit survives live updates.
// ---------------------------------------------------------------------

// The topic classes, once per login: the <select> groups second-level classes by first level.
function loadTaxonomy() {
  if (state.taxonomy) return Promise.resolve(state.taxonomy);
  if (state.taxonomyLoading) return state.taxonomyLoading;
  state.taxonomyLoading = api('GET', '/agent/taxonomy').then(function (data) {
    state.taxonomy = (data && Array.isArray(data.levels)) ? data.levels : [];
    fillCategoryOptions();
    if (state.detail && !state.dispatchDirty) fillDispatchForm(state.detail);
    return state.taxonomy;
  }, function (e) {
    if (e.status !== 401) replaceKids($('dispatch-category'), h('option', { value: '' }, '分类列表加载失败，请刷新详情重试'));
  }).finally(function () { state.taxonomyLoading = null; });
  return state.taxonomyLoading;
}

function fillCategoryOptions() {
  replaceKids($('dispatch-category'), [h('option', { value: '' }, '请选择二级分类')].concat((state.taxonomy || []).map(function (l1) {
    return h('optgroup', { label: l1.name }, (l1.children || []).map(function (name) {
      return h('option', { value: name }, name);
    }));
  })));
}

function dispatchOf(t) { return (t && t.dispatch) || null; }

function byAgent(d) { return !!d && typeof d.by === 'string' && d.by.indexOf('agent:') === 0; }

// 坐席确认 when the agent confirmed the bot's proposal (its provenance stays the bot's, marked
// confirmed_by); 坐席更正 when the agent set the class or unit (a provenance entry of their own).
function dispatchSetBy(t, d) {
  if (!byAgent(d)) return h('span', { class: 'dispatch-by dispatch-by--bot', title: d.model ? '分类模型 ' + d.model : null }, '智能推荐（待坐席确认）');
  var user = d.by.slice(6);
  var corrected = (Array.isArray(t.provenance) ? t.provenance : []).some(function (p) {
    return p && p.field === 'dispatch' && p.by === d.by;
  });
  return h('span', { class: 'dispatch-by dispatch-by--agent' }, (corrected ? '坐席更正：' : '坐席确认：') + user);
}

function unitEl(u) {
  var name = dash(u.name);
  return h('span', { class: 'dispatch-unit' },
    h('span', { class: 'dispatch-unit-name' }, name),
    u.type && name.indexOf(u.type) === -1 ? h('span', { class: 'muted' }, '（' + u.type + '）') : null,
    pct(u.confidence) ? h('span', { class: 'dispatch-confidence', title: '智能推荐的置信度' }, '置信度 ' + pct(u.confidence)) : null);
}

// The suggested hotline's name: from the partner directory, else the unit triage named for it
// (a desk without partner keys has no directory to ask).
var PARTNER_UNIT_TYPE = '外省市12345'; // triage/dispatch.py
function suggestedPartnerName(d) {
  var name = partnerName(d.partner);
  if (name === String(d.partner) && d.unit && d.unit.type === PARTNER_UNIT_TYPE && !isBlank(d.unit.name)) return String(d.unit.name);
  return name;
}

// 填入转外省市表单 only while the partner panel shows the transfer form (it renders after the detail).
function syncPartnerButton() {
  var btn = document.querySelector('#dispatch-view .dispatch-use-partner');
  var form = $('transfer-form');  // absent until (or unless) the partner panel has loaded
  if (btn) btn.hidden = !form || form.hidden;
}

function renderDispatch(t, refillForm) {
  if (!state.taxonomy) loadTaxonomy();  // a failed first load is retried with the next ticket shown
  var d = dispatchOf(t);
  var view = $('dispatch-view');
  var units = d ? [d.unit].concat(Array.isArray(d.alternatives) ? d.alternatives : []).filter(function (u) { return u && !isBlank(u.name); }) : [];
  replaceKids($('dispatch-units'), units.map(function (u, i) {
    return h('option', { value: u.name, label: (i === 0 && d.unit ? '推荐' : '备选') + (u.type ? '：' + u.type : '') });
  }));
  if (!d || (isBlank(d.category) && !d.unit && isBlank(d.partner))) {
    replaceKids(view, empty('尚未分类。转派时系统将自动分类并推荐承办单位，也可在下方直接指定。'));
  } else {
    var current = d.unit && d.unit.name;
    var alts = (Array.isArray(d.alternatives) ? d.alternatives : []).filter(function (u) {
      return u && !isBlank(u.name) && u.name !== current;
    }).slice(0, 2);
    var confirmable = d.by === 'bot' && (!isBlank(d.category) || d.unit);
    replaceKids(view, [
      kv([
        ['一级分类', dash(d.category_l1)],
        ['二级分类', dash(d.category)],
        [byAgent(d) ? '承办单位' : '推荐承办单位', d.unit ? unitEl(d.unit) : '—'],
        alts.length ? ['备选单位', h('span', { class: 'dispatch-alts' }, alts.map(function (u) {
          return h('button', {
            type: 'button', class: 'btn btn--small dispatch-alt', 'data-unit': u.name,
            title: '填入承办单位：' + u.name + (u.type ? '（' + u.type + '）' : '')
          }, u.name, pct(u.confidence) ? h('span', { class: 'muted' }, ' ' + pct(u.confidence)) : null);
        }))] : null,
        !isBlank(d.partner) ? ['外省市', h('span', { class: 'dispatch-partner' },
          h('span', { class: 'dispatch-partner-name' }, '建议转外省市：' + suggestedPartnerName(d)),
          h('button', {
            type: 'button', class: 'btn btn--small dispatch-use-partner', 'data-partner': d.partner, hidden: true,
            title: '在“转外省市”表单中选好对方热线，核对后提交'
          }, '填入转外省市表单'))] : null,
        ['设定', dispatchSetBy(t, d)]
      ]),
      confirmable ? h('div', { class: 'dispatch-actions' },
        h('button', { type: 'button', id: 'dispatch-confirm', class: 'btn btn--small btn--primary' }, '确认'),
        h('span', { class: 'hint' }, '分类和承办单位无误时确认；有误请在下方更正')) : null
    ]);
  }
  // Confirming or correcting changes the ticket's record; what was sent to the case system stays as sent.
  if (FORWARD_DONE_STATUSES[t.status]) view.appendChild(h('p', { class: 'hint dispatch-sent' }, '工单已转派：在此确认或更正只记入本工单，不会重新派单。'));
  $('dispatch-block').classList.toggle('is-proposed', !!d && d.by === 'bot');
  if (refillForm) fillDispatchForm(t);
}

function fillDispatchForm(t) {
  var d = dispatchOf(t) || {};
  var sel = $('dispatch-category');
  Array.prototype.slice.call(sel.querySelectorAll('option[data-extra]')).forEach(function (o) { o.remove(); });
  var current = isBlank(d.category) ? '' : String(d.category);
  sel.value = current;
  if (sel.value !== current && state.taxonomy) {
    // A class the taxonomy no longer lists: keep it visible as it is.
    sel.appendChild(h('option', { value: current, 'data-extra': '1' }, current + '（当前分类）'));
    sel.value = current;
  }
  sel.removeAttribute('aria-invalid');
  $('dispatch-unit').value = d.unit && !isBlank(d.unit.name) ? String(d.unit.name) : '';
  $('dispatch-unit').removeAttribute('aria-invalid');
  state.dispatchDirty = false;
}

function onDispatchEdit(ev) {
  state.dispatchDirty = true;
  ev.currentTarget.removeAttribute('aria-invalid');
}

function onDispatchViewClick(ev) {
  var btn = ev.target.closest && ev.target.closest('button');
  if (!btn) return;
  if (btn.id === 'dispatch-confirm') onDispatchConfirm(btn);
  else if (btn.hasAttribute('data-unit')) {
    var input = $('dispatch-unit');
    input.value = btn.getAttribute('data-unit');
    input.removeAttribute('aria-invalid');
    state.dispatchDirty = true;
    input.focus();
  } else if (btn.hasAttribute('data-partner')) usePartner(btn.getAttribute('data-partner'));
}

// Prepare 京津冀一键互转 with the suggested hotline; the agent still reviews and submits it.
function usePartner(partner) {
  var form = $('transfer-form');
  var sel = $('transfer-partner');
  if (!form || !sel || form.hidden) { actionMsg('该工单当前不能转外省市', 'warn'); return; }
  sel.value = partner;
  if (sel.value !== partner) { actionMsg('对方热线列表中没有' + partnerName(partner), 'warn'); return; }
  sel.dispatchEvent(new Event('change', { bubbles: true }));
  var reason = $('transfer-reason');
  if (!reason.value.trim()) reason.value = '诉求发生地在北京市以外，属对方热线管辖';
  form.scrollIntoView({ block: 'nearest' });
  reason.focus();
}

function onDispatchConfirm(btn) {
  var id = state.selectedId;
  var t = state.detail;
  if (!id || !t || t.id !== id) { actionMsg('工单详情尚未加载完成，请稍候', 'error'); return; }
  withBusy(btn, function () {
    return api('PATCH', '/agent/tickets/' + encodeURIComponent(id), { dispatch: { confirm: true } }).then(function (nt) {
      if (state.selectedId !== id) return;
      actionMsg('已确认分类与承办单位', 'ok');
      if (nt && nt.id) renderDetail(nt, { resetForm: false }); else loadDetail(id, { resetForm: false });
    }, function (e) {
      if (e.status !== 401 && state.selectedId === id) actionMsg('确认失败：' + apiMessage(e), 'error');
    });
  });
}

function onDispatchSubmit(ev) {
  ev.preventDefault();
  var id = state.selectedId;
  var t = state.detail;
  if (!id || !t || t.id !== id) { actionMsg('工单详情尚未加载完成，请稍候', 'error'); return; }
  var d = dispatchOf(t) || {};
  var category = $('dispatch-category').value;
  var unit = $('dispatch-unit').value.trim();
  var body = {};
  if (category && category !== (d.category || '')) body.category = category;
  if (unit && unit !== (d.unit && d.unit.name || '')) {
    if (unit.length < 2) {
      $('dispatch-unit').setAttribute('aria-invalid', 'true');
      $('dispatch-unit').focus();
      actionMsg('承办单位名称至少 2 个字', 'error');
      return;
    }
    body.unit = unit;
  }
  if (!Object.keys(body).length) {
    actionMsg(!category && !unit ? '请选择二级分类或填写承办单位' : '没有需要保存的更改', null);
    return;
  }

  withBusy($('dispatch-save'), function () {
    return api('PATCH', '/agent/tickets/' + encodeURIComponent(id), { dispatch: body }).then(function (nt) {
      if (state.selectedId !== id) return;
      state.dispatchDirty = false;
      actionMsg('分类与承办单位已更正', 'ok');
      if (nt && nt.id) renderDetail(nt, { resetForm: false }); else loadDetail(id, { resetForm: false });
    }, function (e) {
      if (e.status === 401 || state.selectedId !== id) return;
      (e.fields || []).forEach(function (f) {
        var el = f.field === 'dispatch.category' ? $('dispatch-category') : f.field === 'dispatch.unit' ? $('dispatch-unit') : null;
        if (el) el.setAttribute('aria-invalid', 'true');
      });
      actionMsg('分类与承办单位更正失败：' + apiMessage(e), 'error');
    });
  });
}

// Already forwarded (or otherwise settled): the status says so, or the history holds a
// forward decision / request whose delivery may still be under way.
function forwardDone(t) {
  if (!t) return false;
  if (FORWARD_DONE_STATUSES[t.status]) return true;
  return (Array.isArray(t.history) ? t.history : []).some(function (e) {
    if (!e) return false;
    if (e.event === 'forward_requested') return true;
    return e.event === 'routed' && e.detail && e.detail.decision === 'forward';
  });
}

function updateForwardButton() {
  var btn = $('forward');
  if (btn.getAttribute('aria-busy') === 'true') return;
  var id = state.selectedId;
  var t = state.detail && state.detail.id === id ? state.detail : null;
  // Until the full ticket is loaded, go by the list's summary status.
  var done = !!id && (state.forwardedIds.has(id) ||
    (t ? forwardDone(t) : !!(state.tickets.get(id) && FORWARD_DONE_STATUSES[state.tickets.get(id).status])));
  btn.disabled = done;
  btn.title = done ? '已转派，无需重复操作' : '';
  btn.classList.toggle('is-done', done);
  $('forward-hint').textContent = done ? '已转派，无需重复操作' : '提交后由系统投递至承办单位';
}

function onForward() {
  var id = state.selectedId;
  if (!id || $('forward').disabled) return;
  var t = state.detail && state.detail.id === id ? state.detail : state.tickets.get(id);
  var loc = t && t.location ? [t.location.district, t.location.street].filter(Boolean).join(' ') : '';
  DeskConfirm.ask({
    title: '确认转派',
    text: '确定将工单 ' + id + ' 转派至承办单位？系统将把以下内容提交至12345派单系统：',
    items: ['诉求内容、诉求类型（' + kindLabel(t && t.kind) + '）、紧急程度和办理时限',
      '诉求人信息' + (t && t.requester && t.requester.confidential ? '（已标注保密，承办单位不得泄露）' : ''),
      '地点' + (loc ? '（' + loc + '）' : '') + '、沟通记录和附件'],
    warning: '转派后无法撤回，如需更正分类或地点，请先保存更正再转派。',
    ok: '确定转派'
  }).then(function (yes) {
    if (yes && state.selectedId === id) sendForward(id);
  });
}

function sendForward(id) {
  if ($('forward').disabled) return;
  withBusy($('forward'), function () {
    return api('POST', '/agent/tickets/' + encodeURIComponent(id) + '/forward', {}).then(function () {
      state.forwardedIds.add(id);
      if (state.selectedId !== id) return;
      actionMsg('已提交转派，系统正在投递', 'ok');
      setTimeout(function () { if (state.selectedId === id) loadDetail(id, { resetForm: false }); }, 1500);
    }, function (e) {
      if (e.status === 409) state.forwardedIds.add(id);
      if (e.status === 401 || state.selectedId !== id) return;
      actionMsg(e.status === 409 ? e.message : '转派失败：' + e.message, e.status === 409 ? 'warn' : 'error');
    });
  }).finally(updateForwardButton);
}

// ---------------------------------------------------------------------
// Supervisor
// ---------------------------------------------------------------------

function supMsg(text, kind) { setMsg($('supervisor-msg'), text, kind); }

// Dead letters: a page at a time (cursor `next`), a checkbox per row, bulk re-drive after a
// confirmation. Every re-drive is exactly once on the server: 409 / already_gone = someone else did it.
var DL_PAGE = 100;
var DL_BATCH = 500; // ids per bulk request (the API's limit)
var deadLetters = { items: [], next: null, total: 0, selected: new Set(), pages: 0 };

function resetDeadLetters() {
  deadLetters.items = []; deadLetters.next = null; deadLetters.total = 0; deadLetters.pages = 0; deadLetters.selected.clear();
}

function deadLettersPath(before) {
  return '/supervisor/dead-letters?limit=' + DL_PAGE + (before ? '&before=' + encodeURIComponent(before) : '');
}

function loadDeadLetters(quiet) {
  var box = $('dead-letters');
  // The minute refresh leaves a supervisor's work alone: extra pages or a selection stay as they are.
  if (quiet && (deadLetters.pages > 1 || deadLetters.selected.size)) return Promise.resolve();
  if (!quiet && !box.firstChild) box.replaceChildren(empty('正在加载…'));
  return api('GET', deadLettersPath(null)).then(function (data) {
    var keep = deadLetters.selected;
    resetDeadLetters();
    addDeadLetterPage(data);
    (data && data.items || []).forEach(function (it) { if (keep.has(it.entry_id)) deadLetters.selected.add(it.entry_id); });
    renderDeadLetters();
  }, function (e) {
    if (e.status !== 401 && !quiet) box.replaceChildren(h('p', { class: 'msg msg--error' }, '加载失败：' + e.message));
  });
}

function addDeadLetterPage(data) {
  var seen = new Set(deadLetters.items.map(function (it) { return it.entry_id; }));
  ((data && data.items) || []).forEach(function (it) { if (!seen.has(it.entry_id)) deadLetters.items.push(it); });
  deadLetters.next = (data && data.next) || null;
  deadLetters.total = (data && data.total) || 0;
  deadLetters.pages += 1;
}

function loadMoreDeadLetters(btn) {
  if (!deadLetters.next) return;
  withBusy(btn, function () {
    return api('GET', deadLettersPath(deadLetters.next)).then(function (data) {
      addDeadLetterPage(data);
      renderDeadLetters();
      var more = $('dead-letters-more');
      if (more) more.focus(); else if ($('dead-letters-all')) $('dead-letters-all').focus();
    }, function (e) {
      if (e.status !== 401) supMsg('加载更多失败：' + e.message, 'error');
    });
  });
}

function renderDeadLetters() {
  var items = deadLetters.items;
  $('dead-letters-count').textContent = '（' + deadLetters.total + '）';
  var box = $('dead-letters');
  if (!items.length) { box.replaceChildren(empty('死信队列为空')); return; }
  var allChecked = items.every(function (it) { return deadLetters.selected.has(it.entry_id); });
  var n = deadLetters.selected.size;
  box.replaceChildren(
    h('div', { class: 'dead-letters-toolbar', role: 'group', 'aria-label': '批量重新投递' },
      h('label', { class: 'dl-select-all' },
        h('input', { type: 'checkbox', id: 'dead-letters-select-all', checked: allChecked, onchange: onSelectAllDeadLetters }),
        ' 全选'),
      h('button', {
        type: 'button', id: 'dead-letters-redrive-selected', class: 'btn btn--small', disabled: !n, onclick: onRedriveSelected
      }, '重新投递所选' + (n ? '（' + n + '）' : '')),
      h('button', {
        type: 'button', id: 'dead-letters-redrive-all', class: 'btn btn--small', onclick: onRedriveAll
      }, '全部重新投递（' + deadLetters.total + '）')),
    h('table', { class: 'table' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col', class: 'dl-check' }, h('span', { class: 'sr-only' }, '选择')),
        ['时间', '工单', '环节', '原因', '状态码', '尝试次数', '操作']
          .map(function (c) { return h('th', { scope: 'col' }, c); }))),
      h('tbody', null, items.map(function (it) {
        return h('tr', { class: 'dead-letter-row', 'data-entry-id': it.entry_id },
          h('td', { class: 'dl-check' }, h('input', {
            type: 'checkbox', class: 'dead-letter-check', 'data-entry-id': it.entry_id, checked: deadLetters.selected.has(it.entry_id),
            'aria-label': '选择 ' + (it.ticket_id || '') + (hopLabel(it.hop) ? '（' + hopLabel(it.hop) + '）' : ''),
            onchange: onDeadLetterCheck
          })),
          h('td', null, timeEl(it.at)),
          h('td', null, it.ticket_id ? ticketLink(it.ticket_id) : '—'),
          h('td', { class: 'nowrap' }, labelled(hopLabel(it.hop), it.hop)),
          h('td', { class: 'err' }, it.reason ? errorText(it.reason) : '—'),
          h('td', { class: 'num' }, dash(it.status_code)),
          h('td', { class: 'num' }, dash(it.attempts)),
          h('td', null, h('button', {
            type: 'button', class: 'btn btn--small redrive', 'data-entry-id': it.entry_id,
            'aria-label': '重新投递 ' + (it.ticket_id || '') + (hopLabel(it.hop) ? '（' + hopLabel(it.hop) + '）' : '')
          }, '重新投递')));
      }))),
    h('div', { class: 'dead-letters-foot' },
      h('span', { id: 'dead-letters-shown', class: 'muted' }, '已显示 ' + items.length + ' / 共 ' + deadLetters.total + ' 条'),
      deadLetters.next ? h('button', {
        type: 'button', id: 'dead-letters-more', class: 'btn btn--small',
        onclick: function (ev) { loadMoreDeadLetters(ev.currentTarget); }
      }, '加载更多') : null));
}

function syncDeadLetterSelection() {
  var n = deadLetters.selected.size;
  var btn = $('dead-letters-redrive-selected');
  if (btn) { btn.disabled = !n; btn.textContent = '重新投递所选' + (n ? '（' + n + '）' : ''); }
  var all = $('dead-letters-select-all');
  if (all) all.checked = !!deadLetters.items.length && deadLetters.items.every(function (it) { return deadLetters.selected.has(it.entry_id); });
}

function onDeadLetterCheck(ev) {
  var id = ev.currentTarget.getAttribute('data-entry-id');
  if (ev.currentTarget.checked) deadLetters.selected.add(id); else deadLetters.selected.delete(id);
  syncDeadLetterSelection();
}

function onSelectAllDeadLetters(ev) {
  var on = ev.currentTarget.checked;
  deadLetters.items.forEach(function (it) { if (on) deadLetters.selected.add(it.entry_id); else deadLetters.selected.delete(it.entry_id); });
  Array.prototype.forEach.call(document.querySelectorAll('#dead-letters input.dead-letter-check'), function (c) { c.checked = on; });
  syncDeadLetterSelection();
}

// A modal confirmation (re-drive cannot be undone); resolves true only on the confirm button.
function confirmRedrive(text) {
  var dlg = $('dead-letters-confirm');
  if (!dlg) {
    dlg = h('dialog', { id: 'dead-letters-confirm', class: 'confirm-dialog', 'aria-labelledby': 'dead-letters-confirm-text' },
      h('form', { method: 'dialog' },
        h('p', { id: 'dead-letters-confirm-text', class: 'confirm-text' }),
        h('p', { class: 'muted' }, '此操作无法撤销，工单将重新发送。'),
        h('div', { class: 'confirm-actions' },
          h('button', { type: 'submit', value: 'cancel', class: 'btn btn--small', id: 'dead-letters-confirm-cancel' }, '取消'),
          h('button', { type: 'submit', value: 'ok', class: 'btn btn--small btn--primary', id: 'dead-letters-confirm-ok' }, '确定重新投递'))));
    $('supervisor').appendChild(dlg);
  }
  $('dead-letters-confirm-text').textContent = text;
  dlg.returnValue = '';
  return new Promise(function (resolve) {
    dlg.addEventListener('close', function done() { resolve(dlg.returnValue === 'ok'); }, { once: true });
    dlg.showModal();
    $('dead-letters-confirm-cancel').focus();
  });
}

function redriveResultText(redriven, gone) {
  return '已重新投递 ' + redriven + ' 条' + (gone ? '，' + gone + ' 条已被他人重新投递或已不存在' : '');
}

function onRedriveSelected(ev) {
  var btn = ev.currentTarget;
  var ids = deadLetters.items.map(function (it) { return it.entry_id; }).filter(function (id) { return deadLetters.selected.has(id); });
  if (!ids.length) return;
  confirmRedrive('确定重新投递选中的 ' + ids.length + ' 条？').then(function (ok) {
    if (!ok) return;
    var sum = { redriven: 0, gone: 0 };
    var batches = [];
    for (var i = 0; i < ids.length; i += DL_BATCH) batches.push(ids.slice(i, i + DL_BATCH));
    withBusy(btn, function () {
      return batches.reduce(function (p, batch) {
        return p.then(function () {
          return api('POST', '/supervisor/dead-letters/redrive', { entry_ids: batch }).then(function (r) {
            sum.redriven += r.redriven; sum.gone += r.already_gone;
          });
        });
      }, Promise.resolve()).then(function () {
        supMsg(redriveResultText(sum.redriven, sum.gone), sum.gone ? 'warn' : 'ok');
      }, function (e) {
        if (e.status !== 401) supMsg('重新投递失败：' + e.message + (sum.redriven ? '（已重新投递 ' + sum.redriven + ' 条）' : ''), 'error');
      }).then(function () { deadLetters.selected.clear(); return loadDeadLetters(); });
    });
  });
}

function onRedriveAll(ev) {
  var btn = ev.currentTarget;
  if (!deadLetters.total) return;
  confirmRedrive('确定重新投递全部 ' + deadLetters.total + ' 条？').then(function (ok) {
    if (!ok) return;
    withBusy(btn, function () {
      return api('POST', '/supervisor/dead-letters/redrive', { all: true }).then(function (r) {
        supMsg(redriveResultText(r.redriven, r.already_gone), r.already_gone ? 'warn' : 'ok');
      }, function (e) {
        if (e.status !== 401) supMsg('重新投递失败：' + e.message, 'error');
      }).then(function () { deadLetters.selected.clear(); return loadDeadLetters(); });
    });
  });
}

function onRedrive(btn) {
  var entryId = btn.getAttribute('data-entry-id');
  if (!entryId) return;
  withBusy(btn, function () {
    return api('POST', '/supervisor/dead-letters/' + encodeURIComponent(entryId) + '/redrive', {}).then(function () {
      var row = btn.closest('tr');
      var link = row && row.querySelector('[data-open-ticket]');
      supMsg(link ? '已重新投递工单 ' + link.getAttribute('data-open-ticket') : '已重新投递', 'ok');
    }, function (e) {
      if (e.status === 409 || e.status === 404) supMsg(e.message, 'warn');
      else if (e.status !== 401) supMsg('重新投递失败：' + e.message, 'error');
    }).then(function () {
      if (!document.body.contains(btn)) return;
      deadLetters.selected.delete(entryId);
      return loadDeadLetters();
    });
  });
}

function loadLocalInbox(quiet) {
  var box = $('local-inbox');
  if (!quiet && !box.firstChild) box.replaceChildren(empty('正在加载…'));
  return api('GET', '/supervisor/local-inbox').then(function (data) {
    renderLocalInbox((data && data.items) || []);
  }, function (e) {
    if (e.status !== 401 && !quiet) box.replaceChildren(h('p', { class: 'msg msg--error' }, '加载失败：' + e.message));
  });
}

function renderLocalInbox(items) {
  $('local-inbox-count').textContent = '（' + items.length + '）';
  var box = $('local-inbox');
  if (!items.length) { box.replaceChildren(empty('本地收件箱为空')); return; }
  box.replaceChildren(h('table', { class: 'table' },
    h('thead', null, h('tr', null,
      ['收到时间', '案件编号', '工单', '办理状态', ''].map(function (c) { return h('th', { scope: 'col' }, c); }))),
    h('tbody', null, items.map(function (it) {
      var closed = it.case_status === 'closed';
      return h('tr', { class: 'local-inbox-row', 'data-case-id': it.case_id, 'data-ticket-id': it.ticket_id },
        h('td', null, timeEl(it.received_at)),
        h('td', { class: 'mono case-id' }, dash(it.case_id)),
        h('td', null, it.ticket_id ? ticketLink(it.ticket_id) : '—'),
        h('td', { class: 'case-status' }, it.case_status ? labelled(CASE_STATUS_LABELS[it.case_status], it.case_status) : '待受理'),
        h('td', null, closed || !it.ticket_id ? null : h('button', {
          type: 'button', class: 'btn btn--small', 'data-mark-case': it.ticket_id, title: '模拟派单系统，回告该案件的办理状态'
        }, '回告状态')));
    }))));
}

// The supervisor plays the case system for a local-inbox case: the same report the case
// system would send, through the same code on the server.
function openCaseMark(ticketId) {
  var form = $('case-mark-form');
  form.hidden = false;
  form.dataset.ticketId = ticketId;
  $('case-mark-ticket').textContent = ticketId;
  form.reset();
  clearCaseMarkErrors();
  syncCaseMarkFields();
  $('case-mark-status').focus();
}

function syncCaseMarkFields() {
  var status = $('case-mark-status').value;
  $('case-mark-unit-field').hidden = status !== 'closed' && status !== 'accepted';
  $('case-mark-result-field').hidden = status !== 'closed';
  $('case-mark-reason-field').hidden = status !== 'postponed';
  $('case-mark-due-field').hidden = status !== 'postponed';
}

function clearCaseMarkErrors() {
  Array.prototype.forEach.call($('case-mark-form').querySelectorAll('.field-error'), function (el) {
    el.textContent = ''; el.hidden = true;
  });
  setMsg($('case-mark-msg'), '', null);
}

function onCaseMarkSubmit(ev) {
  ev.preventDefault();
  var form = $('case-mark-form');
  var ticketId = form.dataset.ticketId;
  var status = $('case-mark-status').value;
  var body = { status: status };
  function put(name, id) { var v = $(id).value.trim(); if (v) body[name] = v; }
  if (status === 'closed' || status === 'accepted') put('unit', 'case-mark-unit');
  if (status === 'closed') put('result', 'case-mark-result');
  if (status === 'postponed') {
    put('reason', 'case-mark-reason');
    var day = $('case-mark-due').value;
    if (day) body.due_at = day + 'T18:00:00+08:00'; // the end of that working day, Beijing time
  }
  clearCaseMarkErrors();
  withBusy($('case-mark-submit'), function () {
    return api('POST', '/supervisor/local-inbox/' + encodeURIComponent(ticketId) + '/status', body).then(function () {
      form.hidden = true;
      supMsg('已回告工单 ' + ticketId + '：' + CASE_STATUS_LABELS[status], 'ok');
      return loadLocalInbox(true);
    }, function (e) {
      (e.fields || []).forEach(function (f) {
        var err = $('case-mark-' + ({ due_at: 'due' }[f.field] || f.field) + '-error');
        if (err) { err.textContent = f.message; err.hidden = false; }
      });
      if (e.status !== 401) setMsg($('case-mark-msg'), apiMessage(e), 'error');
    });
  });
}

// ---------------------------------------------------------------------
// WebSocket with reconnect + backoff
// ---------------------------------------------------------------------

function setWsStatus(s, title) {
  var el = $('ws-status');
  el.setAttribute('data-state', s);
  el.textContent = s === 'open' ? '实时连接正常' : s === 'connecting' ? '正在连接…' : '正在重连…';
  el.title = title || '';
}

function connectWs() {
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

function reconnectNow() {
  if (!state.wsWanted || state.ws) return;
  state.wsAttempt = 0;
  connectWs();
}

function disconnectWs() {
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

// ---------------------------------------------------------------------
// Channel panels (desk.js): phone, partner hotlines, sign-language video
// ---------------------------------------------------------------------

var panelsLoading = null;
var deskEntries = 0;  // each login into the desk; a late panel load must not reconnect an older one

// Once per page: the panels the server lists, loaded after the first login (the list needs the session).
function loadDeskPanels() {
  if (panelsLoading) return panelsLoading;
  panelsLoading = api('GET', '/agent/desk-panels').then(function (data) {
    return loadPanels(data && data.panels);
  }, function (e) {
    panelsLoading = null;  // try again at the next login
    if (window.console) console.error('desk panels:', e);
  });
  return panelsLoading;
}

Object.assign(AgentDesk, {
  // Filled by the partner panel once the directory is loaded (after the first ticket may be on screen):
  // a name arriving re-renders the detail, so history and 分类与承办单位 name the hotline.
  partnerNames: new Proxy({}, {
    set: function (names, id, name) {
      if (names[id] !== name) { names[id] = name; schedulePartnerNamesRender(); }
      return true;
    }
  }),
  actionMsg: function (text, kind) { actionMsg(text, kind); },
  reloadDetail: function () { if (state.selectedId) loadDetail(state.selectedId, { resetForm: false }); },
  KIND_LABELS: KIND_LABELS,
  openTicket: function (id, opts) { return openTicket(id, opts || { focus: false }); },
  selectedId: function () { return state.selectedId; },
  // True while the agent has unsaved corrections in the detail pane (do not switch tickets under them).
  editing: function () { return !!(state.correctDirty || state.dispatchDirty); },
  // Show a ticket just returned by an action, if the detail pane is on it.
  showTicket: function (t) {
    if (t && t.id && t.id === state.selectedId) renderDetail(t, { resetForm: false });
  },
  setTitlePrefix: function (prefix) { state.titlePrefix = prefix || ''; updateNewCount(); },
  fmtPhone: fmtPhone,
  kindLabel: kindLabel,
  channelLabel: channelLabel,
  statusLabel: statusLabel,
  timeEl: timeEl,
  ticketLink: ticketLink
});

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

boot();
