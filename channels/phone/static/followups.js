/*
 * Beijing 12345 hotline - agent desktop: the 回访 callback list of the phone panel.
 *
 * Phone tickets answered on the spot or closed (办结) wait here until an agent calls the citizen
 * back and records the answer: 是否解决, 满意 / 基本满意 / 不满意 and an optional reason.
 * Backend: GET /api/v1/agent/followups?channel=phone, POST /api/v1/agent/tickets/{id}/followup
 * (server/followup_routes.py). One answer per ticket: a second is refused with its message.
 * Built and mounted by desk.js (mountFollowups), refreshed on enter / socket open.
 */
import * as Staff from '/static/common/staff.js';
import { AgentDesk as Desk } from '/static/agent/desk.js';

var $ = Staff.$, h = Staff.h, replaceKids = Staff.replaceKids, api = Staff.api, withBusy = Staff.withBusy;
var SATISFACTION = [['satisfied', '满意'], ['basically_satisfied', '基本满意'], ['unsatisfied', '不满意']];

function radio(name, value, label) {
  return h('label', { class: 'fu-choice' }, h('input', { type: 'radio', name: name, value: value, required: true }), ' ' + label);
}

function form(item) {
  var id = item.id;
  return h('form', { class: 'fu-form', 'data-ticket': id, 'aria-label': '记录回访 ' + id },
    h('fieldset', { class: 'fu-group' }, h('legend', null, '问题是否已解决'),
      radio('resolved-' + id, 'true', '已解决'), radio('resolved-' + id, 'false', '未解决')),
    h('fieldset', { class: 'fu-group' }, h('legend', null, '满意度'),
      SATISFACTION.map(function (s) { return radio('satisfaction-' + id, s[0], s[1]); })),
    h('label', { class: 'fu-reason' }, '原因（选填）', h('input', { name: 'reason', maxlength: '500', autocomplete: 'off' })),
    h('p', { class: 'msg', role: 'status', 'aria-live': 'polite' }),
    h('button', { type: 'submit', class: 'btn btn--primary btn--small' }, '保存回访'));
}

function row(item) {
  return h('li', { class: 'fu-item', 'data-ticket': item.id },
    h('div', { class: 'fu-head' },
      h('button', { type: 'button', class: 'link fu-open', 'data-open': item.id }, item.id),
      h('span', { class: 'muted' }, ' ' + item.reason + ' · ' + (item.phone_masked || '未留电话'))),
    h('p', { class: 'fu-summary' }, item.summary || ''),
    form(item));
}

function load() {
  return api('GET', '/agent/followups?channel=phone').then(function (data) {
    var items = (data && data.items) || [];
    $('fu-count').textContent = items.length ? '（' + items.length + '）' : '';
    replaceKids($('fu-list'), items.length ? items.map(row) : [h('li', { class: 'empty' }, '暂无待回访的电话工单')]);
  }, function () {
    replaceKids($('fu-list'), [h('li', { class: 'msg msg--error' }, '回访列表加载失败，请点击刷新重试')]);
  });
}

function onSubmit(ev) {
  var f = ev.target.closest('form.fu-form');
  if (!f) return;
  ev.preventDefault();
  var id = f.getAttribute('data-ticket');
  var resolved = f.querySelector('input[name="resolved-' + id + '"]:checked');
  var satisfaction = f.querySelector('input[name="satisfaction-' + id + '"]:checked');
  var msg = f.querySelector('.msg');
  if (!resolved || !satisfaction) {
    Staff.setMsg(msg, '请选择是否解决和满意度', 'error');
    return;
  }
  var body = { resolved: resolved.value === 'true', satisfaction: satisfaction.value, reason: f.reason.value.trim() || null };
  withBusy(f.querySelector('button[type="submit"]'), function () {
    return api('POST', '/agent/tickets/' + encodeURIComponent(id) + '/followup', body).then(function () {
      Staff.setMsg($('fu-msg'), '已记录工单 ' + id + ' 的回访', 'ok');
      return load();
    }, function (e) {
      Staff.setMsg(msg, (e && e.message) || '保存失败，请重试', 'error');
    });
  });
}

export function mountFollowups() {
  Desk.mount('phone', 'list', h('section', { id: 'fu-panel', class: 'fu-panel', 'aria-labelledby': 'fu-heading' },
    h('div', { class: 'fu-bar' },
      h('h3', { id: 'fu-heading', class: 'block-title' }, '回访回拨', h('span', { id: 'fu-count', class: 'count' })),
      h('button', { id: 'fu-refresh', type: 'button', class: 'btn btn--small' }, '刷新')),
    h('p', { id: 'fu-msg', class: 'msg', role: 'status', 'aria-live': 'polite' }),
    h('ul', { id: 'fu-list', class: 'fu-list' })));
  $('fu-list').addEventListener('submit', onSubmit);
  $('fu-list').addEventListener('click', function (ev) {
    var b = ev.target.closest('[data-open]');
    if (b) Desk.openTicket(b.getAttribute('data-open'), { focus: true });
  });
  $('fu-refresh').addEventListener('click', load);
}

export { load as loadFollowups };
