/*
 * The knowledge-base workspace (/kb), 同义词 tab.
 */
import { $, api, setMsg, withBusy } from '/static/common/staff.js';
import { isEditor, state } from './common.js';

// ---------------------------------------------------------------------
// Synonyms
// ---------------------------------------------------------------------

export function loadSynonyms() {
  setMsg($('synonyms-msg'), '正在加载…');
  return api('GET', '/kb/synonyms').then(function (data) {
    var text = (data.groups || []).map(function (g) { return g.join(' '); }).join('\n');
    $('synonyms-text').value = text;
    state.synonymsPristine = text;
    state.synonymsLoaded = true;
    $('synonyms-count').textContent = '共 ' + (data.groups || []).length + ' 组';
    setMsg($('synonyms-msg'), '');
  }, function (e) {
    if (e.status !== 401) setMsg($('synonyms-msg'), '同义词加载失败：' + e.message, 'error');
  });
}

export function onSynonymsSave(ev) {
  ev.preventDefault();
  if (!isEditor()) return;
  var groups = [];
  var bad = [];
  $('synonyms-text').value.split(/\r?\n/).forEach(function (line, i) {
    var terms = [];
    line.split(/[\s,，、;；]+/).map(function (t) { return t.trim(); }).filter(Boolean)
      .forEach(function (t) { if (terms.indexOf(t) === -1) terms.push(t); });
    if (!terms.length) return;
    if (terms.length < 2) bad.push(i + 1);
    groups.push(terms);
  });
  var err = $('synonyms-error');
  if (bad.length) {
    err.textContent = '第 ' + bad.join('、') + ' 行只有一个词：每组至少需要两个词';
    $('synonyms-text').setAttribute('aria-invalid', 'true');
    $('synonyms-text').focus();
    return;
  }
  err.textContent = '';
  $('synonyms-text').removeAttribute('aria-invalid');
  withBusy($('synonyms-save'), function () {
    return api('PUT', '/kb/synonyms', { groups: groups }).then(function (data) {
      var text = (data.groups || []).map(function (g) { return g.join(' '); }).join('\n');
      $('synonyms-text').value = text;
      state.synonymsPristine = text;
      $('synonyms-count').textContent = '共 ' + (data.groups || []).length + ' 组';
      setMsg($('synonyms-msg'), '已保存 ' + (data.groups || []).length + ' 组同义词，机器人已按新同义词检索。', 'ok');
    }, function (e) {
      if (e.status === 401) return;
      if (e.fields.length) err.textContent = e.fields.map(function (f) { return f.message; }).join('；');
      setMsg($('synonyms-msg'), '保存失败：' + e.message, 'error');
    });
  });
}
