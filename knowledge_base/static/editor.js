/*
 * The knowledge-base workspace (/kb), entry editor: opening, creating and closing an entry,
 * and its actions (save, submit for review, publish, reject, archive, roll back).
 */
import { $, api, append, h, replaceKids, setMsg, withBusy } from '/static/common/staff.js';
import { STATUS_LABELS, actorLabel, isEditor, isReviewer, me, state } from './common.js';
import { askRejectReason, confirmDialog } from './dialogs.js';
import { fillForm, formSnapshot, isDirty, readForm, serverFieldErrors, showFieldErrors } from './editor-form.js';
import { loadAudit, renderVersions } from './history.js';
import { switchTab } from './tabs.js';
import { loadList, markSelectedRow } from './list.js';
import { loadQueue } from './review.js';

// ---------------------------------------------------------------------
// Editor: open / new / close
// ---------------------------------------------------------------------

function confirmDiscard() {
  if (!isDirty()) return Promise.resolve(true);
  return confirmDialog('放弃未保存的修改？', '当前条目有未保存的修改，离开后这些修改会丢失。', '放弃修改', true);
}

function latestVersion() {
  if (!state.entry) return null;
  var n = state.entry.state.latest_version;
  return state.entry.versions.filter(function (v) { return v.version === n; })[0] || null;
}

function versionByNumber(n) {
  if (!state.entry) return null;
  return state.entry.versions.filter(function (v) { return v.version === n; })[0] || null;
}

export function openEntry(id, opts) {
  opts = opts || {};
  if (!id) return Promise.resolve();
  var same = id === state.entryId && !state.isNew;
  var guard = (same && opts.keepForm) ? Promise.resolve(true) : confirmDiscard();
  return guard.then(function (ok) {
    if (!ok) return;
    if (state.tab !== 'entries') switchTab('entries');
    return loadEntry(id, opts);
  });
}

// opts.keepForm: refresh state, versions and audit, but leave the form's content alone.
// opts.msg / opts.msgKind: message to show once loaded.
export function loadEntry(id, opts) {
  opts = opts || {};
  var seq = ++state.entrySeq;
  var switching = id !== state.entryId || state.isNew;
  state.isNew = false;
  state.entryId = id;
  markSelectedRow();
  $('editor-empty').hidden = true;
  $('entry-editor').hidden = false;
  if (switching) {
    setMsg($('entry-msg'), '正在加载…');
    setMsg($('entry-alert'), '', 'error');
  }
  return api('GET', '/kb/entries/' + encodeURIComponent(id)).then(function (data) {
    if (seq !== state.entrySeq) return;
    state.entry = data;
    if (!opts.keepForm) {
      state.loadedVersion = data.state.latest_version;
      fillForm(latestVersion());
    }
    renderEntryHead();
    renderVersions();
    $('recall-result').replaceChildren();
    $('recall-block').hidden = !(data.state.published_version || data.state.status === 'archived');
    $('versions-block').hidden = false;
    $('audit-block').hidden = false;
    loadAudit();
    setMsg($('entry-msg'), opts.msg || '', opts.msgKind || (opts.msg ? 'ok' : null));
    if (!opts.keepAlert) setMsg($('entry-alert'), '', 'error');
    if (opts.focus) $('editor-heading').focus();
  }, function (e) {
    if (seq !== state.entrySeq || e.status === 401) return;
    setMsg($('entry-msg'), '');
    setMsg($('entry-alert'), '条目加载失败：' + e.message, 'error');
  });
}

export function newEntry() {
  confirmDiscard().then(function (ok) {
    if (!ok) return;
    if (state.tab !== 'entries') switchTab('entries');
    state.entrySeq++;
    state.isNew = true;
    state.entry = null;
    state.entryId = null;
    state.loadedVersion = null;
    markSelectedRow();
    $('editor-empty').hidden = true;
    $('entry-editor').hidden = false;
    fillForm({});
    renderEntryHead();
    $('versions-block').hidden = true;
    $('recall-block').hidden = true;
    $('audit-block').hidden = true;
    setMsg($('entry-msg'), '');
    setMsg($('entry-alert'), '', 'error');
    $('field-title').focus();
  });
}

export function closeEditor(force) {
  var go = force ? Promise.resolve(true) : confirmDiscard();
  return go.then(function (ok) {
    if (!ok) return;
    state.entrySeq++;
    state.isNew = false;
    state.entry = null;
    state.entryId = null;
    state.loadedVersion = null;
    state.pristine = '';
    $('entry-editor').hidden = true;
    $('editor-empty').hidden = false;
    $('versions-block').hidden = true;
    $('recall-block').hidden = true;
    $('audit-block').hidden = true;
    markSelectedRow();
  });
}

function renderEntryHead() {
  var heading = $('editor-heading');
  var chip = $('entry-status');
  var info = $('entry-versions');
  $('field-id-row').hidden = !state.isNew;
  $('entry-fields').disabled = !isEditor();
  if (state.isNew) {
    heading.textContent = '新建条目';
    chip.className = 'chip st-new';
    chip.textContent = '未保存';
    info.textContent = '保存后为第 1 版草稿';
  } else if (state.entry) {
    var s = state.entry.state;
    var latest = latestVersion();
    heading.textContent = s.title;
    heading.title = s.id;
    replaceKids(chip, STATUS_LABELS[s.status] || s.status_label);
    chip.className = 'chip st-' + s.status;
    var parts = ['编号 ' + s.id, '最新第 ' + s.latest_version + ' 版' + (latest ? '（' + actorLabel(latest.author) + '）' : '')];
    if (s.published_version) {
      var pub = versionByNumber(s.published_version);
      parts.push('已发布第 ' + s.published_version + ' 版' + (pub ? '（' + actorLabel(pub.author) + ' 编辑，' + actorLabel(pub.reviewer) + ' 发布）' : ''));
    } else {
      parts.push('尚未发布');
    }
    info.textContent = parts.join(' · ');
  }
  updateEditorButtons();
}

export function updateEditorButtons() {
  var open = state.isNew || !!state.entry;
  if (!open) return;
  var s = state.entry && state.entry.state;
  var status = s ? s.status : null;
  var dirty = isDirty();
  var busy = document.querySelector('.editor-actions [aria-busy="true"]');
  function set(id, enabled, why) {
    var b = $(id);
    if (b.getAttribute('aria-busy') === 'true') return;
    b.disabled = !enabled || !!busy;
    b.title = enabled ? '' : (why || '');
  }
  set('entry-save', true);
  set('entry-submit', state.isNew ? false : (status === 'draft' || dirty),
    state.isNew ? '请先保存' : status === 'in_review' ? '已在审核中' : '没有待提交的修改');
  set('entry-publish', !state.isNew && status === 'in_review', '只有待审核的条目可以发布');
  var latest = latestVersion();
  if (status === 'in_review' && latest && latest.author === me()) {
    $('entry-publish').title = '您是该版本的最后编辑人，按两人审核规则须由另一位审核人发布';
  }
  set('entry-reject', !state.isNew && status === 'in_review', '只有待审核的条目可以退回');
  set('entry-archive', !state.isNew && status !== 'archived', state.isNew ? '条目尚未保存' : '已归档');
  $('entry-submit').textContent = dirty && !state.isNew ? '保存并提交审核' : '提交审核';
}

// ---------------------------------------------------------------------
// Editor: actions
// ---------------------------------------------------------------------

function showEntryError(e) {
  setMsg($('entry-msg'), '');
  setMsg($('entry-alert'), e.message, 'error');
}

// Saves the form. Resolves with true when saved (or nothing to save and allowUnchanged).
function saveEntry(opts) {
  opts = opts || {};
  setMsg($('entry-alert'), '', 'error');
  var read = readForm();
  if (showFieldErrors(read.errors)) {
    setMsg($('entry-msg'), '');
    setMsg($('entry-alert'), '内容有误，请按提示修改', 'error');
    return Promise.resolve(false);
  }
  if (state.isNew) {
    var body = { content: read.content };
    var id = $('field-id').value.trim();
    if (id) body.id = id;
    return api('POST', '/kb/entries', body).then(function (created) {
      state.pristine = formSnapshot();
      loadList();
      return loadEntry(created.id, { msg: opts.quiet ? '' : '已新建条目（第 1 版，草稿）。提交审核、发布后才会对市民生效。' })
        .then(function () { return true; });
    }, function (e) { return onSaveError(e); });
  }
  if (!isDirty() && opts.allowUnchanged) return Promise.resolve(true);
  var entryId = state.entryId;
  return api('PUT', '/kb/entries/' + encodeURIComponent(entryId), {
    base_version: state.loadedVersion, content: read.content
  }).then(function (saved) {
    state.pristine = formSnapshot();
    loadList();
    return loadEntry(entryId, {
      msg: opts.quiet ? '' : '已保存为第 ' + saved.latest_version + ' 版（草稿）。提交审核、发布后才会对市民生效。'
    }).then(function () { return true; });
  }, function (e) { return onSaveError(e); });
}

function onSaveError(e) {
  if (e.status === 401) return false;
  if (e.code === 'stale_version') {
    setMsg($('entry-msg'), '');
    var alert = $('entry-alert');
    setMsg(alert, '', 'error');
    append(alert, [
      '保存失败：' + e.message.replace(/[。.]$/, '') + '。您的修改仍保留在页面上，可先复制需要的内容，再',
      h('button', { type: 'button', id: 'entry-load-latest', class: 'linkish' }, '载入最新版本'),
      '。'
    ]);
    return false;
  }
  if (e.code === 'no_change') {
    setMsg($('entry-alert'), '', 'error');
    setMsg($('entry-msg'), '内容没有变化，无需保存。', 'warn');
    return false;
  }
  if (e.code === 'invalid_entry_id' || e.code === 'entry_exists') {
    var err = {}; err.id = e.message;
    showFieldErrors(err);
    showEntryError(e);
    return false;
  }
  if (e.fields.length) {
    showFieldErrors(serverFieldErrors(e.fields));
  }
  showEntryError(e);
  return false;
}

export function onSave(ev) {
  if (ev) ev.preventDefault();
  if (!isEditor()) return;
  withBusy($('entry-save'), function () { return saveEntry(); });
}

export function onSubmitForReview() {
  if (!state.entry) return;
  var entryId = state.entryId;
  withBusy($('entry-submit'), function () {
    var dirty = isDirty();
    return saveEntry({ allowUnchanged: true, quiet: true }).then(function (ok) {
      if (!ok) return;
      return api('POST', '/kb/entries/' + encodeURIComponent(entryId) + '/submit').then(function (s) {
        loadList();
        if (isReviewer()) loadQueue({ quiet: true });
        return loadEntry(entryId, {
          msg: (dirty ? '已保存并' : '已') + '提交审核（第 ' + s.latest_version + ' 版），等待另一位审核人发布。'
        });
      }, showEntryError);
    });
  });
}

export function onPublish() {
  if (!state.entry) return;
  var entryId = state.entryId;
  var version = state.entry.state.latest_version;
  withBusy($('entry-publish'), function () {
    return publish(entryId, version).then(function () {
      return loadEntry(entryId, { keepForm: !isDirty() ? false : true, msg: '已发布第 ' + version + ' 版，机器人已改用新内容答复。' });
    }, showEntryError);
  });
}

export function publish(entryId, version) {
  return api('POST', '/kb/entries/' + encodeURIComponent(entryId) + '/publish', { version: version }).then(function (s) {
    loadList();
    if (isReviewer()) loadQueue({ quiet: true });
    return s;
  });
}

export function onReject() {
  if (!state.entry) return;
  var entryId = state.entryId;
  var s = state.entry.state;
  askRejectReason('「' + s.title + '」第 ' + s.latest_version + ' 版').then(function (reason) {
    if (reason === null) return;
    withBusy($('entry-reject'), function () {
      return api('POST', '/kb/entries/' + encodeURIComponent(entryId) + '/reject', { reason: reason }).then(function () {
        loadList();
        loadQueue({ quiet: true });
        return loadEntry(entryId, { keepForm: true, msg: '已退回，条目恢复为草稿，编辑人可在操作记录中看到退回原因。' });
      }, showEntryError);
    });
  });
}

export function onArchive() {
  if (!state.entry) return;
  var entryId = state.entryId;
  var s = state.entry.state;
  var text = s.published_version
    ? '归档后，机器人将不再用「' + s.title + '」答复市民（当前发布的第 ' + s.published_version + ' 版会下线）。编辑人保存新版本后可重新提交审核。'
    : '归档「' + s.title + '」。编辑人保存新版本后可重新提交审核。';
  confirmDialog('归档条目', text, '确认归档', true).then(function (ok) {
    if (!ok) return;
    withBusy($('entry-archive'), function () {
      return api('POST', '/kb/entries/' + encodeURIComponent(entryId) + '/archive').then(function () {
        loadList();
        loadQueue({ quiet: true });
        return loadEntry(entryId, { keepForm: true, msg: '已归档。' });
      }, showEntryError);
    });
  });
}

export function onRollback(version, btn) {
  if (!state.entry) return;
  var entryId = state.entryId;
  var s = state.entry.state;
  var text = '将以第 ' + version + ' 版的内容生成第 ' + (s.latest_version + 1) + ' 版，并直接提交审核；审核人发布后才会生效。' +
    (isDirty() ? '\n注意：当前页面上未保存的修改将被丢弃。' : '');
  confirmDialog('回滚到第 ' + version + ' 版', text, '确认回滚').then(function (ok) {
    if (!ok) return;
    withBusy(btn, function () {
      return api('POST', '/kb/entries/' + encodeURIComponent(entryId) + '/rollback', { to_version: version }).then(function (st) {
        state.pristine = formSnapshot();
        loadList();
        loadQueue({ quiet: true });
        return loadEntry(entryId, { msg: '已回滚：第 ' + st.latest_version + ' 版（内容同第 ' + version + ' 版）已提交审核。' });
      }, showEntryError);
    });
  });
}
