/*
 * Beijing 12345 hotline - knowledge-base editor and review workspace (/kb).
 *
 * Plain browser JS as ES modules, no build step, no external dependencies; served from /static/kb/.
 * API: knowledge_base/routes.py (/api/v1/kb/...), sessions: gateway/auth.py.
 *
 * This module boots the page and wires the tabs; each screen has its module:
 *   list.js (知识条目), editor-form.js + editor.js + history.js (the entry editor),
 *   diff.js, try.js, review.js (待审核), synonyms.js (同义词), transfer.js (导入导出);
 *   common.js (constants, labels, state) and dialogs.js are shared.
 *
 * All untrusted text (entry content, user names, server messages) is inserted
 * with textContent via the h() helper; innerHTML is never used.
 * Login, session, API calls, DOM and time helpers: /static/common/staff.js.
 */
import * as Staff from '/static/common/staff.js';
import { $, setMsg, withBusy } from '/static/common/staff.js';
import { READ_ROLES, REVIEW_POLL_MS, ROLE_ORDER, isEditor, isReviewer, state } from './common.js';
import { confirmDialog } from './dialogs.js';
import { loadDialogDiff } from './diff.js';
import { closeEditor, loadEntry, newEntry, onArchive, onPublish, onReject, onSave, onSubmitForReview, openEntry, updateEditorButtons } from './editor.js';
import { formSnapshot, isDirty, setFieldError, updateAnswerCount, updateDirty } from './editor-form.js';
import { loadAudit, onRecall, onVersionListClick } from './history.js';
import { loadList, onListClick, onListKeydown, scheduleListReload } from './list.js';
import { loadQueue, onQueueClick, onQueueKeydown, onReviewPublish, onReviewReject } from './review.js';
import { onSynonymsSave } from './synonyms.js';
import { TABS, onTabKeydown, switchTab } from './tabs.js';
import { onImportFileChange, onImportStart, stopImportPolling } from './transfer.js';
import { onTry } from './try.js';

// ---------------------------------------------------------------------
// Views: boot / login / workspace
// ---------------------------------------------------------------------

function boot() {
  bindEvents();
  Staff.start({
    app: 'kb-app',
    roleOrder: ROLE_ORDER,
    roles: READ_ROLES,
    deniedMessage: '该账号没有知识库权限，请联系管理员开通',
    enter: enterApp,
    teardown: teardown,
    confirmLogout: confirmLogout,
    onBusy: updateEditorButtons,
    messages: { 415: '提交格式不正确' }
  });
}

// Logged in with a knowledge-base role: the top bar is filled; show what the roles allow.
function enterApp() {
  var editor = isEditor();
  var reviewer = isReviewer();
  $('entry-new').hidden = !editor;
  $('tab-review').hidden = !reviewer;
  $('import-section').hidden = !editor;
  $('entry-save').hidden = !editor;
  $('entry-submit').hidden = !editor;
  $('entry-publish').hidden = !reviewer;
  $('entry-reject').hidden = !reviewer;
  $('entry-archive').hidden = !reviewer;
  $('synonyms-text').readOnly = !editor;
  $('synonyms-save').hidden = !editor;
  $('synonyms-revert').hidden = !editor;
  $('synonyms-hint').textContent = editor
    ? '每行一组，词与词之间用空格或逗号分隔，每组至少两个词。第一个词为标准词：市民说出组里的任何一个词，都按标准词检索。保存后立即对机器人生效。'
    : '每行一组，第一个词为标准词。仅知识库编辑可以修改。';

  closeEditor(true);
  switchTab('entries', { focus: false });
  loadList();
  if (reviewer) {
    loadQueue({ quiet: true });
    state.intervals.push(setInterval(function () {
      if (!document.hidden && state.tab !== 'review') loadQueue({ quiet: true });
    }, REVIEW_POLL_MS));
  }
  $('entry-search').focus();
}

function teardown() {
  state.intervals.forEach(clearInterval);
  state.intervals = [];
  stopImportPolling();
  state.items = [];
  state.queue = [];
  state.review = null;
  state.synonymsLoaded = false;
  state.synonymsPristine = '';
  state.isNew = false;
  state.entry = null;
  state.entryId = null;
  state.pristine = '';
  $('entry-list').replaceChildren();
  $('review-queue').replaceChildren();
  $('try-result').replaceChildren();
  $('try-text').value = '';
  $('import-result').replaceChildren();
  $('import-status').hidden = true;
  $('import-errors-block').hidden = true;
  setMsg($('import-msg'), '');
  ['diff-dialog', 'reject-dialog', 'confirm-dialog'].forEach(function (id) { if ($(id).open) $(id).close(); });
}

// Unsaved edits: ask first. Resolves true to log out.
function confirmLogout() {
  var guard = isDirty()
    ? confirmDialog('退出登录？', '当前条目有未保存的修改，退出后这些修改会丢失。', '放弃修改并退出', true)
    : Promise.resolve(true);
  return guard.then(function (ok) {
    if (ok) state.pristine = formSnapshot(); // no "leave page?" prompt after this
    return ok;
  });
}

// ---------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------

function bindEvents() {
  Object.keys(TABS).forEach(function (k) {
    $(TABS[k].tab).addEventListener('click', function () { switchTab(k); });
    $(TABS[k].tab).addEventListener('keydown', onTabKeydown);
  });

  // List
  $('entry-list').addEventListener('click', onListClick);
  $('entry-list').addEventListener('keydown', onListKeydown);
  $('entry-search').addEventListener('input', scheduleListReload);
  $('entry-search').addEventListener('keydown', function (ev) {
    if (ev.key === 'ArrowDown') {
      var first = $('entry-list').querySelector('tr.entry-row[tabindex="0"]') || $('entry-list').querySelector('tr.entry-row');
      if (first) { ev.preventDefault(); first.focus(); }
    } else if (ev.key === 'Enter') {
      ev.preventDefault();
      clearTimeout(state.searchTimer);
      loadList();
    }
  });
  ['filter-status', 'filter-category', 'filter-expiring', 'filter-review-overdue'].forEach(function (id) {
    $(id).addEventListener('change', loadList);
  });
  $('entry-reload').addEventListener('click', function () { withBusy($('entry-reload'), loadList); });
  $('entry-new').addEventListener('click', newEntry);

  // Editor
  $('entry-editor').addEventListener('submit', onSave);
  $('entry-editor').addEventListener('input', function (ev) {
    if (ev.target.id === 'field-answer') updateAnswerCount();
    if (ev.target.getAttribute('aria-invalid') === 'true') {
      ev.target.removeAttribute('aria-invalid');
      setFieldError(ev.target.id + '-error', '');
    }
    updateDirty();
  });
  $('entry-editor').addEventListener('change', updateDirty);
  $('entry-submit').addEventListener('click', onSubmitForReview);
  $('entry-publish').addEventListener('click', onPublish);
  $('entry-reject').addEventListener('click', onReject);
  $('entry-archive').addEventListener('click', onArchive);
  $('entry-close').addEventListener('click', function () { closeEditor(false); });
  $('entry-alert').addEventListener('click', function (ev) {
    if (ev.target.id === 'entry-load-latest' && state.entryId) {
      state.pristine = formSnapshot();
      loadEntry(state.entryId, { msg: '已载入最新版本。', msgKind: 'ok' });
    }
  });
  $('version-list').addEventListener('click', onVersionListClick);
  $('audit-refresh').addEventListener('click', function () { withBusy($('audit-refresh'), loadAudit); });
  $('recall').addEventListener('click', onRecall);

  // Ctrl+S saves, anywhere on the entries tab.
  document.addEventListener('keydown', function (ev) {
    if ((ev.ctrlKey || ev.metaKey) && (ev.key === 's' || ev.key === 'S') && state.tab === 'entries' &&
        !$('entry-editor').hidden && isEditor()) {
      ev.preventDefault();
      if (!$('entry-save').disabled) onSave();
    }
  });

  // Try
  $('try-form').addEventListener('submit', onTry);
  $('try-text').addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); onTry(); }
  });

  // Entry links anywhere (try results).
  document.addEventListener('click', function (ev) {
    var t = ev.target.closest && ev.target.closest('[data-open-entry]');
    if (t) openEntry(t.getAttribute('data-open-entry'), { focus: true });
  });

  // Diff dialog
  $('diff-from').addEventListener('change', loadDialogDiff);
  $('diff-close').addEventListener('click', function () { $('diff-dialog').close(); });

  // Review
  $('review-queue').addEventListener('click', onQueueClick);
  $('review-queue').addEventListener('keydown', onQueueKeydown);
  $('review-reload').addEventListener('click', function () { withBusy($('review-reload'), loadQueue); });
  $('review-publish').addEventListener('click', onReviewPublish);
  $('review-reject').addEventListener('click', onReviewReject);
  $('review-open').addEventListener('click', function () {
    if (state.review) openEntry(state.review.entryId, { focus: true });
  });

  // Synonyms
  $('synonyms-form').addEventListener('submit', onSynonymsSave);
  $('synonyms-revert').addEventListener('click', function () {
    $('synonyms-text').value = state.synonymsPristine;
    $('synonyms-error').textContent = '';
    $('synonyms-text').removeAttribute('aria-invalid');
    setMsg($('synonyms-msg'), '');
  });

  // Import
  $('import-file').addEventListener('change', onImportFileChange);
  $('import-form').addEventListener('submit', onImportStart);

  window.addEventListener('beforeunload', function (ev) {
    var synonymsDirty = state.synonymsLoaded && $('synonyms-text').value !== state.synonymsPristine;
    if (Staff.user() && (isDirty() || synonymsDirty)) { ev.preventDefault(); ev.returnValue = ''; }
  });
}

boot();
