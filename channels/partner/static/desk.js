/*
 * Beijing 12345 hotline - agent desktop: 京津冀一键互转.
 *
 * One click sends the selected ticket to a Tianjin or Hebei hotline (for a live call the call
 * is put through at the same time), with the consent gate for the citizen's name and number;
 * transfers from partner hotlines pop up for every agent until one accepts; a received
 * transfer is reported back (受理 / 办理中 / 办结回告).
 * Backend: channels/partner/desk.py (routes), routes.py (partner API), delivery.py (outbox).
 *
 * Served at /static/partner/desk.js (styles: desk.css); the desk loads it when
 * GET /api/v1/agent/desk-panels lists it, and it plugs in with AgentDesk.register()
 * (/static/agent/desk.js). Its markup is built here (markup()) and mounted in the desk's slots.
 * All untrusted text is inserted with textContent via h(); innerHTML is never used.
 */
import * as Staff from '/static/common/staff.js';
import * as DeskConfirm from '/static/agent/confirm.js';
import { AgentDesk as Desk } from '/static/agent/desk.js';

var $ = Staff.$, h = Staff.h, replaceKids = Staff.replaceKids, setMsg = Staff.setMsg;
var api = Staff.api, withBusy = Staff.withBusy, isBlank = Staff.isBlank;

var STATUS_LABELS = { received: '待受理', accepted: '已受理', in_progress: '办理中', resolved: '已办结' };
var STATUS_RANK = { received: 0, accepted: 1, in_progress: 2, resolved: 3 };
var FIELD_LABELS = { 'requester.name': '姓名', 'requester.phone': '电话', 'requester.callback_phone': '回拨电话' };

// Always in a transfer envelope (channels/partner/envelope.py build_envelope).
var ALWAYS_SHARED = '诉求内容、诉求类型、紧急程度、受理时间，以及转办原因和您的姓名';

// What the partner will receive with this ticket, and what it will not: for the confirmation.
function sharedItems(t, partner, consented) {
  var cases = partner.case_fields || ['location', 'messages', 'transcript', 'attachments'];
  var items = [ALWAYS_SHARED];
  var n = function (list) { return Array.isArray(list) ? list.length : 0; };
  if (cases.indexOf('location') !== -1 && t.location && (t.location.district || t.location.street || t.location.text)) items.push('诉求地点');
  if (cases.indexOf('messages') !== -1 && n(t.messages)) items.push('沟通记录（' + n(t.messages) + ' 条）');
  if (cases.indexOf('transcript') !== -1 && n(t.transcript)) items.push('通话转写（' + n(t.transcript) + ' 段）');
  if (cases.indexOf('attachments') !== -1 && n(t.attachments)) items.push('附件（' + n(t.attachments) + ' 个）');
  var present = personalFields(t);
  var given = present.filter(function (f) { return consented && (partner.personal_fields || []).indexOf(f) !== -1; });
  var kept = present.filter(function (f) { return given.indexOf(f) === -1; });
  if (given.length) items.push('市民的' + given.map(function (f) { return FIELD_LABELS[f]; }).join('、') + '（市民已同意）');
  if (kept.length) items.push('不共享市民的' + kept.map(function (f) { return FIELD_LABELS[f]; }).join('、'));
  return items;
}

var state = {
  partners: [],        // [{id, name, region, route, personal_fields}]
  pops: new Map(),     // ticket id -> partner.transfer_in event
  ticket: null,        // the ticket shown in the detail pane
  active: false
};

// ---------------------------------------------------------------------
// Partner list
// ---------------------------------------------------------------------

function loadPartners() {
  return api('GET', '/agent/partners').then(function (data) {
    state.partners = (data && data.partners) || [];
    state.partners.forEach(function (p) { Desk.partnerNames[p.id] = p.name; });
    renderPartnerSelect();
    if (state.ticket) render(state.ticket);
  }, function () { state.partners = []; });
}

function renderPartnerSelect() {
  var select = $('transfer-partner');
  var groups = {};
  var order = [];
  state.partners.forEach(function (p) {
    if (!groups[p.region]) { groups[p.region] = []; order.push(p.region); }
    groups[p.region].push(p);
  });
  replaceKids(select, [h('option', { value: '' }, '请选择对方热线')].concat(order.map(function (region) {
    return h('optgroup', { label: region }, groups[region].map(function (p) {
      return h('option', { value: p.id }, p.name);
    }));
  })));
}

function partnerById(id) {
  for (var i = 0; i < state.partners.length; i++) if (state.partners[i].id === id) return state.partners[i];
  return null;
}

// ---------------------------------------------------------------------
// The detail pane: transfer form, or reporting back on a received transfer
// ---------------------------------------------------------------------

function transferRequested(t) {
  return (t.history || []).some(function (e) { return e && e.event === 'transfer_requested'; });
}

function canTransfer(t) {
  var d = t.disposition;
  return state.partners.length > 0 && !(d && d.type === 'transferred') && !transferRequested(t) &&
    ['received', 'forwarded'].indexOf(t.status) !== -1;
}

function personalFields(t) {
  var r = t.requester || {};
  return ['requester.name', 'requester.phone', 'requester.callback_phone'].filter(function (f) {
    return !isBlank(r[f.slice('requester.'.length)]);
  });
}

function render(t) {
  state.ticket = t;
  var form = $('transfer-form');
  var show = canTransfer(t);
  form.hidden = !show;
  if (show) renderConsent(t);
  renderStatusForm(t);
}

function renderConsent(t) {
  var present = personalFields(t);
  var consented = !!(t.requester && t.requester.consent_share_partner);
  $('transfer-consent-row').hidden = consented || present.length === 0;
  var partner = partnerById($('transfer-partner').value);
  var withheld = present.filter(function (f) {
    if (!consented && !$('transfer-consent').checked) return true;
    return partner ? partner.personal_fields.indexOf(f) === -1 : false;
  });
  var note = withheld.length
    ? '对方将收不到市民的' + withheld.map(function (f) { return FIELD_LABELS[f]; }).join('、') + '。'
    : (present.length ? '市民已同意，姓名和电话将随工单转出。' : '');
  if (t.channel === 'phone' && t.status === 'received') note += '通话中时，来电将同时转接至对方热线。';
  $('transfer-note').textContent = note;
}

function reportedStatus(t) {
  var current = 'received';
  (t.history || []).forEach(function (e) {
    if (e && e.event === 'partner_status_set' && e.detail && STATUS_RANK[e.detail.status] !== undefined) current = e.detail.status;
  });
  return current;
}

function renderStatusForm(t) {
  var form = $('partner-status-form');
  var isTransfer = t.channel === 'partner' && t.source && t.source.extra && t.source.extra.transfer_id;
  form.hidden = !isTransfer;
  if (!isTransfer) return;
  var current = reportedStatus(t);
  $('partner-status-current').textContent = '已向' + (Desk.partnerNames[t.source.extra.origin] || '转出方') +
    '回告：' + STATUS_LABELS[current] + '（对方工单 ' + (t.source.extra.origin_ticket_id || '—') + '）';
  form.querySelectorAll('[data-partner-status]').forEach(function (btn) {
    btn.disabled = STATUS_RANK[btn.getAttribute('data-partner-status')] <= STATUS_RANK[current];
  });
}

function onTransferSubmit(ev) {
  ev.preventDefault();
  var t = state.ticket;
  if (!t) return;
  var partner = $('transfer-partner').value;
  var reason = $('transfer-reason').value.trim();
  if (!partner) { setMsg($('transfer-msg'), '请选择对方热线', 'error'); $('transfer-partner').focus(); return; }
  if (reason.length < 2) { setMsg($('transfer-msg'), '请填写转办原因', 'error'); $('transfer-reason').focus(); return; }
  var body = { partner: partner, reason: reason, verbal_consent: $('transfer-consent').checked };
  var id = t.id;
  var chosen = partnerById(partner) || { id: partner, name: partner, personal_fields: [] };
  var consented = !!(t.requester && t.requester.consent_share_partner) || body.verbal_consent;
  var live = t.channel === 'phone' && t.status === 'received';
  DeskConfirm.ask({
    title: '确认转外省市',
    text: '确定将此诉求转派至 ' + chosen.name + '？将共享：',
    items: sharedItems(t, chosen, consented),
    warning: '转派后无法撤回，工单将由对方热线办理。' + (live ? '通话中时，来电将同时转接至对方热线。' : ''),
    ok: '确定转派'
  }).then(function (yes) {
    if (!yes) { setMsg($('transfer-msg'), '已取消，工单未转出', null); return; }
    if (!state.ticket || state.ticket.id !== id) return;
    sendTransfer(id, partner, body);
  });
}

function sendTransfer(id, partner, body) {
  withBusy($('transfer-submit'), function () {
    return api('POST', '/agent/tickets/' + encodeURIComponent(id) + '/transfer', body).then(function (res) {
      $('transfer-reason').value = '';
      $('transfer-consent').checked = false;
      var text = '已提交转至' + (Desk.partnerNames[partner] || partner) + (res.live_call ? '，来电正在转接' : '') + '，系统正在投递';
      setMsg($('transfer-msg'), '', null);
      Desk.actionMsg(text, 'ok');
      Desk.reloadDetail();
    }, function (e) {
      if (e.status === 401) return;
      setMsg($('transfer-msg'), '转出失败：' + e.message, 'error');
    });
  });
}

function onStatusClick(ev) {
  var btn = ev.target.closest && ev.target.closest('[data-partner-status]');
  if (!btn || !state.ticket) return;
  var status = btn.getAttribute('data-partner-status');
  var result = $('partner-result').value.trim();
  if (status === 'resolved' && !result) {
    setMsg($('partner-status-msg'), '办结回告须填写办理结果', 'error');
    $('partner-result').focus();
    return;
  }
  var id = state.ticket.id;
  if (status !== 'resolved') { sendStatus(btn, id, status, result); return; }
  var origin = Desk.partnerNames[state.ticket.source.extra.origin] || '转出方';
  DeskConfirm.ask({
    title: '确认办结回告',
    text: '确定向 ' + origin + ' 回告此诉求已办结？将告知对方的办理结果：',
    items: [result],
    warning: '办结回告发出后无法撤回或更改。',
    ok: '确定回告'
  }).then(function (yes) {
    if (yes && state.ticket && state.ticket.id === id) sendStatus(btn, id, status, result);
  });
}

function sendStatus(btn, id, status, result) {
  withBusy(btn, function () {
    return api('POST', '/agent/tickets/' + encodeURIComponent(id) + '/partner-status',
      status === 'resolved' ? { status: status, result: result } : { status: status }).then(function () {
      setMsg($('partner-status-msg'), '已回告：' + STATUS_LABELS[status], 'ok');
      if (status === 'resolved') $('partner-result').value = '';
      removePop(id);
      Desk.reloadDetail();
    }, function (e) {
      if (e.status !== 401) setMsg($('partner-status-msg'), '回告失败：' + e.message, 'error');
    });
  });
}

// ---------------------------------------------------------------------
// Pops: transfers from partner hotlines, until someone accepts them
// ---------------------------------------------------------------------

function renderPops() {
  var box = $('partner-pops');
  var items = Array.from(state.pops.values());
  box.hidden = items.length === 0;
  $('partner-pops-count').textContent = items.length ? String(items.length) : '';
  replaceKids($('partner-pop-list'), items.map(function (msg) {
    var t = msg.ticket || {};
    return h('li', { class: 'partner-pop', 'data-pop': t.id },
      h('span', { class: 'pop-origin' }, (msg.origin && msg.origin.name || '外省市热线') + ' 转来'),
      msg.live_call ? h('span', { class: 'pop-live' }, '来电同时转入，请接听') : null,
      h('span', { class: 'pop-summary' }, t.summary || ''),
      h('span', { class: 'pop-reason' }, '转办原因：' + (msg.reason || '—')),
      h('div', { class: 'btn-row' },
        Desk.ticketLink(t.id),
        h('button', { type: 'button', class: 'btn btn--small btn--primary', 'data-pop-accept': t.id }, '受理')));
  }));
}

// The waiting transfers, e.g. after a reload or a lost connection (live pops may have been missed).
function loadPending() {
  return api('GET', '/agent/partner-transfers').then(function (data) {
    state.pops.clear();
    ((data && data.transfers) || []).forEach(function (msg) { if (msg.ticket && msg.ticket.id) state.pops.set(msg.ticket.id, msg); });
    renderPops();
  }, function () { /* the live pops still arrive */ });
}

function removePop(id) {
  if (state.pops.delete(id)) renderPops();
}

function onPopClick(ev) {
  var btn = ev.target.closest && ev.target.closest('[data-pop-accept]');
  if (!btn) return;
  var id = btn.getAttribute('data-pop-accept');
  withBusy(btn, function () {
    return api('POST', '/agent/tickets/' + encodeURIComponent(id) + '/partner-status', { status: 'accepted' }).then(function () {
      removePop(id);
      Desk.openTicket(id, { focus: true });
    }, function (e) {
      if (e.status === 409) removePop(id);
      else if (e.status !== 401) Desk.actionMsg('受理失败：' + e.message, 'error');
    });
  });
}

function onEvent(msg) {
  if (msg.type === 'partner.transfer_in' && msg.ticket && msg.ticket.id) {
    state.pops.set(msg.ticket.id, msg);
    renderPops();
    $('partner-announcer').textContent = (msg.origin && msg.origin.name || '外省市热线') + '转来一件工单，待受理';
  } else if (msg.type === 'partner.transfer_claimed') {
    removePop(msg.ticket_id);
  }
}

// ---------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------

// ---------------------------------------------------------------------
// Markup: the pops above the ticket list, the transfer and report-back forms in the detail
// pane's actions column (hidden until a ticket allows them), the screen-reader announcer.
// ---------------------------------------------------------------------

function markup() {
  // Transfers from partner hotlines waiting for an agent.
  Desk.mount('partner', 'list', h('div', { id: 'partner-pops', class: 'partner-pops', role: 'region', 'aria-label': '外省市转入待受理', hidden: true },
    h('h3', { class: 'block-title' }, '外省市转入待受理 ', h('span', { id: 'partner-pops-count', class: 'count' })),
    h('ul', { id: 'partner-pop-list', class: 'partner-pop-list' })));
  Desk.mount('partner', 'actions', [
    // 京津冀一键互转: shown while the ticket can still be transferred.
    h('form', { id: 'transfer-form', class: 'action-block', hidden: true, novalidate: true },
      h('h3', { class: 'block-title' }, '转外省市 ', h('span', { class: 'muted' }, '（京津冀一键互转）')),
      h('div', { class: 'field' },
        h('label', { for: 'transfer-partner' }, '对方热线'),
        h('select', { id: 'transfer-partner', required: true })),
      h('div', { class: 'field' },
        h('label', { for: 'transfer-reason' }, '转办原因'),
        h('textarea', {
          id: 'transfer-reason', rows: '2', maxlength: '500', required: true,
          placeholder: '如：诉求发生地在天津市河西区，属对方管辖'
        })),
      h('div', { id: 'transfer-consent-row', class: 'field field--check', hidden: true },
        h('label', {}, h('input', { id: 'transfer-consent', type: 'checkbox' }), '市民已口头同意向对方热线提供本人姓名和电话')),
      h('p', { id: 'transfer-note', class: 'hint' }),
      h('button', { id: 'transfer-submit', type: 'submit', class: 'btn btn--warn' }, '确认转出'),
      h('p', { id: 'transfer-msg', class: 'msg', role: 'status', 'aria-live': 'polite' })),
    // A transfer we received: report back to the hotline that sent it.
    h('form', { id: 'partner-status-form', class: 'action-block', hidden: true, novalidate: true },
      h('h3', { class: 'block-title' }, '向转出方回告'),
      h('p', { id: 'partner-status-current', class: 'hint' }),
      h('div', { class: 'field' },
        h('label', { for: 'partner-result' }, '办理结果 ', h('span', { class: 'muted' }, '（办结回告时必填）')),
        h('textarea', { id: 'partner-result', rows: '2', maxlength: '2000' })),
      h('div', { class: 'btn-row' },
        h('button', { type: 'button', class: 'btn', 'data-partner-status': 'accepted' }, '受理'),
        h('button', { type: 'button', class: 'btn', 'data-partner-status': 'in_progress' }, '办理中'),
        h('button', { type: 'button', class: 'btn btn--primary', 'data-partner-status': 'resolved' }, '办结回告')),
      h('p', { id: 'partner-status-msg', class: 'msg', role: 'status', 'aria-live': 'polite' }))
  ]);
  // Screen-reader announcements for transfers from partner hotlines.
  Desk.mount('partner', 'end', h('div', { id: 'partner-announcer', class: 'sr-only', 'aria-live': 'assertive', 'aria-atomic': 'true' }));
}

markup();

var bound = false;

Desk.register({
  channel: 'partner',
  events: 'partner.',
  enter: function () {
    state.active = true;
    if (!bound) {
      bound = true;
      $('transfer-form').addEventListener('submit', onTransferSubmit);
      $('transfer-partner').addEventListener('change', function () { if (state.ticket) renderConsent(state.ticket); });
      $('transfer-consent').addEventListener('change', function () { if (state.ticket) renderConsent(state.ticket); });
      $('partner-status-form').addEventListener('click', onStatusClick);
      $('partner-pops').addEventListener('click', onPopClick);
    }
    loadPartners();  // the waiting transfers are loaded once the socket is open (socketOpen)
  },
  socketOpen: loadPending,
  teardown: function () {
    state.active = false;
    state.pops.clear();
    state.ticket = null;
    renderPops();
  },
  event: onEvent,
  ticketRendered: render
});
