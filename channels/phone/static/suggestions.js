/*
 * Beijing 12345 hotline - agent desktop, phone panel: the knowledge-base answers suggested for what
 * the citizen said (the `call.suggestions` event, or the LiveCall's list). Each shows its title,
 * category and how well it matches, an excerpt that opens in full, and "插入答复", which adds the
 * answer to the ticket's messages (POST .../kb-answers) and marks it inserted; the ticket's
 * history tells which were inserted already (call-loading.js). Focus stays on the button the
 * agent used when the list is redrawn.
 */
import * as Staff from '/static/common/staff.js';
import { AgentDesk as Desk } from '/static/agent/desk.js';
import { current } from './calls-model.js';

var $ = Staff.$, h = Staff.h, replaceKids = Staff.replaceKids, api = Staff.api, isBlank = Staff.isBlank;
var EXCERPT_CHARS = 60;

// From call-loading.js, given to bindSuggestions: {took(c, ticket)}.
var actions = null;

export function renderSuggestions(c) {
  var box = $('call-suggestions');
  var focused = document.activeElement && box.contains(document.activeElement) && document.activeElement.closest('[data-entry-id]')
    ? { id: document.activeElement.closest('[data-entry-id]').getAttribute('data-entry-id'),
      cls: document.activeElement.classList.contains('sg-toggle') ? 'sg-toggle' : 'sg-insert' } : null;
  var items = Array.isArray(c.suggestions) ? c.suggestions : [];
  if (!items.length) {
    replaceKids(box, h('li', { class: 'empty sg-empty' }, c.ended ? '本次通话没有推荐答复。' : '市民说出诉求后，这里会推荐知识库答复。'));
    return;
  }
  replaceKids(box, items.map(function (it, n) {
    var id = String(it.entry_id);
    var answer = isBlank(it.answer) ? '' : String(it.answer);
    var long = answer.length > EXCERPT_CHARS;
    var open = c.expanded.has(id);
    var inserted = c.inserted.has(id);
    var pending = c.pending.has(id);
    var answerId = 'sg-answer-' + n;
    var err = c.sgMsgs[id];
    return h('li', { class: 'sg-item' + (inserted ? ' is-inserted' : ''), 'data-entry-id': id },
      h('div', { class: 'sg-head' },
        h('span', { class: 'sg-title' }, isBlank(it.title) ? id : String(it.title)),
        it.category ? h('span', { class: 'chip sg-category' }, String(it.category)) : null,
        typeof it.coverage === 'number' ? h('span', { class: 'sg-match', title: '市民所说与该条目的吻合程度' },
          '吻合 ' + Math.round(it.coverage * 100) + '%') : null),
      h('p', { class: 'sg-answer', id: answerId }, open || !long ? answer : answer.slice(0, EXCERPT_CHARS) + '…'),
      h('div', { class: 'sg-actions' },
        long ? h('button', {
          type: 'button', class: 'linkish sg-toggle', 'aria-expanded': open ? 'true' : 'false', 'aria-controls': answerId
        }, open ? '收起' : '展开全文') : null,
        h('span', { class: 'spacer' }),
        h('button', {
          type: 'button', class: 'btn btn--small ' + (inserted ? 'sg-insert is-done' : 'btn--primary sg-insert'),
          disabled: inserted || pending, 'aria-busy': pending ? 'true' : null,
          'aria-label': inserted ? '已插入：' + (it.title || id) : '插入答复：' + (it.title || id)
        }, inserted ? '已插入' : pending ? '正在插入…' : '插入答复')),
      err ? h('p', { class: 'msg msg--error', role: 'alert' }, err) : null);
  }));
  if (focused) {
    var again = box.querySelector('[data-entry-id="' + focused.id + '"] .' + focused.cls);
    if (again && !again.disabled) again.focus();
  }
}

function onSuggestionsClick(ev) {
  var c = current();
  var btn = ev.target.closest && ev.target.closest('button');
  if (!c || !btn) return;
  var item = btn.closest('[data-entry-id]');
  if (!item) return;
  var id = item.getAttribute('data-entry-id');
  if (btn.classList.contains('sg-toggle')) {
    if (c.expanded.has(id)) c.expanded.delete(id); else c.expanded.add(id);
    renderSuggestions(c);
  } else if (btn.classList.contains('sg-insert') && !btn.disabled) {
    insertAnswer(c, id);
  }
}

function insertAnswer(c, entryId) {
  if (c.pending.has(entryId) || c.inserted.has(entryId)) return;
  c.pending.add(entryId);
  delete c.sgMsgs[entryId];
  renderSuggestions(c);
  api('POST', '/agent/tickets/' + encodeURIComponent(c.ticketId) + '/kb-answers', { entry_id: entryId }).then(function (t) {
    c.pending.delete(entryId);
    c.inserted.add(entryId);
    actions.took(c, t);
    // Show the answer in the ticket's messages.
    if (Desk.selectedId() !== c.ticketId && !Desk.editing()) Desk.openTicket(c.ticketId, { focus: false });
    var done = $('call-suggestions').querySelector('[data-entry-id="' + entryId + '"] .sg-insert');
    if (done) done.focus();
  }, function (e) {
    c.pending.delete(entryId);
    if (e.status !== 401) c.sgMsgs[entryId] = '插入失败：' + e.message;
    if (c === current()) renderSuggestions(c);
  });
}

export function bindSuggestions(withActions) {
  actions = withActions;
  $('call-suggestions').addEventListener('click', onSuggestionsClick);
}
