/*
 * Request form: the character counter under 诉求描述 (#description-counter), announced to
 * screen readers only near the limit and only after typing pauses.
 */
import { DESC_MAX, DESC_MIN } from './form-rules.js';
import { charCount } from './util.js';

let description = null;
let lastAnnounced = '';
let announceTimer = null;

export function updateCounter() {
  const counter = document.getElementById('description-counter');
  const announce = document.getElementById('description-announce');
  const n = charCount(description.value);
  let text = '已输入 ' + n + ' / ' + DESC_MAX + ' 字';
  if (n > 0 && n < DESC_MIN) {
    text += '（至少' + DESC_MIN + '字）';
  }
  counter.textContent = text;
  counter.className = 'counter' + (n > DESC_MAX ? ' counter--over' : (n >= DESC_MAX - 100 ? ' counter--warn' : ''));

  // Announce only near the limit, and only after typing pauses.
  let msg = '';
  if (n >= DESC_MAX) {
    msg = '已达到' + DESC_MAX + '字上限';
  } else if (n >= DESC_MAX - 100) {
    msg = '还可输入' + (DESC_MAX - n) + '字';
  }
  clearTimeout(announceTimer);
  if (msg && msg !== lastAnnounced) {
    announceTimer = setTimeout(function () {
      announce.textContent = msg;
      lastAnnounced = msg;
    }, 800);
  } else if (!msg) {
    lastAnnounced = '';
    announce.textContent = '';
  }
}

export function initDescriptionCounter(form) {
  description = form.elements.namedItem('description');
  description.addEventListener('input', updateCounter);
  description.addEventListener('change', updateCounter);
  updateCounter();
}
