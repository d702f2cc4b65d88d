/*
 * Beijing 12345 hotline - supervisor wall: the tables (deadlines with a countdown per row, hot
 * issues with a sparkline) and the queues. Text from the API (citizens wrote the summaries) only
 * ever goes in through textContent (staff.js h()).
 */
import { $, h, replaceKids, formatTime, timeEl, toMs } from '/static/common/staff.js';
import { CHANNEL_LABELS, clockText, count, num, waitText } from './wall-format.js';
import { hotspotActions } from './wall-hotspot-actions.js';

const SVG = 'http://www.w3.org/2000/svg';

function text(v) { return v === null || v === undefined || v === '' ? '—' : String(v); }

// ---------------------------------------------------------------------
// Deadlines: overdue first (longest overdue on top), then due soon (nearest on top).
// ---------------------------------------------------------------------

export function renderDeadlines(deadlines, channelLabels) {
  const d = deadlines || {};
  const labels = Object.assign({}, CHANNEL_LABELS, channelLabels || {});
  // In the server's order: the most recently overdue first, then the nearest deadline first.
  const overdue = Array.isArray(d.overdue) ? d.overdue : [];
  const soon = Array.isArray(d.due_soon) ? d.due_soon : [];
  replaceKids($('deadlines-body'), overdue.map((t) => deadlineRow(t, labels, true)).concat(soon.map((t) => deadlineRow(t, labels, false))));
  $('deadlines-empty').hidden = overdue.length + soon.length > 0;
  const shown = overdue.length + soon.length;
  const total = num(d.overdue_count) + num(d.due_soon_count);
  let head = '已超期 ' + count(num(d.overdue_count)) + ' 件，2小时内到期 ' + count(num(d.due_soon_count)) + ' 件';
  if (total > shown) head += '（列出 ' + shown + ' 件）';
  if (typeof d.awaiting_response === 'number') {
    head += '；待响应 ' + count(d.awaiting_response) + ' 件' +
      (num(d.awaiting_response_late) > 0 ? '，其中超时 ' + count(d.awaiting_response_late) + ' 件' : '');
  }
  $('deadlines-counts').textContent = head;
  tickDeadlines();
}

function deadlineRow(t, labels, overdue) {
  const row = h('tr', { class: 'deadline-row' + (overdue ? ' is-overdue' : ''), 'data-ticket-id': text(t && t.ticket_id), 'data-due': t && t.due_at ? String(t.due_at) : null },
    h('td', { class: 'mono' }, text(t && t.ticket_id)),
    h('td', null, text(t && t.kind_label)),
    h('td', { class: 'summary', title: text(t && t.summary) }, text(t && t.summary)),
    h('td', null, labels[t && t.channel] || text(t && t.channel)),
    h('td', null, text(t && t.district)),
    h('td', null, timeEl(t && t.due_at, null, 'short')),
    h('td', { class: 'num countdown' }, '—'));
  return row;
}

// Every second: each row's time left (or overdue), from its due_at; a row whose time runs out turns overdue.
export function tickDeadlines() {
  const now = Date.now();
  document.querySelectorAll('#deadlines-body tr[data-due]').forEach((row) => {
    const due = toMs(row.getAttribute('data-due'));
    if (!due) return;
    const left = due - now;
    const cell = row.querySelector('.countdown');
    if (left <= 0) {
      row.classList.add('is-overdue');
      cell.textContent = '超期 ' + clockText(left);
    } else {
      cell.textContent = '剩余 ' + clockText(left);
    }
    cell.title = '办理时限 ' + formatTime(row.getAttribute('data-due'), 'full');
  });
}

// ---------------------------------------------------------------------
// Queues
// ---------------------------------------------------------------------

export function renderQueues(waiting) {
  const w = waiting || {};
  setQueue('phone', w.phone_queue, w.phone_longest_wait_s);
  setQueue('video', w.video_queue, w.video_longest_wait_s);
  setQueue('chat', w.chat_handover, null);
}

// A queue the server does not report (no field at all) is left off rather than shown as 0.
function setQueue(name, n, longest) {
  const box = document.querySelector('#queues [data-queue="' + name + '"]');
  if (!box) return;
  box.hidden = typeof n !== 'number';
  box.querySelector('.queue-count').textContent = count(num(n)) + ' 人';
  box.querySelector('.queue-wait').textContent = num(n) > 0 && typeof longest === 'number' ? '最长等待 ' + waitText(longest) : '';
  box.classList.toggle('is-busy', num(n) > 0);
  box.classList.toggle('is-long', num(n) > 0 && num(longest) >= 120);
}

// ---------------------------------------------------------------------
// Hot issues
// ---------------------------------------------------------------------

const HOTSPOT_STATES = { open: '处置中', closed: '已关闭' };

// Open ones first, then the largest.
export function renderHotspots(list, duplicates) {
  const items = (Array.isArray(list) ? list : []).filter((x) => x && typeof x === 'object').slice()
    .sort((a, b) => (a.state === 'closed') - (b.state === 'closed') || num(b.count) - num(a.count));
  replaceKids($('hotspots-body'), items.map(hotspotRow));
  $('hotspots-empty').hidden = items.length > 0;
  const pending = num(duplicates && duplicates.pending);
  const chip = $('duplicates-pending');
  chip.textContent = '疑似重复待处理 ' + count(pending) + ' 件';
  chip.classList.toggle('chip--warn', pending > 0);
}

function hotspotRow(x) {
  const place = [x.district, x.street].filter((p) => p !== null && p !== undefined && p !== '').map(String).join(' · ') || '—';
  const closed = x.state === 'closed';
  return h('tr', { class: 'hotspot-row' + (closed ? ' is-closed' : ''), 'data-hotspot-id': text(x.id) },
    h('td', { class: 'num hotspot-count' }, count(num(x.count))),
    h('td', null, h('span', { class: 'chip' }, text(x.topic))),
    h('td', null, place, typeof x.citizens === 'number' ? h('span', { class: 'muted' }, '（' + count(x.citizens) + ' 位市民）') : null),
    h('td', null, sparkline(x.trend)),
    h('td', null, h('span', { class: 'hotspot-state' }, HOTSPOT_STATES[x.state] || text(x.state)),
      x.notice ? h('span', { class: 'chip chip--ok' }, '已发布通告') : null),
    h('td', null, timeEl(x.first_at, null, 'short')),
    h('td', null, timeEl(x.last_at, null, 'short')),
    hotspotActions(x));
}

// A tiny line of the trend (counts per interval, oldest first); SVG built with the DOM, styled by wall.css.
export function sparkline(trend) {
  const values = (Array.isArray(trend) ? trend : []).map(num);
  const width = 80;
  const height = 20;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', values.length ? '趋势：' + values.join('、') : '暂无趋势');
  if (values.length) {
    const max = Math.max.apply(null, values.concat([1]));
    const step = values.length > 1 ? (width - 4) / (values.length - 1) : 0;
    const pts = values.map((v, i) => {
      const x = values.length > 1 ? 2 + i * step : width / 2;
      const y = height - 2 - (v / max) * (height - 4);
      return x.toFixed(1) + ',' + y.toFixed(1);
    });
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', pts.join(' '));
    line.setAttribute('class', 'spark-line');
    svg.appendChild(line);
    const last = pts[pts.length - 1].split(',');
    const dot = document.createElementNS(SVG, 'circle');
    dot.setAttribute('cx', last[0]);
    dot.setAttribute('cy', last[1]);
    dot.setAttribute('r', '2');
    dot.setAttribute('class', 'spark-dot');
    svg.appendChild(dot);
  }
  return svg;
}
