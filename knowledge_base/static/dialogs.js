/*
 * The knowledge-base workspace (/kb): the confirm and reject-reason dialogs.
 */
import { $ } from '/static/common/staff.js';
import { setFieldError } from './editor-form.js';

// ---------------------------------------------------------------------
// Dialogs
// ---------------------------------------------------------------------

// Resolves true when the user confirms.
export function confirmDialog(title, text, okLabel, danger) {
  var dlg = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  var ok = $('confirm-ok');
  ok.textContent = okLabel || '确定';
  ok.className = 'btn ' + (danger ? 'btn--warn' : 'btn--primary');
  return new Promise(function (resolve) {
    function done(v) {
      ok.removeEventListener('click', onOk);
      $('confirm-cancel').removeEventListener('click', onCancel);
      dlg.removeEventListener('close', onClose);
      if (dlg.open) dlg.close();
      resolve(v);
    }
    function onOk(ev) { ev.preventDefault(); done(true); }
    function onCancel() { done(false); }
    function onClose() { done(false); }
    ok.addEventListener('click', onOk);
    $('confirm-cancel').addEventListener('click', onCancel);
    dlg.addEventListener('close', onClose);
    dlg.showModal();
    $('confirm-cancel').focus();
  });
}

// Resolves with the reason, or null when cancelled.
export function askRejectReason(subject) {
  var dlg = $('reject-dialog');
  $('reject-entry').textContent = subject || '';
  $('reject-reason').value = '';
  setFieldError('reject-error', '');
  $('reject-reason').removeAttribute('aria-invalid');
  return new Promise(function (resolve) {
    function done(v) {
      $('reject-form').removeEventListener('submit', onSubmit);
      $('reject-cancel').removeEventListener('click', onCancel);
      dlg.removeEventListener('close', onClose);
      if (dlg.open) dlg.close();
      resolve(v);
    }
    function onSubmit(ev) {
      ev.preventDefault();
      var reason = $('reject-reason').value.trim();
      if (!reason) {
        setFieldError('reject-error', '请填写退回原因');
        $('reject-reason').setAttribute('aria-invalid', 'true');
        $('reject-reason').focus();
        return;
      }
      done(reason);
    }
    function onCancel() { done(null); }
    function onClose() { done(null); }
    $('reject-form').addEventListener('submit', onSubmit);
    $('reject-cancel').addEventListener('click', onCancel);
    dlg.addEventListener('close', onClose);
    dlg.showModal();
    $('reject-reason').focus();
  });
}
