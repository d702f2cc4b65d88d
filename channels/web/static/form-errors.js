/*
 * Request form: the status line, errors next to their fields and the error summary at the top
 * (#error-summary), which links to each field and takes the focus.
 */
import { FIELD_LABELS } from './form-rules.js';
import { focusElement } from './util.js';

function $(id) {
  return document.getElementById(id);
}

/** The status line under the submit button; `tone` is '', 'busy' or 'error'. */
export function setStatus(text, tone) {
  const statusEl = $('form-status');
  statusEl.textContent = text || '';
  statusEl.className = 'status-line' + (tone ? ' status-line--' + tone : '');
}

function controlsFor(form, name) {
  if (name === 'kind') {
    return Array.prototype.slice.call(form.querySelectorAll('input[name="kind"]'));
  }
  const el = $(name);
  return el ? [el] : [];
}

function focusTargetFor(form, name) {
  if (name === 'kind') {
    return form.querySelector('input[name="kind"]:checked') || form.querySelector('input[name="kind"]');
  }
  return $(name);
}

function fieldWrapper(name) {
  return name === 'kind' ? $('kind-group') : $(name + '-field');
}

/** True when the field is showing an error. */
export function hasFieldError(name) {
  const errEl = $(name + '-error');
  return !!errEl && !errEl.hidden;
}

export function setFieldError(form, name, message) {
  const errEl = $(name + '-error');
  if (!errEl) {
    return false;
  }
  errEl.textContent = message;
  errEl.hidden = false;
  controlsFor(form, name).forEach(function (el) {
    el.setAttribute('aria-invalid', 'true');
  });
  const wrap = fieldWrapper(name);
  if (wrap) {
    wrap.classList.add('field--error');
    if (name === 'kind') {
      wrap.setAttribute('aria-invalid', 'true');
    }
  }
  return true;
}

export function clearFieldError(form, name) {
  const errEl = $(name + '-error');
  if (errEl) {
    errEl.textContent = '';
    errEl.hidden = true;
  }
  controlsFor(form, name).forEach(function (el) {
    el.removeAttribute('aria-invalid');
  });
  const wrap = fieldWrapper(name);
  if (wrap) {
    wrap.classList.remove('field--error');
    wrap.removeAttribute('aria-invalid');
  }
}

export function clearErrors(form) {
  Object.keys(FIELD_LABELS).forEach(function (name) {
    clearFieldError(form, name);
  });
  $('error-summary-list').textContent = '';
  $('error-summary').hidden = true;
}

function addSummaryItem(text, target) {
  const li = document.createElement('li');
  if (target) {
    const a = document.createElement('a');
    a.href = '#' + target.id;
    a.textContent = text;
    a.addEventListener('click', function (ev) {
      ev.preventDefault();
      focusElement(target);
    });
    li.appendChild(a);
  } else {
    li.textContent = text;
  }
  $('error-summary-list').appendChild(li);
}

/**
 * Shows field errors ([{field, message}]) inline and in the summary, then
 * focuses the first invalid field (in page order).
 */
export function showFieldErrors(form, errors, title) {
  const summary = $('error-summary');
  $('error-summary-title').textContent = title || '提交未成功，请检查以下内容：';
  $('error-summary-list').textContent = '';
  const byField = {};
  const order = [];
  errors.forEach(function (err) {
    // Accept "attachments[0]" / "attachments.0" style names from the server.
    let name = String(err.field || '').split(/[.[]/)[0];
    const msg = err.message || '填写内容有误';
    if (!FIELD_LABELS[name]) {
      name = '';
    }
    const key = name || '_general';
    if (!byField[key]) {
      byField[key] = [];
      order.push(key);
    }
    if (byField[key].indexOf(msg) === -1) {
      byField[key].push(msg);
    }
  });
  let firstTarget = null;
  const pageOrder = Object.keys(FIELD_LABELS).concat(['_general']);
  order.sort(function (a, b) {
    return pageOrder.indexOf(a) - pageOrder.indexOf(b);
  });
  order.forEach(function (key) {
    const msgs = byField[key];
    if (key === '_general') {
      msgs.forEach(function (m) {
        addSummaryItem(m, null);
      });
      return;
    }
    setFieldError(form, key, msgs.join('；'));
    const target = focusTargetFor(form, key);
    msgs.forEach(function (m) {
      addSummaryItem(FIELD_LABELS[key] + '：' + m, target);
    });
    if (!firstTarget) {
      firstTarget = target;
    }
  });
  summary.hidden = false;
  focusElement(firstTarget || summary);
}

/** Shows a single server/general message in the summary and status line. */
export function showGeneralError(form, message, field) {
  const summary = $('error-summary');
  $('error-summary-title').textContent = '提交未成功';
  $('error-summary-list').textContent = '';
  let target = null;
  if (field && setFieldError(form, field, message)) {
    target = focusTargetFor(form, field);
  }
  addSummaryItem(message, target);
  summary.hidden = false;
  setStatus(message, 'error');
  focusElement(summary);
}
