/*
 * Beijing 12345 hotline - agent desktop: the supervisor's pane.
 *
 * Dead letters (failed deliveries): a page at a time, re-driven one by one or in bulk after a
 * confirmation. The local inbox (the forwarded tickets when no case system is configured): the
 * supervisor plays the case system and reports a case's status (受理, 办理中, 延期, 办结) through
 * the same server code. Shown to supervisors only; agent.js loads it at login and every minute.
 */
import { $, dash, h, setMsg, api, withBusy } from '/static/common/staff.js';
import { CASE_STATUS_LABELS, errorText, hopLabel, labelled } from './labels.js';
import { apiMessage, timeEl } from './format.js';
import { empty, ticketLink } from './parts.js';

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

export function loadDeadLetters(quiet) {
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

export function onRedrive(btn) {
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

export function loadLocalInbox(quiet) {
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
export function openCaseMark(ticketId) {
  var form = $('case-mark-form');
  form.hidden = false;
  form.dataset.ticketId = ticketId;
  $('case-mark-ticket').textContent = ticketId;
  form.reset();
  clearCaseMarkErrors();
  syncCaseMarkFields();
  $('case-mark-status').focus();
}

export function syncCaseMarkFields() {
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

export function onCaseMarkSubmit(ev) {
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

// Logged out: the supervisor pane hidden and empty.
export function clearSupervisor() {
  $('supervisor').hidden = true;
  $('dead-letters').replaceChildren();
  resetDeadLetters();
  $('local-inbox').replaceChildren();
  $('dead-letters-count').textContent = '';
  $('local-inbox-count').textContent = '';
  setMsg($('supervisor-msg'), '');
}
