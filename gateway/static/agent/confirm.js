/*
 * Beijing 12345 hotline - agent desktop: asking before an action that cannot be undone
 * (转派, 转外省市, 办结回告, ending a video session).
 *
 *   import { ask } from '/static/agent/confirm.js';
 *   ask({ title, text, items: ['…'], warning, ok: '确定转派' }) -> Promise<boolean>
 *
 * A modal <dialog> (Esc or 取消 answers false, focus starts on 取消 and returns to where it was).
 * All text is inserted with textContent; innerHTML is never used.
 */

var dialog = null;
var pending = null;

function el(tag, attrs, text) {
  var node = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
  if (text) node.textContent = text;
  return node;
}

function build() {
  dialog = el('dialog', { id: 'desk-confirm', class: 'desk-confirm', 'aria-labelledby': 'desk-confirm-title',
    'aria-describedby': 'desk-confirm-text' });
  var form = el('form', { method: 'dialog' });
  form.appendChild(el('h2', { id: 'desk-confirm-title', class: 'desk-confirm-title' }));
  form.appendChild(el('p', { id: 'desk-confirm-text', class: 'desk-confirm-text' }));
  form.appendChild(el('ul', { id: 'desk-confirm-items', class: 'desk-confirm-items' }));
  form.appendChild(el('p', { id: 'desk-confirm-warning', class: 'desk-confirm-warning' }));
  var row = el('div', { class: 'desk-confirm-actions' });
  var cancel = el('button', { id: 'desk-confirm-cancel', type: 'button', class: 'btn' }, '取消');
  var ok = el('button', { id: 'desk-confirm-ok', type: 'submit', class: 'btn btn--warn', value: 'ok' }, '确定');
  row.appendChild(cancel);
  row.appendChild(ok);
  form.appendChild(row);
  dialog.appendChild(form);
  document.body.appendChild(dialog);
  cancel.addEventListener('click', function () { dialog.close('cancel'); });
  dialog.addEventListener('cancel', function () { dialog.returnValue = 'cancel'; });
  dialog.addEventListener('close', function () {
    var done = pending;
    pending = null;
    if (done) done(dialog.returnValue === 'ok');
  });
}

export function ask(opts) {
  opts = opts || {};
  if (!dialog) build();
  if (pending) { pending(false); pending = null; }
  if (dialog.open) dialog.close('cancel');
  var back = document.activeElement;
  document.getElementById('desk-confirm-title').textContent = opts.title || '请确认';
  document.getElementById('desk-confirm-text').textContent = opts.text || '';
  var list = document.getElementById('desk-confirm-items');
  list.replaceChildren.apply(list, (opts.items || []).map(function (t) { return el('li', null, t); }));
  list.hidden = !(opts.items && opts.items.length);
  var warning = document.getElementById('desk-confirm-warning');
  warning.textContent = opts.warning === undefined ? '此操作提交后无法撤回。' : (opts.warning || '');
  warning.hidden = !warning.textContent;
  document.getElementById('desk-confirm-ok').textContent = opts.ok || '确定';
  dialog.returnValue = '';
  return new Promise(function (resolve) {
    pending = function (yes) {
      if (back && typeof back.focus === 'function' && document.contains(back)) back.focus();
      resolve(yes);
    };
    dialog.showModal();
    document.getElementById('desk-confirm-cancel').focus();
  });
}

