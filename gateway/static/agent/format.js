/*
 * Beijing 12345 hotline - agent desktop: values as text (times always Asia/Shanghai).
 *
 * Times (timeEl) and due times that mark themselves overdue or due soon (dueEl, refreshDueMarks),
 * phone numbers, byte sizes, seconds, durations, a transcript segment's span, percentages, and an
 * API error's message.
 */
import * as Staff from '/static/common/staff.js';
import { h, isBlank, toMs } from '/static/common/staff.js';

var SOON_MS = 2 * 60 * 60 * 1000; // "due soon" threshold: 2 hours

// Statuses for which a due time still matters (overdue / due soon marks).
var OPEN_STATUSES = { received: true, forwarded: true };

// Compact text (11-23 09:05), the full time on hover.
export function timeEl(v, cls) { return Staff.timeEl(v, cls, 'short'); }

// A due-time element that keeps its overdue / due-soon class up to date.
export function dueEl(dueAt, status, prefix) {
  var el = h('span', { class: 'due' }, prefix ? prefix + ' ' : null, timeEl(dueAt));
  var ms = toMs(dueAt);
  if (ms) {
    el.setAttribute('data-due-ms', String(ms));
    if (OPEN_STATUSES[status]) el.setAttribute('data-open', '1');
  }
  markDue(el);
  return el;
}

function markDue(el) {
  var ms = Number(el.getAttribute('data-due-ms'));
  var open = el.getAttribute('data-open') === '1';
  var now = Date.now();
  var overdue = open && ms && ms < now;
  var soon = open && ms && !overdue && ms - now < SOON_MS;
  el.classList.toggle('due--overdue', !!overdue);
  el.classList.toggle('due--soon', !!soon);
  var note = el.querySelector('.due-note');
  if (overdue || soon) {
    if (!note) { note = h('span', { class: 'due-note' }); el.appendChild(note); }
    note.textContent = overdue ? '已超时' : '即将到期';
  } else if (note) {
    note.remove();
  }
}

export function refreshDueMarks() {
  document.querySelectorAll('[data-due-ms]').forEach(markDue);
}

export function fmtBytes(n) {
  if (typeof n !== 'number' || !isFinite(n)) return '—';
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}

// +8613812345678 -> 138 1234 5678; +861012345678 -> 010-12345678.
export function fmtPhone(p) {
  if (isBlank(p)) return '—';
  p = String(p);
  var m = /^\+86(1\d{10})$/.exec(p);
  if (m) return m[1].slice(0, 3) + ' ' + m[1].slice(3, 7) + ' ' + m[1].slice(7);
  m = /^\+86((?:10|[2-9]\d)\d{6,10})$/.exec(p);
  if (m) {
    var n = m[1];
    var code = /^(10|2\d)/.test(n) ? 2 : 3;
    return '0' + n.slice(0, code) + '-' + n.slice(code);
  }
  return p;
}

// "约 95 秒" / "3 分 5 秒".
export function fmtSeconds(v) {
  var n = Number(v);
  if (!isFinite(n)) return String(v);
  n = Math.round(n);
  return n < 60 ? n + ' 秒' : Math.floor(n / 60) + ' 分 ' + (n % 60) + ' 秒';
}

export function fmtDuration(ms) {
  if (typeof ms !== 'number' || !isFinite(ms)) return '—';
  if (ms >= 1000) return (ms / 1000).toFixed(1) + ' 秒';
  return (ms < 10 ? ms.toFixed(1) : Math.round(ms)) + ' 毫秒';
}

export function fmtSpan(start, end) {
  function s(v) {
    if (typeof v !== 'number') return '';
    var m = Math.floor(v / 60), sec = Math.floor(v % 60);
    return m + ':' + (sec < 10 ? '0' : '') + sec;
  }
  var a = s(start), b = s(end);
  return a || b ? a + '–' + b : '';
}

// "82%" from a confidence between 0 and 1; '' without one.
export function pct(v) {
  if (typeof v !== 'number' || !isFinite(v)) return '';
  return v > 0 && v < 0.005 ? '不足 1%' : Math.round(v * 100) + '%';
}

// The API's message; its per-field messages only when they add something (422 often repeats it).
export function apiMessage(e) {
  var said = e.body && e.body.message;
  var more = (e.fields || []).some(function (f) { return f.message && f.message !== said; });
  return said && !more ? said : e.message;
}
