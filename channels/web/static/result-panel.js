/*
 * Request form: the success panel (#result) with the new ticket number, 复制工单号 and
 * 继续提交新的诉求.
 */
import { renderFiles } from './attachments.js';
import { updateCounter } from './description-counter.js';
import { clearErrors, setStatus } from './form-errors.js';
import { focusElement } from './util.js';

function $(id) {
  return document.getElementById(id);
}

/** Replaces the form with the success panel for `data` ({ticket_id, message?, duplicate?}). */
export function showSuccess(form, data) {
  const copyBtn = $('copy-ticket');
  const ticketId = String(data.ticket_id);
  $('ticket-id').textContent = ticketId;
  $('result-message').textContent =
    data.message || '您的诉求已受理，我们将尽快办理。';
  $('result-duplicate').hidden = data.duplicate !== true;
  $('result-track-link').href =
    '/track?ticket_id=' + encodeURIComponent(ticketId);
  $('copy-status').textContent = '';
  if (copyBtn) {
    copyBtn.hidden = !(navigator.clipboard && navigator.clipboard.writeText);
  }

  form.reset();
  const related = $('related_ticket');
  if (related) {
    related.value = ''; // a hidden input keeps its value through reset()
  }
  renderFiles();
  updateCounter();
  clearErrors(form);
  setStatus('', '');
  form.hidden = true;
  $('result').hidden = false;
  focusElement($('result-title'));
}

export function initResultPanel(form) {
  const copyBtn = $('copy-ticket');
  if (copyBtn) {
    copyBtn.addEventListener('click', function () {
      const id = $('ticket-id').textContent;
      navigator.clipboard.writeText(id).then(function () {
        $('copy-status').textContent = '工单号已复制';
      }, function () {
        $('copy-status').textContent = '复制失败，请手动记下工单号';
      });
    });
  }

  $('new-request').addEventListener('click', function () {
    $('result').hidden = true;
    form.hidden = false;
    focusElement(form.elements.namedItem('description'));
  });
}
