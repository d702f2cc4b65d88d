/*
 * Beijing 12345 hotline - agent desktop, phone panel: the fields pre-filled from the transcript
 * (诉求类型, 地点, 回拨电话). Each row shows the value on the ticket, whether it is still the
 * machine's, confirmed (and by whom) or changed by hand, and "来源" (the utterance it came from);
 * the agent confirms it (POST .../prefill/{field}/confirm) or corrects it in a small editor
 * (PATCH the ticket). Rows are updated in place, keyed by field, so an open editor and the focus
 * survive the ticket reloading under them. What a field's state is comes from the ticket's `asr`
 * provenance (ticketValue and PREFILL_FIELDS are also what call-loading.js compares).
 */
import * as Staff from '/static/common/staff.js';
import { AgentDesk as Desk } from '/static/agent/desk.js';
import { current, me } from './calls-model.js';
import { clock } from './call-format.js';
import { showSource } from './transcript.js';

var $ = Staff.$, h = Staff.h, replaceKids = Staff.replaceKids;
var api = Staff.api, isBlank = Staff.isBlank, withBusy = Staff.withBusy;
var KIND_LABELS = Desk.KIND_LABELS;
var KIND_ORDER = ['consultation', 'help', 'complaint', 'report', 'suggestion'];

export var PREFILL_FIELDS = ['kind', 'location', 'callback_phone'];
var PREFILL_LABELS = { kind: '诉求类型', location: '地点', callback_phone: '回拨电话' };

// From call-loading.js, given to bindPrefill: {fetchTicket(c), took(c, ticket)}.
var actions = null;

function prefillValueText(field, v) {
  if (isBlank(v)) return '未填写';
  if (field === 'kind') return KIND_LABELS[v] || String(v);
  if (field === 'location') {
    var parts = [v.district, v.street].filter(function (x) { return !isBlank(x); });
    return parts.length ? parts.join(' ') : '未填写';
  }
  if (field === 'callback_phone') return Desk.fmtPhone(v);
  return String(v);
}

function lastAsrProvenance(t, field) {
  var list = t && Array.isArray(t.provenance) ? t.provenance : [];
  for (var i = list.length - 1; i >= 0; i--) {
    if (list[i] && list[i].field === field && list[i].by === 'asr') return list[i];
  }
  return null;
}

export function ticketValue(t, field) {
  if (field === 'kind') return t.kind || null;
  if (field === 'location') return t.location ? { district: t.location.district || null, street: t.location.street || null } : null;
  if (field === 'callback_phone') return t.requester ? t.requester.callback_phone || null : null;
  return null;
}

function sameValue(field, a, b) {
  if (field === 'location') {
    a = a || {}; b = b || {};
    return (a.district || '') === (b.district || '') && (a.street || '') === (b.street || '');
  }
  return (a || null) === (b || null);
}

function prefillInfo(c, field) {
  var pf = c.prefill[field] || null;
  var prov = lastAsrProvenance(c.ticket, field);
  if (!prov && !(pf && pf.applied)) return null; // not filled from this call's transcript
  var machine = pf ? pf.value : null;
  var value = c.ticket ? ticketValue(c.ticket, field) : machine;
  var segment = prov && typeof prov.segment === 'number' ? prov.segment : pf && typeof pf.segment === 'number' ? pf.segment : null;
  var start = pf && typeof pf.start === 'number' ? pf.start : segment !== null && c.finals.has(segment) ? c.finals.get(segment).start : null;
  return {
    field: field, value: value, machine: machine, segment: segment, start: start,
    text: pf && pf.text ? pf.text : prov && prov.detail ? prov.detail : '',
    confirmedBy: prov ? prov.confirmed_by || null : null,
    modified: !!c.ticket && pf !== null && machine !== null && machine !== undefined && !sameValue(field, value, machine)
  };
}

export function renderPrefill(c) {
  var box = $('call-prefill');
  var list = box.querySelector('ul.pf-list');
  var infos = PREFILL_FIELDS.map(function (f) { return prefillInfo(c, f); }).filter(Boolean);
  if (!infos.length) {
    replaceKids(box, h('p', { class: 'empty' }, '尚未从通话中识别出诉求类型、地点或回拨电话。'));
    return;
  }
  if (!list) { list = h('ul', { class: 'pf-list' }); replaceKids(box, list); }
  var focused = document.activeElement && list.contains(document.activeElement)
    ? { field: document.activeElement.closest('[data-field]').getAttribute('data-field'), cls: document.activeElement.className } : null;
  var rows = new Map();
  Array.prototype.forEach.call(list.children, function (li) { rows.set(li.getAttribute('data-field'), li); });
  // Keyed, in place: the row whose editor is open is left alone, so the agent's input survives.
  var cursor = list.firstChild;
  infos.forEach(function (info) {
    var li = rows.get(info.field);
    var el = li && c.editing === info.field && li.querySelector('form.pf-editor') ? li : prefillRow(c, info);
    if (li && el !== li) {
      li.replaceWith(el);
      if (cursor === li) cursor = el;
    }
    if (el === cursor) cursor = cursor.nextSibling;
    else list.insertBefore(el, cursor);
  });
  while (cursor) {
    var next = cursor.nextSibling;
    cursor.remove();
    cursor = next;
  }
  if (focused) {
    var again = list.querySelector('[data-field="' + focused.field + '"] .' + String(focused.cls).split(' ').filter(function (x) {
      return /^pf-/.test(x);
    })[0]);
    if (again && !again.disabled) again.focus();
    else {
      var state_ = list.querySelector('[data-field="' + focused.field + '"] .pf-state');
      if (state_) state_.focus();
    }
  }
}

function prefillRow(c, info) {
  var f = info.field;
  var label = PREFILL_LABELS[f];
  var valueText = prefillValueText(f, info.value);
  var stateEl;
  if (info.modified) {
    stateEl = h('span', { class: 'pf-state pf-state--modified', tabindex: '-1' }, '已修改');
  } else if (info.confirmedBy) {
    stateEl = h('span', { class: 'pf-state pf-state--confirmed', tabindex: '-1', title: '由 ' + info.confirmedBy + ' 确认' },
      '✓ 已确认（' + (info.confirmedBy === me() ? '本人' : info.confirmedBy) + '）');
  } else {
    stateEl = h('span', { class: 'pf-state pf-state--pending', tabindex: '-1' }, '待确认');
  }
  var msg = c.fieldMsgs[f];
  var editing = c.editing === f;
  return h('li', { class: 'pf-row' + (editing ? ' is-editing' : ''), 'data-field': f },
    h('div', { class: 'pf-line' },
      h('span', { class: 'pf-label' }, label),
      h('span', { class: 'pf-value', 'data-field-value': f }, valueText),
      stateEl),
    editing ? null : h('div', { class: 'pf-actions' },
      info.segment !== null ? h('button', {
        type: 'button', class: 'linkish pf-source', 'data-index': info.segment,
        title: info.text ? '原话：' + info.text : '查看原话',
        'aria-label': '查看' + label + '的来源：第 ' + (info.segment + 1) + ' 句' + (info.start !== null ? '，' + clock(info.start) : '')
      }, '来源' + (info.start !== null ? ' ' + clock(info.start) : '')) : null,
      h('span', { class: 'spacer' }),
      !info.confirmedBy && !info.modified ? h('button', {
        type: 'button', class: 'btn btn--small btn--primary pf-confirm', 'aria-label': '确认' + label + '：' + valueText
      }, '确认') : null,
      h('button', { type: 'button', class: 'btn btn--small pf-edit', 'aria-label': '修改' + label, 'aria-expanded': 'false' }, '修改')),
    editing ? prefillEditor(f, info) : null,
    msg ? h('p', { class: 'msg pf-msg' + (msg.kind ? ' msg--' + msg.kind : ''), role: 'status' }, msg.text) : null);
}

function prefillEditor(f, info) {
  var v = info.value;
  var errId = 'pf-' + f + '-error';
  var inputs;
  if (f === 'kind') {
    inputs = h('div', { class: 'field' },
      h('label', { for: 'pf-kind-input' }, '诉求类型'),
      h('select', { id: 'pf-kind-input', class: 'pf-input', 'aria-describedby': errId },
        KIND_ORDER.map(function (k) { return h('option', { value: k, selected: v === k }, KIND_LABELS[k]); })));
  } else if (f === 'location') {
    var loc = v || {};
    var district = h('select', { id: 'pf-district-input', class: 'pf-input', 'aria-describedby': errId });
    // The same list of Beijing's districts as the correction form in the detail pane.
    Array.prototype.forEach.call($('correct-district').options, function (o) {
      district.appendChild(h('option', { value: o.value }, o.textContent));
    });
    district.value = loc.district || '';
    inputs = h('div', { class: 'field-row' },
      h('div', { class: 'field' }, h('label', { for: 'pf-district-input' }, '所在区'), district),
      h('div', { class: 'field' }, h('label', { for: 'pf-street-input' }, '街道（乡镇）'),
        h('input', { id: 'pf-street-input', class: 'pf-input', type: 'text', maxlength: '100', autocomplete: 'off',
          value: loc.street || '', 'aria-describedby': errId })));
  } else {
    inputs = h('div', { class: 'field' },
      h('label', { for: 'pf-phone-input' }, '回拨电话'),
      h('input', { id: 'pf-phone-input', class: 'pf-input', type: 'tel', inputmode: 'tel', maxlength: '32', autocomplete: 'off',
        placeholder: '手机号或带区号的固定电话', value: v ? Desk.fmtPhone(v) : '', 'aria-describedby': errId }));
  }
  return h('form', { class: 'pf-editor', 'data-field': f, novalidate: true },
    inputs,
    h('p', { id: errId, class: 'pf-error', role: 'alert', hidden: true }),
    h('div', { class: 'pf-editor-actions' },
      h('button', { type: 'submit', class: 'btn btn--small btn--primary pf-save' }, '保存'),
      h('button', { type: 'button', class: 'btn btn--small pf-cancel' }, '取消')));
}

function onPrefillClick(ev) {
  var c = current();
  if (!c) return;
  var btn = ev.target.closest && ev.target.closest('button');
  if (!btn) return;
  var row = btn.closest('[data-field]');
  var field = row && row.getAttribute('data-field');
  if (btn.classList.contains('pf-source')) {
    var idx = Number(btn.getAttribute('data-index'));
    if (!showSource(idx)) {
      c.fieldMsgs[field] = { text: '原话尚未载入，请稍候再试', kind: 'warn' };
      renderPrefill(c);
      actions.fetchTicket(c);
    }
  } else if (btn.classList.contains('pf-confirm')) {
    confirmField(c, field, btn);
  } else if (btn.classList.contains('pf-edit')) {
    c.editing = field;
    delete c.fieldMsgs[field];
    renderPrefill(c);
    var first = $('call-prefill').querySelector('[data-field="' + field + '"] .pf-input');
    if (first) first.focus();
  } else if (btn.classList.contains('pf-cancel')) {
    closeEditor(c, field);
  }
}

function closeEditor(c, field) {
  c.editing = null;
  renderPrefill(c);
  var edit = $('call-prefill').querySelector('[data-field="' + field + '"] .pf-edit');
  if (edit) edit.focus();
}

function confirmField(c, field, btn) {
  var id = c.ticketId;
  withBusy(btn, function () {
    return api('POST', '/agent/tickets/' + encodeURIComponent(id) + '/prefill/' + field + '/confirm', {}).then(function (t) {
      c.fieldMsgs[field] = null;
      delete c.fieldMsgs[field];
      actions.took(c, t);
    }, function (e) {
      if (e.status === 401) return;
      c.fieldMsgs[field] = { text: e.status === 409 ? e.message : '确认失败：' + e.message, kind: e.status === 409 ? 'warn' : 'error' };
      if (c === current()) renderPrefill(c);
    });
  });
}

function onEditorSubmit(ev) {
  var form = ev.target.closest && ev.target.closest('form.pf-editor');
  if (!form) return;
  ev.preventDefault();
  var c = current();
  if (!c) return;
  var field = form.getAttribute('data-field');
  var body = {};
  var bad = null;
  if (field === 'kind') {
    body.kind = $('pf-kind-input').value;
  } else if (field === 'location') {
    body.location = { district: $('pf-district-input').value || null, street: $('pf-street-input').value.trim() };
  } else {
    var phone = $('pf-phone-input').value.replace(/[\s-]/g, '');
    if (!phone) bad = { input: $('pf-phone-input'), text: '请填写回拨电话' };
    body.callback_phone = phone;
  }
  if (bad) { showEditorError(form, bad.input, bad.text); return; }
  var save = form.querySelector('.pf-save');
  withBusy(save, function () {
    return api('PATCH', '/agent/tickets/' + encodeURIComponent(c.ticketId), body).then(function (t) {
      c.editing = null;
      c.fieldMsgs[field] = { text: PREFILL_LABELS[field] + '已修改', kind: 'ok' };
      actions.took(c, t);
      var st = $('call-prefill').querySelector('[data-field="' + field + '"] .pf-state');
      if (st) st.focus();
    }, function (e) {
      if (e.status === 401) return;
      var input = form.querySelector('.pf-input');
      if (e.fields && e.fields.length && field === 'location') {
        var which = String(e.fields[0].field || '');
        input = which.indexOf('street') !== -1 ? $('pf-street-input') : $('pf-district-input');
      }
      showEditorError(form, input, e.status === 422 ? e.message : '保存失败：' + e.message);
    });
  });
}

function showEditorError(form, input, text) {
  var err = form.querySelector('.pf-error');
  err.textContent = text;
  err.hidden = false;
  form.querySelectorAll('.pf-input').forEach(function (i) { i.removeAttribute('aria-invalid'); });
  if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
}

export function bindPrefill(withActions) {
  actions = withActions;
  $('call-prefill').addEventListener('click', onPrefillClick);
  $('call-prefill').addEventListener('submit', onEditorSubmit);
  $('call-prefill').addEventListener('keydown', function (ev) {
    if (ev.key !== 'Escape') return;
    var form = ev.target.closest && ev.target.closest('form.pf-editor');
    var c = current();
    if (form && c) { ev.preventDefault(); ev.stopPropagation(); closeEditor(c, form.getAttribute('data-field')); }
  });
}
