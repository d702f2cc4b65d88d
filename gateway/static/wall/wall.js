/*
 * Beijing 12345 hotline - supervisor wall (监督大屏), /supervisor/wall (server/wall_page.py).
 *
 * Data: GET /api/v1/supervisor/wall?from=&to= (supervisors only; server/wall_routes.py), one JSON
 * document with everything on the screen; each table's CSV from GET /api/v1/supervisor/wall.csv.
 * Login: staff.js, as on the desk. Someone logged in without the supervisor role sees a refusal
 * (their session is left alone: it may be their desk's).
 *
 * Live: the desk's WebSocket (wall-live.js); {"type": "wall.changed"} (and a resync or a
 * reconnect) refetches, at most once a second; the wall also refetches every 30 s. Deadline
 * countdowns tick every second in the page (wall-tables.js).
 *
 * Modules: wall-format.js (numbers, dates), wall-charts.js (ECharts, the map),
 * wall-tables.js (deadlines, queues, hot issues), wall-live.js (the socket).
 */
import * as Staff from '/static/common/staff.js';
import { $, setMsg } from '/static/common/staff.js';
import { addDays, beijingToday, clockOf, count, isDay, num, percent, rangeQuery, rows } from './wall-format.js';
import { WallCharts } from './wall-charts.js';
import { LiveSocket } from './wall-live.js';
import { renderDeadlines, renderHotspots, renderQueues, tickDeadlines } from './wall-tables.js';
import { setUpHotspotActions } from './wall-hotspot-actions.js';

const REFRESH_MS = 30000;
const MIN_GAP_MS = 1000;
const ROLE = 'supervisor';
const MAX_DAYS = 92;  // the API's longest period (server/wall_routes.py)

const state = {
  active: false,
  range: { mode: 'today', from: '', to: '' },
  data: null,
  seq: 0,            // each fetch; an answer to an older one is dropped
  inFlight: false,
  again: false,      // asked for while a fetch was running
  lastStart: 0,
  pending: null,     // timer of a refetch held back by MIN_GAP_MS
  timers: [],
  charts: null,
  live: null
};

// ---------------------------------------------------------------------
// Period
// ---------------------------------------------------------------------

// {from, to} of the chosen period; today sends neither (the server's today, Beijing time).
function period() {
  const r = state.range;
  if (r.mode === 'week') { const today = beijingToday(); return { from: addDays(today, -6), to: today }; }
  if (r.mode === 'custom') return { from: r.from, to: r.to };
  return { from: '', to: '' };
}

function periodLabel() {
  const p = period();
  if (state.range.mode === 'today') {
    // The server's today once it has answered (a wall left on overnight moves on with it).
    const day = state.data && typeof state.data.from === 'string' && isDay(state.data.from.slice(0, 10)) ? state.data.from.slice(0, 10) : beijingToday();
    return '今天（' + day + '）';
  }
  return p.from === p.to ? p.from : p.from + ' 至 ' + p.to;
}

function chooseRange(mode) {
  document.querySelectorAll('#range .range-btn').forEach((b) => b.setAttribute('aria-pressed', String(b.getAttribute('data-range') === mode)));
  const form = $('range-custom');
  if (mode === 'custom') {
    form.hidden = false;
    const today = beijingToday();
    if (!$('range-from').value) $('range-from').value = state.range.from || addDays(today, -6);
    if (!$('range-to').value) $('range-to').value = state.range.to || today;
    $('range-from').focus();
    return;  // applied with 查询
  }
  form.hidden = true;
  state.range = { mode: mode, from: '', to: '' };
  periodChanged();
}

function applyCustom(ev) {
  ev.preventDefault();
  const from = $('range-from').value;
  const to = $('range-to').value;
  if (!isDay(from) || !isDay(to)) { setMsg($('wall-msg'), '请选择开始和结束日期', 'error'); return; }
  if (to < from) { setMsg($('wall-msg'), '结束日期不能早于开始日期', 'error'); $('range-to').focus(); return; }
  if (addDays(from, MAX_DAYS - 1) < to) { setMsg($('wall-msg'), '一次最多查询' + MAX_DAYS + '天，请分段查询', 'error'); $('range-from').focus(); return; }
  state.range = { mode: 'custom', from: from, to: to };
  periodChanged();
}

function periodChanged() {
  state.data = null;  // the old period's, until the new one's arrives
  setMsg($('wall-msg'), '');
  $('range-label').textContent = periodLabel();
  $('tile-total-label').textContent = state.range.mode === 'today' ? '今日受理' : '期间受理';
  updateCsvLinks();
  refetch(true);
}

function updateCsvLinks() {
  const p = period();
  document.querySelectorAll('a[data-csv]').forEach((a) => {
    a.href = '/api/v1/supervisor/wall.csv' + rangeQuery(p, { table: a.getAttribute('data-csv') });
    a.setAttribute('download', '');
  });
}

// ---------------------------------------------------------------------
// Fetching: at most one request at a time, at most one a second
// ---------------------------------------------------------------------

function refetch(now) {
  if (!state.active) return;
  if (now) { state.seq++; clearTimeout(state.pending); state.pending = null; }
  if (state.inFlight && !now) { state.again = true; return; }
  const wait = now ? 0 : state.lastStart + MIN_GAP_MS - Date.now();
  if (wait > 0) {
    if (!state.pending) state.pending = setTimeout(() => { state.pending = null; refetch(false); }, wait);
    return;
  }
  load();
}

function load() {
  const seq = ++state.seq;
  state.inFlight = true;
  state.again = false;
  state.lastStart = Date.now();
  Staff.api('GET', '/supervisor/wall' + rangeQuery(period())).then((data) => {
    if (seq !== state.seq || !state.active) return;
    state.data = data;
    render(data);
    setMsg($('wall-msg'), '');
  }, (e) => {
    if (seq !== state.seq || !state.active) return;
    if (e.status === 401) return;  // staff.js shows the login view
    if (e.status === 403) { denied(); return; }
    setMsg($('wall-msg'), (state.data ? '数据未能更新：' : '数据加载失败：') + e.message, 'error');
  }).finally(() => {
    if (seq !== state.seq) return;
    state.inFlight = false;
    if (state.again) refetch(false);
  });
}

// ---------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------

function tile(name, value, sub) {
  const el = document.querySelector('.tile[data-tile="' + name + '"]');
  if (!el) return;
  el.querySelector('.tile-value').textContent = value;
  el.querySelector('.tile-sub').textContent = sub || '';
  el.classList.toggle('is-empty', value === '—');
}

function render(data) {
  const v = data.volume || {};
  const o = data.outcomes || {};
  const r = data.rates || {};
  const d = data.deadlines || {};
  const w = data.waiting || {};
  const waiting = num(w.phone_queue) + num(w.video_queue) + num(w.chat_handover);
  const queues = [['电话', w.phone_queue], ['视频', w.video_queue], ['文字', w.chat_handover]]
    .filter((q) => typeof q[1] === 'number').map((q) => q[0] + ' ' + count(q[1])).join(' · ');
  tile('total', count(num(v.total)));
  tile('direct_answer_rate', percent(o.direct_answer_rate), '直接答复 ' + count(num(o.answered)) + ' 件');
  tile('forward_share', percent(o.forward_share), '转派 ' + count(num(o.forwarded)) + ' 件');
  tile('transfer_share', percent(o.transfer_share), '转外省市 ' + count(num(o.transferred)) + ' 件');
  tile('diversion_share', percent(o.diversion_share), '分流应急 ' + count(num(o.diverted)) + ' 件');
  tile('response_rate', percent(r.response_rate), '受理 ' + count(num(r.received)) + ' 件');
  tile('resolution_rate', percent(r.resolution_rate), '回访 ' + count(num(r.followups)) + ' 件');
  tile('satisfaction_rate', percent(r.satisfaction_rate), '回访 ' + count(num(r.followups)) + ' 件');
  tile('due_soon', count(num(d.due_soon_count)), '件');
  tile('overdue', count(num(d.overdue_count)), '件');
  tile('waiting', count(waiting), queues);
  tile('agents_online', count(num(data.agents_online)), '人');
  document.querySelector('.tile[data-tile="overdue"]').classList.toggle('is-alert', num(d.overdue_count) > 0);
  document.querySelector('.tile[data-tile="due_soon"]').classList.toggle('is-warn', num(d.due_soon_count) > 0);

  $('range-label').textContent = periodLabel();
  updateCsvLinks();  // 近7天 moves on at midnight

  const updated = $('updated-at');
  updated.textContent = clockOf(data.generated_at);
  updated.setAttribute('datetime', data.generated_at || '');
  updated.title = Staff.formatTime(data.generated_at, 'full');

  $('hour-title').textContent = v.timeline === 'day' ? '每日受理' : '分时受理';

  const channelLabels = {};
  rows(v.by_channel).forEach((c) => { channelLabels[c.key] = c.label; });
  renderDeadlines(d, channelLabels);
  renderQueues(w);
  renderHotspots(data.hotspots, data.duplicates);
  if (state.charts) {
    try { state.charts.update(data); } catch (e) { console.error('wall charts:', e); }
  }
  document.body.setAttribute('data-wall-loaded', String(state.seq));
}

// ---------------------------------------------------------------------
// Live status
// ---------------------------------------------------------------------

function liveStatus(s, title) {
  const el = $('live');
  el.setAttribute('data-state', s);
  $('live-text').textContent = s === 'open' ? '实时连接' : s === 'connecting' ? '正在连接…' : '连接中断';
  el.title = title || (s === 'open' ? '数据变化时自动更新' : '');
}

function onLiveMessage(msg) {
  if (msg.type === 'wall.changed' || msg.type === 'resync') refetch(false);
}

// ---------------------------------------------------------------------
// Enter / leave
// ---------------------------------------------------------------------

function denied() {
  leave();
  $('wall-main').hidden = true;
  $('wall-denied').hidden = false;
  setWallBar(false);
}

// The period chooser, the update time and the live marker belong to the wall, not to the refusal.
function setWallBar(shown) {
  ['range', 'range-label', 'updated', 'live'].forEach((id) => { $(id).hidden = !shown; });
}

function enter() {
  if (!Staff.hasRole(ROLE)) { denied(); return; }
  $('wall-denied').hidden = true;
  setWallBar(true);
  $('wall-main').hidden = false;
  state.active = true;
  periodChanged();
  state.charts = new WallCharts();
  state.charts.start().catch((e) => {
    console.error('wall charts:', e);
    setMsg($('wall-msg'), '图表组件加载失败，仅显示数字和表格（请刷新页面重试）', 'warn');
  }).finally(() => { if (state.active && state.data && state.charts) state.charts.update(state.data); });
  state.live = new LiveSocket({
    status: liveStatus,
    message: onLiveMessage,
    opened: () => refetch(false),  // also after a reconnect: whatever changed meanwhile
    checkSession: () => Staff.refreshSession()
  });
  state.live.start();
  state.timers.push(setInterval(() => refetch(false), REFRESH_MS));
  state.timers.push(setInterval(tickDeadlines, 1000));
}

function leave() {
  state.active = false;
  state.seq++;
  state.inFlight = false;
  state.again = false;
  clearTimeout(state.pending);
  state.pending = null;
  state.timers.forEach(clearInterval);
  state.timers = [];
  if (state.live) state.live.stop();
  state.live = null;
  if (state.charts) state.charts.stop();
  state.charts = null;
}

function teardown() {
  leave();
  state.data = null;
  $('wall-main').hidden = true;
  $('wall-denied').hidden = true;
}

document.querySelectorAll('#range .range-btn').forEach((b) => b.addEventListener('click', () => chooseRange(b.getAttribute('data-range'))));
$('range-custom').addEventListener('submit', applyCustom);
setUpHotspotActions(() => refetch(false));
document.addEventListener('visibilitychange', () => {
  if (document.hidden || !state.active) return;
  if (state.live) state.live.now();
  refetch(false);
});

Staff.start({
  app: 'wall',
  roleOrder: ['agent', 'supervisor', 'admin'],
  enter: enter,
  teardown: teardown,
  fieldsInMessage: true
});
