/*
 * The knowledge-base workspace (/kb), 待审核 tab: the review queue, publish and reject.
 */
import { $, api, dash, h, replaceKids, setMsg, withBusy } from '/static/common/staff.js';
import { STATUS_LABELS, isReviewer, me, state, timeEl } from './common.js';
import { askRejectReason } from './dialogs.js';
import { fetchDiff, renderDiff, roleOf, syntheticDiff } from './diff.js';
import { loadEntry, publish } from './editor.js';
import { isDirty } from './editor-form.js';
import { cssEscape, loadList, moveRoving } from './list.js';

// ---------------------------------------------------------------------
// Review queue
// ---------------------------------------------------------------------

export function loadQueue(opts) {
  opts = opts || {};
  if (!isReviewer()) return Promise.resolve();
  if (!opts.quiet && !state.queue.length) setMsg($('queue-msg'), '正在加载…');
  return api('GET', '/kb/review-queue').then(function (data) {
    state.queue = data.items || [];
    renderQueue();
    setMsg($('queue-msg'), state.queue.length ? '' : '没有待审核的条目。');
  }, function (e) {
    if (e.status !== 401 && !opts.quiet) setMsg($('queue-msg'), '审核队列加载失败：' + e.message, 'error');
  });
}

function renderQueue() {
  var n = state.queue.length;
  $('review-count').textContent = n ? String(n) : '';
  $('queue-count').textContent = '共 ' + n + ' 条';
  var selected = state.review && state.review.entryId;
  var focusedId = document.activeElement && document.activeElement.classList &&
    document.activeElement.classList.contains('review-row') ? document.activeElement.getAttribute('data-entry-id') : null;
  var rovingId = focusedId || selected;
  if (!state.queue.some(function (s) { return s.id === rovingId; })) rovingId = n ? state.queue[0].id : null;
  replaceKids($('review-queue'), state.queue.map(function (s) {
    var on = s.id === selected;
    return h('li', { class: 'review-row' + (on ? ' is-selected' : ''), 'data-entry-id': s.id,
      tabindex: s.id === rovingId ? '0' : '-1',
      'aria-current': on ? 'true' : null },
      h('div', { class: 'r-title' }, s.title),
      h('div', { class: 'r-meta' },
        h('span', { class: 'mono' }, s.id),
        h('span', null, '第 ' + s.latest_version + ' 版'),
        s.published_version ? h('span', { class: 'chip st-published' }, '修改已发布第 ' + s.published_version + ' 版') : h('span', { class: 'chip st-new' }, '新条目'),
        h('span', null, dash(s.category))),
      h('div', { class: 'r-meta muted' }, '提交于 ', timeEl(s.updated_at)));
  }));
  if (focusedId) {
    var again = $('review-queue').querySelector('.review-row[data-entry-id="' + cssEscape(focusedId) + '"]');
    if (again) again.focus();
  }
}

export function onQueueClick(ev) {
  var li = ev.target.closest('.review-row');
  if (li) openReview(li.getAttribute('data-entry-id'));
}

export function onQueueKeydown(ev) {
  var li = ev.target.closest('.review-row');
  if (!li) return;
  if (ev.key === 'Enter' || ev.key === ' ') {
    ev.preventDefault();
    openReview(li.getAttribute('data-entry-id'), { focus: true });
  } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
    ev.preventDefault();
    var next = ev.key === 'ArrowDown' ? li.nextElementSibling : li.previousElementSibling;
    if (next) moveRoving(li, next);
  }
}

function openReview(id, opts) {
  opts = opts || {};
  var seq = ++state.reviewSeq;
  state.review = { entryId: id };
  renderQueue();
  $('review-empty').hidden = true;
  $('review-body').hidden = false;
  $('review-heading').textContent = '正在加载…';
  setMsg($('review-msg'), '');
  setMsg($('review-alert'), '', 'error');
  $('diff-view').replaceChildren();
  $('review-publish').disabled = true;
  $('review-reject').disabled = true;
  return api('GET', '/kb/entries/' + encodeURIComponent(id)).then(function (entry) {
    if (seq !== state.reviewSeq) return;
    var s = entry.state;
    var to = s.latest_version;
    var from = s.published_version && s.published_version !== to ? s.published_version : (to > 1 ? to - 1 : null);
    var toV = entry.versions.filter(function (v) { return v.version === to; })[0];
    state.review = { entryId: id, entry: entry, to: to, from: from };
    $('review-heading').textContent = s.title;
    var inReview = s.status === 'in_review';
    $('review-publish').disabled = !inReview;
    $('review-reject').disabled = !inReview;
    if (!inReview) setMsg($('review-msg'), '该条目当前状态为“' + (STATUS_LABELS[s.status] || s.status) + '”，不在审核中。', 'warn');
    else if (toV && toV.author === me()) setMsg($('review-msg'), '您是第 ' + to + ' 版的编辑人，按两人审核规则须由另一位审核人发布。', 'warn');
    var roles = function (d) { return { from: roleOf(s, d.from), to: roleOf(s, d.to) }; };
    if (from === null) {
      var d = syntheticDiff(toV);
      renderDiff($('diff-view'), d, roles(d));
    } else {
      return fetchDiff(id, from, to).then(function (diff) {
        if (seq !== state.reviewSeq) return;
        renderDiff($('diff-view'), diff, roles(diff));
      });
    }
  }).then(function () {
    if (opts.focus && seq === state.reviewSeq) $('review-heading').focus();
  }, function (e) {
    if (seq !== state.reviewSeq || e.status === 401) return;
    setMsg($('review-alert'), '加载失败：' + e.message, 'error');
  });
}

export function onReviewPublish() {
  var r = state.review;
  if (!r || !r.entry) return;
  var btn = $('review-publish');
  setMsg($('review-alert'), '', 'error');
  withBusy(btn, function () {
    return publish(r.entryId, r.to).then(function () {
      if (state.entryId === r.entryId && !isDirty()) loadEntry(r.entryId, { keepForm: false });
      setMsg($('review-msg'), '已发布「' + r.entry.state.title + '」第 ' + r.to + ' 版，机器人已改用新内容答复。', 'ok');
      return true;
    }, function (e) {
      setMsg($('review-msg'), '');
      setMsg($('review-alert'), e.message, 'error');
      return false;
    });
  }).then(function (ok) {
    if (ok) { $('review-publish').disabled = true; $('review-reject').disabled = true; }
  });
}

export function onReviewReject() {
  var r = state.review;
  if (!r || !r.entry) return;
  askRejectReason('「' + r.entry.state.title + '」第 ' + r.to + ' 版').then(function (reason) {
    if (reason === null) return;
    setMsg($('review-alert'), '', 'error');
    withBusy($('review-reject'), function () {
      return api('POST', '/kb/entries/' + encodeURIComponent(r.entryId) + '/reject', { reason: reason }).then(function () {
        loadQueue({ quiet: true });
        loadList();
        if (state.entryId === r.entryId) loadEntry(r.entryId, { keepForm: true });
        setMsg($('review-msg'), '已退回「' + r.entry.state.title + '」，条目恢复为草稿。', 'ok');
        return true;
      }, function (e) {
        setMsg($('review-alert'), e.message, 'error');
        return false;
      });
    }).then(function (ok) {
      if (ok) { $('review-publish').disabled = true; $('review-reject').disabled = true; }
    });
  });
}
