/*
 * Beijing 12345 hotline - agent desktop: 疑似重复 (suspected duplicates).
 *
 * A request the router held as a likely duplicate (ticket.links.duplicates, history
 * held_as_duplicate) is shown beside each candidate: text, place, topic, unit, masked phone,
 * status, and the similarity. 合并 attaches it to that ticket's case
 * (POST /api/v1/agent/tickets/{id}/merge, server/duplicate_routes.py); 转派 in the detail head
 * forwards it after all. Untrusted text goes in with textContent (Staff.h).
 */
import * as Staff from '/static/common/staff.js';

var h = Staff.h, replaceKids = Staff.replaceKids, api = Staff.api, withBusy = Staff.withBusy;
var REASONS = { same_requester: '同一诉求人', same_place_topic: '同一地点、同类问题' };
var STATUS = { received: '待处理', forwarded: '已转派', closed: '已办结', merged: '已并案' };

function pct(score) { return Math.round((Number(score) || 0) * 100) + '%'; }

function side(title, t) {
  var rows = [
    ['工单号', t.id], ['状态', STATUS[t.status] || t.status], ['受理时间', Staff.fmtTime ? Staff.fmtTime(t.received_at) : t.received_at],
    ['所在区', t.district || '未填写'], ['地点', [t.street, t.place].filter(Boolean).join(' ') || '—'],
    ['分类', t.topic || '待分类'], ['承办单位', t.unit || '—'], ['诉求人电话', t.phone_masked || '未留电话']
  ];
  return h('div', { class: 'dup-side' },
    h('h4', { class: 'dup-side-title' }, title),
    h('dl', { class: 'kv' }, rows.map(function (r) { return [h('dt', null, r[0]), h('dd', null, String(r[1]))]; })),
    h('p', { class: 'dup-text' }, t.content || ''));
}

function candidateBlock(ticket, c, onMerge) {
  var btn = h('button', { type: 'button', class: 'btn btn--warn btn--small', 'data-merge-into': c.ticket_id },
    '合并到 ' + c.ticket_id);
  btn.addEventListener('click', function () { onMerge(btn, c.ticket_id); });
  return h('div', { class: 'dup-pair', 'data-candidate': c.ticket_id },
    h('p', { class: 'dup-score' }, '相似度 ' + pct(c.score) + ' · ' + (REASONS[c.reason] || c.reason)),
    h('div', { class: 'dup-columns' }, side('本工单', ticket), side('疑似重复的工单', c.ticket)),
    ticket.status === 'received' ? btn : null);
}

// Fills `box` for ticket `t` (the detail shows it only when links.duplicates is not empty).
export function showDuplicates(box, t, done) {
  if (!box) return;
  replaceKids(box, h('p', { class: 'muted' }, '正在加载疑似重复的工单…'));
  var msg = h('p', { class: 'msg', role: 'status', 'aria-live': 'polite' });
  function onMerge(btn, into) {
    if (!window.confirm('确认将本工单合并到 ' + into + '？合并后本工单不再单独转派，市民可查看目标工单的办理进度。')) return;
    withBusy(btn, function () {
      return api('POST', '/agent/tickets/' + encodeURIComponent(t.id) + '/merge', { into: into }).then(function () {
        Staff.setMsg(msg, '已合并到 ' + into, 'ok');
        if (done) done();
      }, function (e) { Staff.setMsg(msg, (e && e.message) || '合并失败，请重试', 'error'); });
    });
  }
  api('GET', '/agent/tickets/' + encodeURIComponent(t.id) + '/duplicates').then(function (data) {
    var list = (data && data.candidates) || [];
    replaceKids(box, [
      h('h3', { class: 'd-title' }, '疑似重复'),
      t.status === 'received' ? h('p', { class: 'hint' }, '系统发现相似的未办结诉求，本工单暂未转派。请对照后选择合并，或点击“转派”单独办理。') : null,
      list.map(function (c) { return candidateBlock(data.ticket, c, onMerge); }),
      msg
    ]);
  }, function () {
    replaceKids(box, h('p', { class: 'msg msg--error' }, '疑似重复的工单加载失败，请刷新详情重试'));
  });
}
