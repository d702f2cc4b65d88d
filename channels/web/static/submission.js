/*
 * Request form: sending it (POST /api/v1/requests, multipart) with an Idempotency-Key, and
 * reading the answer - the success panel, field errors, or a general message. A retry after an
 * unknown outcome keeps the key, so it cannot create a second ticket.
 */
import { selectedFiles } from './attachments.js';
import { setStatus, showFieldErrors, showGeneralError } from './form-errors.js';
import { showSuccess } from './result-panel.js';
import { fetchWithTimeout, messageFrom, newIdempotencyKey, readJson } from './util.js';

const SUBMIT_TIMEOUT_MS = 5 * 60 * 1000; // uploads over slow mobile links

let idempotencyKey = '';
let busy = false;
let submitLabel = '';

export function isBusy() {
  return busy;
}

/** A new request from now on: a fresh Idempotency-Key. */
function renewKey(form) {
  idempotencyKey = newIdempotencyKey();
  form.setAttribute('data-idempotency-key', idempotencyKey); // visible to tests
}

export function initSubmission(form) {
  const submitBtn = document.getElementById('submit-request');
  submitLabel = submitBtn ? submitBtn.textContent : '';
  renewKey(form);
}

function setBusy(form, on) {
  const submitBtn = document.getElementById('submit-request');
  busy = on;
  submitBtn.disabled = on;
  submitBtn.setAttribute('aria-disabled', on ? 'true' : 'false');
  submitBtn.textContent = on ? '正在提交…' : submitLabel;
  form.setAttribute('aria-busy', on ? 'true' : 'false');
}

function ticketFromRedirect(resp) {
  // If the server answered with its HTML flow (303 to /track?ticket_id=..).
  try {
    const u = new URL(resp.url, window.location.href);
    if (resp.redirected && u.pathname === '/track' && u.searchParams.get('ticket_id')) {
      return u.searchParams.get('ticket_id');
    }
  } catch (e) {
    /* ignore */
  }
  return null;
}

function buildBody(form) {
  const fd = new FormData(form);
  // Spaces typed inside phone numbers ("138 1234 5678") are not part of the number.
  fd.set('phone', String(fd.get('phone') || '').replace(/\s+/g, ''));
  // Send only real files (an empty file input would add an empty part).
  fd.delete('attachments');
  selectedFiles().forEach(function (f) {
    fd.append('attachments', f, f.name);
  });
  return fd;
}

function handleResponse(form, resp, data) {
  const status = resp.status;
  if ((status === 201 || status === 200) && data && data.ticket_id) {
    showSuccess(form, data);
    renewKey(form); // the next request is a new one
    return;
  }
  const redirectedId = (status === 200) ? ticketFromRedirect(resp) : null;
  if (redirectedId) {
    showSuccess(form, { ticket_id: redirectedId });
    renewKey(form);
    return;
  }
  if (status >= 400 && status < 500) {
    // Definitely not accepted: a corrected resubmission is a new request.
    renewKey(form);
  }
  if (status === 422 && data && Array.isArray(data.fields) && data.fields.length) {
    setStatus(data.message || '填写的内容有误，请按提示修改后重新提交。', 'error');
    showFieldErrors(form, data.fields);
    return;
  }
  const message = messageFrom(resp, data);
  if (status === 413 || status === 415) {
    showGeneralError(form, message, 'attachments');
  } else if (status >= 500 || (status >= 200 && status < 300)) {
    // Outcome unknown: keep the key so a retry cannot create a duplicate.
    showGeneralError(form, status >= 500 ? message :
      '未能确认提交结果，请再次点击“提交诉求”。重复提交不会生成重复的工单。');
  } else {
    showGeneralError(form, message);
  }
}

/** Sends the (already checked) form and shows the outcome. */
export function submit(form) {
  setBusy(form, true);
  setStatus(selectedFiles().length ? '正在提交并上传附件，请稍候…' : '正在提交，请稍候…', 'busy');

  fetchWithTimeout(form.getAttribute('action') || '/api/v1/requests', {
    method: 'POST',
    body: buildBody(form),
    headers: {
      'Idempotency-Key': idempotencyKey,
      'Accept': 'application/json'
    },
    credentials: 'same-origin'
  }, SUBMIT_TIMEOUT_MS).then(function (resp) {
    return readJson(resp).then(function (data) {
      setBusy(form, false);
      handleResponse(form, resp, data);
    });
  }, function () {
    // Network failure or timeout: keep everything, including the key.
    setBusy(form, false);
    showGeneralError(form, '网络连接异常，诉求可能未提交成功。您填写的内容已保留，请检查网络后再次点击“提交诉求”；重复提交不会生成重复的工单。');
  });
}
