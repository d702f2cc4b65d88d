/*
 * The knowledge-base workspace (/kb), 知识条目 tab: the entry list, its search and filters.
 */
import { $, api, dash, h, isBlank, replaceKids, setMsg } from '/static/common/staff.js';
import { state, statusChip } from './common.js';
import { openEntry } from './editor.js';

// ---------------------------------------------------------------------
// Entry list
// ---------------------------------------------------------------------

function listQuery() {
  var p = new URLSearchParams();
  var q = $('entry-search').value.trim();
  if (q) p.set('q', q);
  if ($('filter-status').value) p.set('status', $('filter-status').value);
  if ($('filter-category').value) p.set('category', $('filter-category').value);
  if ($('filter-expiring').checked) p.set('expiring', '1');
  if ($('filter-review-overdue').checked) p.set('review_overdue', '1');
  var s = p.toString();
  return s ? '?' + s : '';
}

export function loadList() {
  var seq = ++state.listSeq;
  if (!state.items.length) setMsg($('list-msg'), '正在加载条目…');
  return api('GET', '/kb/entries' + listQuery()).then(function (data) {
    if (seq !== state.listSeq) return;
    state.items = data.items || [];
    setCategories(data.categories || []);
    renderList();
    var filtered = listQuery() !== '';
    setMsg($('list-msg'), state.items.length ? '' : (filtered ? '没有符合条件的条目' : '知识库还没有条目'));
  }, function (e) {
    if (seq !== state.listSeq || e.status === 401) return;
    setMsg($('list-msg'), '条目列表加载失败：' + e.message, 'error');
  });
}

function setCategories(list) {
  state.categories = list.filter(function (c) { return !isBlank(c); });
  var sel = $('filter-category');
  var current = sel.value;
  var opts = [h('option', { value: '' }, '全部')];
  state.categories.forEach(function (c) { opts.push(h('option', { value: c }, c)); });
  if (current && state.categories.indexOf(current) === -1) opts.push(h('option', { value: current }, current));
  replaceKids(sel, opts);
  sel.value = current;
  replaceKids($('category-options'), state.categories.map(function (c) { return h('option', { value: c }); }));
}

function expiryEl(item) {
  if (isBlank(item.expires_at)) return h('span', { class: 'muted' }, '—');
  var cls = 'exp', note = null;
  if (item.expired) { cls += ' exp--expired'; note = '已过期'; }
  else if (item.expiring_soon) { cls += ' exp--soon'; note = '即将到期'; }
  return h('span', { class: cls }, item.expires_at, note ? h('span', { class: 'exp-note' }, note) : null);
}

function renderList() {
  var tbody = $('entry-list');
  var focusedId = document.activeElement && document.activeElement.closest &&
    document.activeElement.closest('.entry-row') ? document.activeElement.getAttribute('data-entry-id') : null;
  var rovingId = focusedId || state.entryId;
  if (!state.items.some(function (it) { return it.id === rovingId; })) rovingId = state.items.length ? state.items[0].id : null;
  var rows = state.items.map(function (it) {
    var selected = it.id === state.entryId;
    // Roving tabindex: the list is one tab stop, arrows move within it.
    return h('tr', {
      class: 'entry-row' + (selected ? ' is-selected' : ''),
      'data-entry-id': it.id, tabindex: it.id === rovingId ? '0' : '-1', 'aria-selected': selected ? 'true' : 'false'
    },
      h('td', { class: 'c-title' },
        h('div', { class: 'e-title' },
          h('span', { class: 'e-title-text' }, it.title),
          it.sample ? h('span', { class: 'badge badge--sample', title: '示例内容，非正式答复' }, '示例') : null),
        h('div', { class: 'e-id mono' }, it.id)),
      h('td', { class: 'c-cat', title: it.category || null }, dash(it.category)),
      h('td', { class: 'c-status' },
        statusChip(it.status, it.status_label),
        it.review_overdue ? h('span', { class: 'chip chip--overdue', title: '复核日期 ' + dash(it.review_due) }, '复核逾期') : null),
      h('td', { class: 'num c-ver', title: '最新第 ' + it.latest_version + ' 版' +
          (it.published_version ? '，已发布第 ' + it.published_version + ' 版' : '，尚未发布') },
        String(it.latest_version), h('span', { class: 'muted' }, ' / '),
        it.published_version ? String(it.published_version) : h('span', { class: 'muted' }, '—')),
      h('td', { class: 'c-exp' }, expiryEl(it)));
  });
  replaceKids(tbody, rows);
  $('entry-count').textContent = '共 ' + state.items.length + ' 条';
  if (focusedId) {
    var again = rowFor(focusedId);
    if (again) again.focus();
  }
}

function rowFor(id) {
  return $('entry-list').querySelector('tr.entry-row[data-entry-id="' + cssEscape(id) + '"]');
}

export function cssEscape(s) {
  return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&');
}

export function markSelectedRow() {
  $('entry-list').querySelectorAll('tr.entry-row').forEach(function (tr) {
    var on = tr.getAttribute('data-entry-id') === state.entryId;
    tr.classList.toggle('is-selected', on);
    tr.setAttribute('aria-selected', on ? 'true' : 'false');
  });
}

export function onListClick(ev) {
  var tr = ev.target.closest('tr.entry-row');
  if (tr) openEntry(tr.getAttribute('data-entry-id'));
}

export function onListKeydown(ev) {
  var tr = ev.target.closest('tr.entry-row');
  if (!tr) return;
  if (ev.key === 'Enter' || ev.key === ' ') {
    ev.preventDefault();
    openEntry(tr.getAttribute('data-entry-id'), { focus: true });
  } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
    ev.preventDefault();
    var next = ev.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling;
    if (next) moveRoving(tr, next);
    else if (ev.key === 'ArrowUp') $('entry-search').focus();
  } else if (ev.key === 'Home' || ev.key === 'End') {
    ev.preventDefault();
    var rows = tr.parentNode.children;
    moveRoving(tr, ev.key === 'Home' ? rows[0] : rows[rows.length - 1]);
  }
}

export function moveRoving(from, to) {
  if (!to || from === to) return;
  from.tabIndex = -1;
  to.tabIndex = 0;
  to.focus();
}

export function scheduleListReload() {
  clearTimeout(state.searchTimer);
  state.searchTimer = setTimeout(loadList, 250);
}
