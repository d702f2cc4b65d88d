/*
 * The knowledge-base workspace (/kb): the version diff (review tab and version dialog).
 */
import { $, api, h, replaceKids, setMsg } from '/static/common/staff.js';
import { FIELDS, FIELD_LABELS, actorLabel, fmtDateTime, state } from './common.js';

// ---------------------------------------------------------------------
// Diff (review tab and version dialog)
// ---------------------------------------------------------------------

// Python-style json.dumps of a link, as the server's diff text has it.
function pyJson(o) {
  return '{' + Object.keys(o).map(function (k) { return JSON.stringify(k) + ': ' + JSON.stringify(o[k]); }).join(', ') + '}';
}

function asText(v) {
  if (Array.isArray(v)) return v.map(function (x) { return (x && typeof x === 'object') ? pyJson(x) : String(x); }).join('\n');
  if (v === null || v === undefined) return '';
  if (v === true) return 'True';
  if (v === false) return 'False';
  return String(v);
}

// A diff of a brand-new entry (no earlier version): everything is inserted.
export function syntheticDiff(version) {
  return {
    from: null, to: version,
    fields: FIELDS.map(function (f) {
      var right = asText(version[f]);
      var changed = f === 'sample' ? !!version.sample : right !== '';
      return { field: f, left: f === 'sample' ? 'False' : '', right: right, changed: changed,
        ops: changed ? [['insert', 0, 0, 0, right.length]] : [] };
    })
  };
}

function segments(text, ops, side) {
  var out = [];
  ops.forEach(function (op) {
    var tag = op[0];
    var part = side === 'left' ? text.slice(op[1], op[2]) : text.slice(op[3], op[4]);
    if (!part) return;
    if (tag === 'equal') out.push(part);
    else if (side === 'left' && (tag === 'delete' || tag === 'replace')) out.push(h('del', null, part));
    else if (side === 'right' && (tag === 'insert' || tag === 'replace')) out.push(h('ins', null, part));
  });
  return out;
}

function diffCell(f, side) {
  var text = side === 'left' ? f.left : f.right;
  var cls = 'diff-cell diff-' + side;
  if (f.field === 'sample') {
    var yes = text === 'True';
    var label = yes ? '是（示例内容）' : '否';
    if (f.changed) return h('div', { class: cls }, side === 'left' ? h('del', null, label) : h('ins', null, label));
    return h('div', { class: cls }, label);
  }
  if (text === '') return h('div', { class: cls + ' is-empty' }, h('span', { class: 'muted' }, '（空）'));
  if (f.field === 'links') return h('div', { class: cls }, linkLines(f, side));
  if (!f.changed || !f.ops || !f.ops.length) return h('div', { class: cls }, text);
  return h('div', { class: cls }, segments(text, f.ops, side));
}

// Links are JSON lines in the diff text: show them as "title url", whole lines marked.
function linkLines(f, side) {
  var mine = (side === 'left' ? f.left : f.right).split('\n');
  var other = (side === 'left' ? f.right : f.left).split('\n');
  return mine.map(function (line) {
    var text = line;
    try {
      var o = JSON.parse(line);
      if (o && typeof o === 'object') text = o.title + '  ' + o.url;
    } catch (e) { /* show as is */ }
    var el = h('div', { class: 'diff-link' }, text);
    if (f.changed && other.indexOf(line) === -1) return h(side === 'left' ? 'del' : 'ins', { class: 'diff-link' }, text);
    return el;
  });
}

function versionCaption(v, role) {
  if (!v) return h('div', { class: 'diff-col-head' }, h('strong', null, '（无已发布版本）'), h('span', { class: 'muted' }, ' 新条目'));
  return h('div', { class: 'diff-col-head' },
    h('strong', null, '第 ' + v.version + ' 版'), role ? h('span', { class: 'chip ' + role.cls }, role.label) : null,
    h('span', { class: 'muted' }, ' 编辑 ' + actorLabel(v.author) + ' · ' + fmtDateTime(v.created_at)),
    v.note ? h('span', { class: 'muted' }, ' · ' + v.note) : null);
}

// roles: {from: {label, cls}, to: {label, cls}}
export function renderDiff(container, diff, roles) {
  roles = roles || {};
  var changed = diff.fields.filter(function (f) { return f.changed; });
  var toggleId = container.id + '-only-changed';
  var onlyChanged = container.getAttribute('data-only-changed') === '1';
  var summary = changed.length
    ? '共 ' + changed.length + ' 处字段有改动：' + changed.map(function (f) { return FIELD_LABELS[f.field] || f.field; }).join('、')
    : '两个版本的内容完全相同';
  var toggle = h('input', { type: 'checkbox', id: toggleId });
  toggle.checked = onlyChanged;
  toggle.addEventListener('change', function () {
    container.setAttribute('data-only-changed', toggle.checked ? '1' : '0');
    container.classList.toggle('only-changed', toggle.checked);
  });
  container.classList.toggle('only-changed', onlyChanged);
  replaceKids(container, [
    h('div', { class: 'diff-summary' },
      h('span', null, summary),
      h('label', { class: 'check', for: toggleId }, toggle, ' 只看有改动的字段')),
    h('div', { class: 'diff-grid', role: 'table', 'aria-label': '版本内容对比' },
      h('div', { class: 'diff-row diff-head', role: 'row' },
        h('div', { class: 'diff-label', role: 'columnheader' }, '字段'),
        h('div', { role: 'columnheader' }, versionCaption(diff.from, roles.from)),
        h('div', { role: 'columnheader' }, versionCaption(diff.to, roles.to))),
      diff.fields.map(function (f) {
        return h('div', { class: 'diff-row' + (f.changed ? ' is-changed' : ''), role: 'row', 'data-field': f.field },
          h('div', { class: 'diff-label', role: 'rowheader' }, FIELD_LABELS[f.field] || f.field,
            f.changed ? h('span', { class: 'diff-flag' }, '有改动') : null),
          h('div', { role: 'cell' }, diffCell(f, 'left')),
          h('div', { role: 'cell' }, diffCell(f, 'right')));
      }))
  ]);
}

export function fetchDiff(entryId, from, to) {
  return api('GET', '/kb/entries/' + encodeURIComponent(entryId) + '/diff?from=' + from + '&to=' + to);
}

export function roleOf(entryState, v) {
  if (!v) return null;
  if (v.version === entryState.published_version) return { label: '当前发布', cls: 'st-published' };
  if (v.version === entryState.latest_version) {
    if (entryState.status === 'in_review') return { label: '待审核', cls: 'st-in_review' };
    if (entryState.status === 'draft') return { label: '草稿', cls: 'st-draft' };
  }
  return null;
}

export function openDiffDialog(toVersion) {
  if (!state.entry) return;
  state.diffTo = toVersion;
  var s = state.entry.state;
  var others = state.entry.versions.map(function (v) { return v.version; })
    .filter(function (n) { return n !== toVersion; }).sort(function (a, b) { return b - a; });
  var def = toVersion > 1 ? toVersion - 1 : others[others.length - 1];
  if (s.published_version && s.published_version !== toVersion && toVersion === s.latest_version) def = s.published_version;
  replaceKids($('diff-from'), others.map(function (n) {
    return h('option', { value: n }, '第 ' + n + ' 版' + (n === s.published_version ? '（当前发布）' : ''));
  }));
  $('diff-from').value = String(def);
  $('diff-to-label').textContent = '第 ' + toVersion + ' 版';
  $('diff-dialog-title').textContent = '版本对比 · ' + s.title;
  $('diff-dialog-view').replaceChildren();
  $('diff-dialog').showModal();
  $('diff-from').focus();
  loadDialogDiff();
}

export function loadDialogDiff() {
  if (!state.entry) return;
  var s = state.entry.state;
  var from = Number($('diff-from').value);
  var to = state.diffTo;
  setMsg($('diff-dialog-msg'), '正在加载对比…');
  fetchDiff(s.id, from, to).then(function (diff) {
    setMsg($('diff-dialog-msg'), '');
    renderDiff($('diff-dialog-view'), diff, { from: roleOf(s, diff.from), to: roleOf(s, diff.to) });
  }, function (e) {
    if (e.status !== 401) setMsg($('diff-dialog-msg'), '对比加载失败：' + e.message, 'error');
  });
}
