/*
 * The knowledge-base workspace (/kb): "How would the bot answer?" (试一试).
 */
import { $, api, h, replaceKids, withBusy } from '/static/common/staff.js';
import { DECISION_LABELS, KIND_LABELS, URGENCY_LABELS, reasonText } from './common.js';

// ---------------------------------------------------------------------
// "How would the bot answer?"
// ---------------------------------------------------------------------

export function onTry(ev) {
  if (ev) ev.preventDefault();
  var text = $('try-text').value.trim();
  var box = $('try-result');
  if (!text) {
    replaceKids(box, h('p', { class: 'msg msg--warn' }, '请输入一句市民的提问'));
    $('try-text').focus();
    return;
  }
  withBusy($('try-submit'), function () {
    return api('POST', '/kb/try', { text: text }).then(function (d) { renderTry(d, text); }, function (e) {
      if (e.status !== 401) replaceKids(box, h('p', { class: 'msg msg--error' }, '试答失败：' + e.message));
    });
  });
}

function entryLink(id, title) {
  return h('button', { type: 'button', class: 'linkish', 'data-open-entry': id, title: '打开条目 ' + id }, title || id);
}

function renderTry(d, question) {
  var label = DECISION_LABELS[d.type];
  var rows = [];
  if (d.entry_id) {
    rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '命中条目'),
      h('span', { class: 'v' }, entryLink(d.entry_id, d.entry_title),
        h('span', { class: 'muted small' }, ' ' + d.entry_id + ' · 第 ' + d.version + ' 版'))));
  }
  if (typeof d.confidence === 'number') {
    var pct = Math.round(d.confidence * 100);
    rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '置信度'),
      h('span', { class: 'v' }, h('meter', { min: '0', max: '1', low: '0.4', high: '0.7', optimum: '1',
        value: String(d.confidence), 'aria-label': '置信度' }), ' ' + pct + '%')));
  }
  if (d.options && d.options.length) {
    rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '候选条目'),
      h('ol', { class: 'v try-options' }, d.options.map(function (o) { return h('li', null, entryLink(o.entry_id, o.title)); }))));
  }
  if (d.line) rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '分流至'), h('span', { class: 'v' }, d.line)));
  if (d.kind) rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '诉求类型'), h('span', { class: 'v' }, KIND_LABELS[d.kind] || d.kind)));
  if (d.urgency) rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '办理时限'), h('span', { class: 'v' }, URGENCY_LABELS[d.urgency] || d.urgency)));
  if (d.location && (d.location.district || d.location.street)) {
    rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '识别地点'),
      h('span', { class: 'v' }, [d.location.district, d.location.street].filter(Boolean).join(' '))));
  }
  var reasons = (d.reasons || []).map(function (r) {
    var t = reasonText(r);
    return t ? h('li', null, t) : h('li', { class: 'raw', title: '未翻译的判断依据' }, r);
  });
  if (reasons.length) rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '判断依据'), h('ul', { class: 'v reasons' }, reasons)));

  replaceKids($('try-result'), [
    h('div', { class: 'try-head' },
      h('span', { class: 'chip d-' + d.type, 'data-decision': d.type }, label || d.type),
      h('span', { class: 'muted small try-q', title: question }, '“' + question + '”')),
    rows,
    h('div', { class: 'try-reply-label small muted' }, '机器人回复'),
    h('blockquote', { class: 'try-reply' }, d.reply || ''),
    typeof d.revision === 'number' ? h('p', { class: 'hint' }, '知识库修订号 ' + d.revision + '（已发布内容）') : null
  ]);
}
