/*
 * Beijing 12345 hotline - agent desktop: the ticket list.
 *
 * Loads the newest page and older pages (加载更早的工单), keeps the rows in step with the
 * tickets (keyed: a row is updated in place, so focus stays), applies the live ticket.created /
 * ticket.updated events, counts and announces new tickets (a screen-reader announcer, the page
 * title), filters the rows as the agent types, and moves between rows with the keyboard (Enter
 * opens a ticket).
 */
import { $, h, setMsg, toMs, api, withBusy } from '/static/common/staff.js';
import { state } from './state.js';
import { channelLabel, kindLabel, statusLabel } from './labels.js';
import { dueEl, timeEl } from './format.js';
import { channelChip, kindChip, secretBadge, statusChip } from './parts.js';
import { openTicket, scheduleDetailRefresh } from './detail.js';

var PAGE_SIZE = 50;
var BASE_TITLE = '12345 坐席工作台';

export function resetList() {
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

export function loadList() {
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

export function loadMore() {
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

export function updateRow(id) {
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
export function syncRowFromTicket(t) {
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

export function onTicketEvent(type, t) {
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

export function updateNewCount() {
  var n = state.unseen.size;
  $('new-count-num').textContent = String(n);
  $('new-count').hidden = n === 0;
  document.title = state.titlePrefix + (n ? '(' + n + ') ' + BASE_TITLE : BASE_TITLE);
}

export function markSeen(id) {
  if (!state.unseen.delete(id)) return;
  updateRow(id);
  updateNewCount();
}

export function markAllSeen() {
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

export function applyFilter() {
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

export function firstVisibleRow() { return visibleRows()[0] || null; }

export function onListKeydown(ev) {
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

export function onListClick(ev) {
  var row = ev.target.closest && ev.target.closest('.ticket-row');
  if (row) openTicket(row.getAttribute('data-ticket-id'), { focus: false });
}
