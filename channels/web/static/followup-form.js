/*
 * 回访 form for the portal: 是否解决, 满意 / 基本满意 / 不满意 and an optional reason.
 * Used under the chat's answer (chat-view.js → POST /api/v1/chat/followup) and on /track after
 * 办结 (track.js → POST /api/v1/track/followup). The caller passes `post(body)`, which returns
 * a Promise of the fetch Response; server text is only ever inserted as text.
 */
import { messageFrom, readJson } from './util.js';

var counter = 0;

function el(tag, className, text) {
  var node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function group(legend, name, choices) {
  var fs = el('fieldset', 'followup__group');
  fs.appendChild(el('legend', null, legend));
  choices.forEach(function (c) {
    var label = el('label', 'followup__choice');
    var input = el('input');
    input.type = 'radio';
    input.name = name;
    input.value = c[0];
    label.appendChild(input);
    label.appendChild(document.createTextNode(' ' + c[1]));
    fs.appendChild(label);
  });
  return fs;
}

export function followupForm(question, post) {
  counter += 1;
  var n = counter;
  var form = el('form', 'followup');
  form.noValidate = true;
  form.setAttribute('aria-label', '评价');
  form.appendChild(el('p', 'followup__question', question || '您的问题是否已解决？您是否满意？'));
  form.appendChild(group('问题是否已解决', 'resolved-' + n, [['true', '已解决'], ['false', '未解决']]));
  form.appendChild(group('您是否满意', 'satisfaction-' + n, [['satisfied', '满意'], ['basically_satisfied', '基本满意'], ['unsatisfied', '不满意']]));
  var reasonLabel = el('label', 'followup__reason', '原因或建议（选填）');
  var reason = el('textarea');
  reason.maxLength = 500;
  reason.rows = 2;
  reasonLabel.appendChild(reason);
  form.appendChild(reasonLabel);
  var status = el('p', 'followup__status');
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  var submit = el('button', 'btn btn--small', '提交评价');
  submit.type = 'submit';
  form.appendChild(submit);
  form.appendChild(status);

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var resolved = form.querySelector('input[name="resolved-' + n + '"]:checked');
    var satisfaction = form.querySelector('input[name="satisfaction-' + n + '"]:checked');
    if (!resolved || !satisfaction) {
      status.textContent = '请选择问题是否已解决，以及您是否满意。';
      return;
    }
    submit.disabled = true;
    post({ resolved: resolved.value === 'true', satisfaction: satisfaction.value, reason: reason.value.trim() || null }).then(function (resp) {
      return readJson(resp).then(function (data) {
        if (resp.ok) {
          form.replaceChildren(el('p', 'followup__done', '感谢您的评价！'));
          return;
        }
        submit.disabled = resp.status === 409;
        status.textContent = messageFrom(resp, data);
      });
    }, function () {
      submit.disabled = false;
      status.textContent = '网络连接异常，评价未能提交，请稍后重试。';
    });
  });
  return form;
}
