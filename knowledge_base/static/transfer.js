/*
 * The knowledge-base workspace (/kb), 导入导出 tab: the import job.
 */
import { $, api, dash, h, replaceKids, setMsg } from '/static/common/staff.js';
import { IMPORT_POLL_MS, fieldLabel, isEditor, state, withRule } from './common.js';
import { loadEntry } from './editor.js';
import { isDirty } from './editor-form.js';
import { loadList } from './list.js';

// ---------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------

export function stopImportPolling() {
  clearTimeout(state.importTimer);
  state.importTimer = null;
  state.importJob = null;
}

export function onImportFileChange() {
  var f = $('import-file').files[0];
  $('import-file-name').textContent = f ? f.name : '未选择文件';
  if (!f) return;
  if (/\.csv$/i.test(f.name)) $('import-format').value = 'csv';
  else if (/\.ya?ml$/i.test(f.name)) $('import-format').value = 'yaml';
}

export function onImportStart(ev) {
  ev.preventDefault();
  if (!isEditor() || state.importJob) return;
  var file = $('import-file').files[0];
  var fmt = $('import-format').value;
  $('import-result').replaceChildren();
  $('import-errors-block').hidden = true;
  $('import-status').hidden = true;
  if (!file) {
    setMsg($('import-msg'), '请先选择要导入的文件', 'error');
    $('import-file').focus();
    return;
  }
  if (file.size > 20 * 1024 * 1024) {
    setMsg($('import-msg'), '导入文件不能超过20MB', 'error');
    return;
  }
  setMsg($('import-msg'), '正在上传「' + file.name + '」…');
  var btn = $('import-start');
  btn.disabled = true;
  btn.setAttribute('aria-busy', 'true');
  api('POST', '/kb/import?format=' + fmt, file, { raw: true, contentType: fmt === 'csv' ? 'text/csv' : 'application/yaml' })
    .then(function (job) {
      state.importJob = job.id;
      setMsg($('import-msg'), '正在校验「' + file.name + '」…');
      renderImport(job);
    }, function (e) {
      importFinished();
      if (e.status !== 401) setMsg($('import-msg'), '导入失败：' + e.message, 'error');
    });
}

function importFinished() {
  var btn = $('import-start');
  btn.disabled = false;
  btn.removeAttribute('aria-busy');
  stopImportPolling();
}

function pollImport() {
  var job = state.importJob;
  if (!job) return;
  api('GET', '/kb/import/' + encodeURIComponent(job)).then(function (data) {
    if (state.importJob !== job) return;
    renderImport(data);
  }, function (e) {
    if (state.importJob !== job) return;
    importFinished();
    if (e.status !== 401) setMsg($('import-msg'), '无法获取导入进度：' + e.message, 'error');
  });
}

function renderImport(job) {
  var total = job.total || 0;
  var done = Math.min(job.done || 0, total);
  var bar = $('import-progress');
  $('import-status').hidden = false;
  bar.max = Math.max(total, 1);
  bar.value = total ? done : (job.phase === 'validating' ? 0 : 1);
  $('import-progress-text').textContent = '已校验 ' + done + ' / ' + total + ' 行';

  if (job.phase === 'validating' || job.phase === 'applying') {
    if (job.phase === 'applying') setMsg($('import-msg'), '校验通过，正在写入…');
    state.importTimer = setTimeout(pollImport, IMPORT_POLL_MS);
    return;
  }
  importFinished();
  if (job.phase === 'done') {
    var r = job.result || {};
    setMsg($('import-msg'), '导入完成。', 'ok');
    replaceKids($('import-result'), [
      h('dl', { class: 'import-counts' },
        h('div', null, h('dt', null, '新建'), h('dd', { id: 'import-created' }, String(r.created || 0))),
        h('div', null, h('dt', null, '更新'), h('dd', { id: 'import-updated' }, String(r.updated || 0))),
        h('div', null, h('dt', null, '未变化'), h('dd', { id: 'import-unchanged' }, String(r.unchanged || 0)))),
      (r.created || r.updated) ? h('p', { class: 'hint' }, '新建和更新的条目均为草稿，需提交审核、发布后才会对市民生效。') : null
    ]);
    loadList();
    if (state.entryId && !isDirty()) loadEntry(state.entryId);
    return;
  }
  // failed
  setMsg($('import-msg'), '');
  var errors = job.errors || [];
  var tbody = $('import-errors').tBodies[0];
  replaceKids(tbody, errors.map(function (e) {
    return h('tr', null,
      h('td', { class: 'num' }, e.row ? String(e.row) : '—'),
      h('td', { class: 'mono' }, dash(e.entry_id)),
      h('td', null, fieldLabel(e.field)),
      h('td', { class: 'err' }, withRule(e.field, e.message)));
  }));
  $('import-errors-note').textContent = '文件有错误，未导入任何条目' +
    (errors.length ? '（共 ' + errors.length + (errors.length >= 1000 ? ' 条以上，仅显示前 1000 条' : ' 处') + '）' : '');
  $('import-errors-block').hidden = false;
}
