/*
 * Beijing 12345 hotline - agent desktop: 分类与承办单位 (ticket.dispatch).
 *
 * Triage proposes a topic and a handling unit; the agent confirms it or corrects it. The view is
 * re-rendered with the ticket; the correction form is static (agent.html) so that an edit
 * survives live updates. The topic classes are loaded once per login. A suggested partner
 * hotline can be put into the partner panel's 转外省市 form (the agent still submits it).
 */
import { $, dash, h, isBlank, replaceKids, api, withBusy } from '/static/common/staff.js';
import { state } from './state.js';
import { partnerName } from './labels.js';
import { apiMessage, pct } from './format.js';
import { empty, kv } from './parts.js';
import { loadDetail, renderDetail } from './detail.js';
import { FORWARD_DONE_STATUSES, actionMsg } from './actions.js';

// The topic classes, once per login: the <select> groups second-level classes by first level.
export function loadTaxonomy() {
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
export function syncPartnerButton() {
  var btn = document.querySelector('#dispatch-view .dispatch-use-partner');
  var form = $('transfer-form');  // absent until (or unless) the partner panel has loaded
  if (btn) btn.hidden = !form || form.hidden;
}

export function renderDispatch(t, refillForm) {
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

export function onDispatchEdit(ev) {
  state.dispatchDirty = true;
  ev.currentTarget.removeAttribute('aria-invalid');
}

export function onDispatchViewClick(ev) {
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

export function onDispatchSubmit(ev) {
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
