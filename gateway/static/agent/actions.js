/*
 * Beijing 12345 hotline - agent desktop: what the agent does to the ticket on screen.
 *
 * The actions column's forms: 备注 (a note; unsent text is kept per ticket), 更正 (kind and place;
 * the form is filled from the ticket unless the agent has unsaved edits) and 转派 (forward to the
 * case system, asked first with confirm.js, the button disabled once the ticket is forwarded or
 * settled), and the message line under them. 转外省市 is the partner panel's
 * (channels/partner/static/desk.js); 分类与承办单位 is dispatch.js.
 */
import { $, setMsg, api, withBusy } from '/static/common/staff.js';
import * as DeskConfirm from './confirm.js';
import { state } from './state.js';
import { KIND_LABELS, kindLabel } from './labels.js';
import { loadDetail, renderDetail } from './detail.js';

// Once any of these holds, the ticket must not be forwarded again.
export const FORWARD_DONE_STATUSES = { forwarded: 1, transferred: 1, answered: 1, diverted: 1, closed: 1 };

export function actionMsg(text, kind) { setMsg($('action-msg'), text, kind); }

export function onNoteSubmit(ev) {
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

export function onCorrectSubmit(ev) {
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

export function fillCorrectForm(t) {
  var loc = t.location || {};
  var kindSel = $('correct-kind');
  kindSel.value = t.kind && KIND_LABELS[t.kind] ? t.kind : '';
  var distSel = $('correct-district');
  distSel.value = loc.district || '';
  if (distSel.value !== (loc.district || '')) distSel.value = '';
  $('correct-street').value = loc.street || '';
  state.correctDirty = false;
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

export function updateForwardButton() {
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

export function onForward() {
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
