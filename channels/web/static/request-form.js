/*
 * The request form on the portal (index.html #request-form), progressively enhanced: Chinese
 * client-side checks, fetch submission with an Idempotency-Key, inline errors and the success
 * panel. Without JS the form posts normally. The parts:
 *   form-rules.js          limits and checks
 *   form-errors.js         status line, field errors, error summary
 *   description-counter.js the 诉求描述 counter
 *   attachments.js         the chosen files
 *   submission.js          sending and reading the answer
 *   result-panel.js        the success panel
 */
import { initAttachments, selectedFiles } from './attachments.js';
import { initDescriptionCounter } from './description-counter.js';
import { clearErrors, clearFieldError, hasFieldError, setFieldError, setStatus, showFieldErrors } from './form-errors.js';
import { CHECKED_FIELDS, checkField, validate } from './form-rules.js';
import { initResultPanel } from './result-panel.js';
import { initSubmission, isBusy, submit } from './submission.js';

/** Re-checks a field that currently shows an error once the user fixes it. */
function revalidate(form, name) {
  if (!hasFieldError(name)) {
    return;
  }
  const message = CHECKED_FIELDS.indexOf(name) === -1 ? '' : checkField(form, name, selectedFiles());
  if (!message) {
    clearFieldError(form, name);
  } else {
    setFieldError(form, name, message);
  }
}

function bindFieldChecks(form) {
  ['description', 'phone', 'address', 'name'].forEach(function (name) {
    const el = document.getElementById(name);
    el.addEventListener('change', function () {
      revalidate(form, name);
    });
    el.addEventListener('blur', function () {
      revalidate(form, name);
    });
  });
  ['district', 'confidential'].forEach(function (name) {
    document.getElementById(name).addEventListener('change', function () {
      clearFieldError(form, name);
    });
  });
  Array.prototype.forEach.call(form.querySelectorAll('input[name="kind"]'), function (el) {
    el.addEventListener('change', function () {
      clearFieldError(form, 'kind');
    });
  });
}

function onSubmit(form, ev) {
  ev.preventDefault();
  if (isBusy()) {
    return;
  }
  clearErrors(form);
  const errors = validate(form, selectedFiles());
  if (errors.length) {
    setStatus('有' + errors.length + '项内容需要修改，请按提示修改后重新提交。', 'error');
    showFieldErrors(form, errors);
    return;
  }
  submit(form);
}

export function initRequestForm() {
  const form = document.getElementById('request-form');
  if (!form) {
    return;
  }
  initSubmission(form);
  // We show our own Chinese messages instead of the browser's bubbles.
  form.setAttribute('novalidate', '');
  initDescriptionCounter(form);
  initAttachments(form, function () {
    revalidate(form, 'attachments');
  });
  bindFieldChecks(form);
  initResultPanel(form);
  form.addEventListener('submit', function (ev) {
    onSubmit(form, ev);
  });
}

initRequestForm();
