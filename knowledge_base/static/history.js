/*
 * The knowledge-base workspace (/kb), entry editor: the versions, the audit log and the recall check.
 */
import { $, api, h, replaceKids, withBusy } from '/static/common/staff.js';
import { ACTION_LABELS, API, FIELD_LABELS, actorLabel, isEditor, state, timeEl } from './common.js';
import { openDiffDialog } from './diff.js';
import { onRollback } from './editor.js';

// ---------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------

export function renderVersions() {
  var list = $('version-list');
  if (!state.entry) { list.replaceChildren(); return; }
  var s = state.entry.state;
  var versions = state.entry.versions.slice().sort(function (a, b) { return b.version - a.version; });
  var editor = isEditor();
  replaceKids(list, versions.map(function (v) {
    var isLatest = v.version === s.latest_version;
    var isPublished = v.version === s.published_version;
    var badges = [];
    if (isPublished) badges.push(h('span', { class: 'chip st-published' }, '当前发布'));
    if (isLatest && s.status === 'in_review') badges.push(h('span', { class: 'chip st-in_review' }, '待审核'));
    if (isLatest && s.status === 'draft') badges.push(h('span', { class: 'chip st-draft' }, '草稿'));
    if (!isPublished && v.reviewer) badges.push(h('span', { class: 'chip st-old' }, '曾发布'));
    return h('li', { class: 'version-item' + (isPublished ? ' is-published' : '') + (isLatest ? ' is-latest' : ''),
      'data-version': v.version },
      h('div', { class: 'v-line' }, h('strong', null, '第 ' + v.version + ' 版'), badges),
      h('div', { class: 'v-meta' }, '编辑 ', h('span', { class: 'v-who' }, actorLabel(v.author)), ' · ', timeEl(v.created_at)),
      v.reviewer ? h('div', { class: 'v-meta' }, '发布 ', h('span', { class: 'v-who' }, actorLabel(v.reviewer)), ' · ', timeEl(v.published_at)) : null,
      v.note ? h('div', { class: 'v-note' }, v.note) : null,
      h('div', { class: 'v-actions' },
        versions.length > 1 ? h('button', { type: 'button', class: 'btn btn--tiny v-compare', 'data-version': v.version,
          'aria-label': '对比第 ' + v.version + ' 版' }, '对比') : null,
        editor && !isLatest ? h('button', { type: 'button', class: 'btn btn--tiny v-rollback', 'data-version': v.version,
          'aria-label': '回滚到第 ' + v.version + ' 版' }, '回滚到此版本') : null));
  }));
}

export function onVersionListClick(ev) {
  var b = ev.target.closest('button');
  if (!b) return;
  var v = Number(b.getAttribute('data-version'));
  if (b.classList.contains('v-compare')) openDiffDialog(v);
  else if (b.classList.contains('v-rollback')) onRollback(v, b);
}


// ---------------------------------------------------------------------
// Audit log
// ---------------------------------------------------------------------

function auditDetail(row) {
  var d = row.detail || {};
  switch (row.action) {
    case 'saved':
      return Array.isArray(d.changed) && d.changed.length
        ? '修改了' + d.changed.map(function (f) { return FIELD_LABELS[f] || f; }).join('、') : '';
    case 'rejected': return d.reason ? '原因：' + d.reason : '';
    case 'published': return d.superseded ? '替换第 ' + d.superseded + ' 版' : '首次发布';
    case 'archived': return d.was_published ? '第 ' + d.was_published + ' 版已下线' : '';
    case 'rolled_back': return d.from_version ? '恢复第 ' + d.from_version + ' 版的内容' : '';
    case 'created': return d.title ? '标题：' + d.title : '';
    case 'synonyms_changed': return typeof d.groups === 'number' ? '共 ' + d.groups + ' 组' : '';
    default: return '';
  }
}

export function loadAudit() {
  if (!state.entryId) return Promise.resolve();
  var id = state.entryId;
  var box = $('audit-log');
  if (!box.firstChild) replaceKids(box, h('p', { class: 'muted small' }, '正在加载…'));
  return api('GET', '/kb/audit?entry=' + encodeURIComponent(id)).then(function (data) {
    if (id !== state.entryId) return;
    var items = data.items || [];
    if (!items.length) { replaceKids(box, h('p', { class: 'muted small' }, '暂无操作记录')); return; }
    replaceKids(box, h('ol', { class: 'audit-list' }, items.map(function (r) {
      var label = ACTION_LABELS[r.action];
      var detail = auditDetail(r);
      return h('li', { class: 'audit-item a-' + r.action },
        h('div', { class: 'a-line' },
          timeEl(r.at, 'a-at'),
          h('span', { class: 'a-who' }, actorLabel(r.actor)),
          label ? h('span', { class: 'a-action' }, label) : h('span', { class: 'a-action raw', title: '未识别的操作' }, r.action),
          r.version ? h('span', { class: 'a-ver muted' }, '第 ' + r.version + ' 版') : null),
        detail ? h('div', { class: 'a-detail' }, detail) : null);
    })));
  }, function (e) {
    if (e.status !== 401 && id === state.entryId) replaceKids(box, h('p', { class: 'msg msg--error' }, '操作记录加载失败：' + e.message));
  });
}

// ---------------------------------------------------------------------
// Recall
// ---------------------------------------------------------------------

export function onRecall() {
  if (!state.entryId) return;
  var id = state.entryId;
  var box = $('recall-result');
  withBusy($('recall'), function () {
    return api('GET', '/kb/entries/' + encodeURIComponent(id) + '/recall').then(function (data) {
      if (id !== state.entryId) return;
      var versions = data.versions || [];
      var total = versions.reduce(function (n, v) { return n + v.tickets.length; }, 0);
      var csv = h('a', { id: 'recall-csv', class: 'btn btn--tiny', download: true,
        href: API + '/kb/entries/' + encodeURIComponent(id) + '/recall?format=csv' }, '导出 CSV');
      if (!total) {
        replaceKids(box, [h('p', { class: 'msg msg--ok' }, '没有用旧版本答复过的工单。'), csv]);
        return;
      }
      replaceKids(box, [
        h('div', { class: 'recall-head' }, h('strong', null, '共 ' + total + ' 张工单'), csv),
        versions.map(function (v) {
          return h('div', { class: 'recall-version' },
            h('div', { class: 'small' }, '第 ' + v.version + ' 版答复 · ' + v.tickets.length + ' 张'),
            h('ul', { class: 'recall-tickets mono' }, v.tickets.map(function (t) { return h('li', null, t); })));
        })
      ]);
    }, function (e) {
      if (e.status !== 401) replaceKids(box, h('p', { class: 'msg msg--error' }, '查询失败：' + e.message));
    });
  });
}
