/*
 * Beijing 12345 hotline - supervisor wall: formatting and dates (Beijing time), no DOM.
 */

export const CHANNEL_LABELS = { web: '网站', phone: '电话', wechat: '微信', video: '视频', partner: '外省市转入' };

// 0.253 -> '25.3%'; null/undefined (no data for the period) -> '—'.
export function percent(v) {
  if (v === null || v === undefined || typeof v !== 'number' || !isFinite(v)) return '—';
  const p = Math.round(v * 1000) / 10;
  return (p % 1 === 0 ? p.toFixed(0) : p.toFixed(1)) + '%';
}

export function count(v) {
  if (v === null || v === undefined || typeof v !== 'number' || !isFinite(v)) return '—';
  return Math.round(v).toLocaleString('zh-CN');
}

// Seconds of waiting: '40秒', '3分05秒', '1小时02分'.
export function waitText(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return s + '秒';
  if (s < 3600) return Math.floor(s / 60) + '分' + String(s % 60).padStart(2, '0') + '秒';
  return Math.floor(s / 3600) + '小时' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + '分';
}

// Milliseconds to a countdown: '1:05:09', '2天 03:04:05'.
export function clockText(ms) {
  const total = Math.floor(Math.abs(ms) / 1000);
  const days = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const hms = (days ? String(h).padStart(2, '0') : String(h)) + ':' + String(m).padStart(2, '0') + ':' + String(s).padStart(2, '0');
  return days ? days + '天 ' + hms : hms;
}

const dayFormatter = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' });
const clockFormatter = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'
});

// Today's date in Beijing as YYYY-MM-DD (en-CA formats dates that way).
export function beijingToday(now) {
  return dayFormatter.format(now || new Date());
}

// 'YYYY-MM-DD' plus n days (calendar arithmetic, no time zone involved).
export function addDays(day, n) {
  const d = new Date(day + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export function isDay(v) {
  return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && !isNaN(new Date(v + 'T00:00:00Z').getTime());
}

// '10:15:07' (Beijing) for an ISO time; '—' when there is none.
export function clockOf(iso) {
  const d = iso ? new Date(iso) : null;
  return d && !isNaN(d.getTime()) ? clockFormatter.format(d) : '—';
}

// The query string of a period: {from, to} (YYYY-MM-DD, either may be empty) -> '?from=..&to=..' or ''.
export function rangeQuery(range, extra) {
  const params = new URLSearchParams(extra || {});
  if (range && range.from) params.set('from', range.from);
  if (range && range.to) params.set('to', range.to);
  const q = params.toString();
  return q ? '?' + q : '';
}

// A number from the API, or 0 (the wall shows a count, never NaN).
export function num(v) {
  return typeof v === 'number' && isFinite(v) ? v : 0;
}

// [{key, label, count}] from the API, cleaned: label falls back to the key, count to 0.
export function rows(list) {
  return (Array.isArray(list) ? list : []).filter(function (r) { return r && typeof r === 'object'; }).map(function (r) {
    const key = r.key === null || r.key === undefined ? '' : String(r.key);
    const label = r.label === null || r.label === undefined || r.label === '' ? (key || '未填写') : String(r.label);
    return { key: key, label: label, count: num(r.count) };
  });
}
