/*
 * Beijing 12345 hotline - supervisor wall: what a supervisor does with an open 热点.
 *   发布通告: a short notice the bot answers with at once (POST /api/v1/supervisor/hotspots/{id}/notice;
 *             served until its expiry date, at most 7 days; see docs/wall.md);
 *   关闭热点: POST .../close after a confirmation.
 * One modal <dialog> for the notice; the wall refetches on the server's wall.changed.
 */
import * as Staff from '/static/common/staff.js';
import { ask } from '/static/agent/confirm.js';

const { $, h, setMsg } = Staff;
let current = null; // the 热点 the dialog is for
let onChange = () => {};

function beijingDay(offsetDays) {
  const at = new Date(Date.now() + 8 * 3600 * 1000 + offsetDays * 86400 * 1000);
  return at.toISOString().slice(0, 10);
}

function openNotice(hotspot) {
  current = hotspot;
  const place = [hotspot.district, hotspot.street].filter(Boolean).join('');
  $('notice-title').textContent = '发布热点通告：' + place + ' · ' + (hotspot.topic || '');
  $('notice-text').value = '';
  const expires = $('notice-expires');
  expires.min = beijingDay(1);
  expires.max = beijingDay(7);
  expires.value = beijingDay(1);
  setMsg($('notice-msg'), '', null);
  $('notice-dialog').showModal();
  $('notice-text').focus();
}

function submitNotice(event) {
  event.preventDefault();
  if (!current) return;
  const id = current.id;
  const button = $('notice-submit');
  const body = { text: $('notice-text').value.trim(), expires_at: $('notice-expires').value || null };
  if (body.text.length < 5) { setMsg($('notice-msg'), '请填写通告内容（至少5个字）', 'error'); return; }
  Staff.withBusy(button, () => Staff.api('POST', '/supervisor/hotspots/' + encodeURIComponent(id) + '/notice', body)
    .then(() => {
      $('notice-dialog').close();
      onChange();
    })
    .catch((err) => setMsg($('notice-msg'), (err && err.message) || '发布失败，请稍后重试', 'error')));
}

function close(hotspot) {
  ask({ title: '关闭热点', text: '关闭后，该地点、该类别的诉求将重新计数。', items: [[hotspot.district, hotspot.street, hotspot.topic].filter(Boolean).join(' · ')],
    warning: '', ok: '关闭热点' }).then((yes) => {
    if (!yes) return;
    Staff.api('POST', '/supervisor/hotspots/' + encodeURIComponent(hotspot.id) + '/close')
      .then(() => onChange())
      .catch((err) => window.alert((err && err.message) || '关闭失败，请稍后重试'));
  });
}

/** The actions cell of a 热点 row: buttons while it is open, nothing once closed. */
export function hotspotActions(hotspot) {
  if (hotspot.state !== 'open') return h('td', null);
  const notice = h('button', { type: 'button', class: 'btn btn--small', 'data-action': 'notice' }, hotspot.notice ? '再发通告' : '发布通告');
  const closeBtn = h('button', { type: 'button', class: 'btn btn--small', 'data-action': 'close' }, '关闭热点');
  notice.addEventListener('click', () => openNotice(hotspot));
  closeBtn.addEventListener('click', () => close(hotspot));
  return h('td', { class: 'hotspot-actions' }, notice, closeBtn);
}

/** Wire the notice dialog once; `changed` refetches the wall. */
export function setUpHotspotActions(changed) {
  onChange = changed;
  $('notice-form').addEventListener('submit', submitNotice);
  $('notice-cancel').addEventListener('click', () => $('notice-dialog').close());
}
