/*
 * Helpers shared by the citizen pages (/, /track, /video): time and size formatting, fetch with
 * a timeout, Chinese messages for error answers, idempotency keys, focusing an element.
 */

function pad2(n) {
  return (n < 10 ? '0' : '') + n;
}

/**
 * Parses a timestamp from the API: epoch milliseconds or seconds (number or
 * numeric string), or an ISO 8601 string. ISO strings without an offset are
 * taken as UTC. Returns a Date or null.
 */
export function parseTimestamp(value) {
  if (value === null || value === undefined || value === '') {
    return null;
  }
  if (typeof value === 'number' || /^\d+(\.\d+)?$/.test(String(value))) {
    var num = Number(value);
    if (!isFinite(num)) {
      return null;
    }
    // Below 1e11 it can only be seconds (1e11 ms is in 1973).
    var ms = num < 1e11 ? num * 1000 : num;
    return new Date(ms);
  }
  var s = String(value).trim().replace(' ', 'T');
  // Trim sub-millisecond digits (Python isoformat) for stricter parsers.
  s = s.replace(/(\.\d{3})\d+/, '$1');
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) {
    s += 'Z';
  }
  var d = new Date(s);
  return isNaN(d.getTime()) ? null : d;
}

/**
 * Formats a timestamp in Beijing time (Asia/Shanghai, UTC+8 without DST
 * since 1991) as "2026年11月22日 19:30". Returns '' for missing values.
 */
export function formatBeijingTime(value) {
  var d = parseTimestamp(value);
  if (!d) {
    return '';
  }
  var b = new Date(d.getTime() + 8 * 3600 * 1000);
  return b.getUTCFullYear() + '年' + (b.getUTCMonth() + 1) + '月' + b.getUTCDate() + '日 ' +
    pad2(b.getUTCHours()) + ':' + pad2(b.getUTCMinutes());
}

export function formatSize(bytes) {
  if (bytes < 1024) {
    return bytes + ' B';
  }
  if (bytes < 1024 * 1024) {
    return (bytes / 1024).toFixed(1).replace(/\.0$/, '') + ' KB';
  }
  return (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '') + ' MB';
}

/** Counts characters as code points (matches len() on the Python side). */
export function charCount(str) {
  return Array.from(str).length;
}

/** Reads a JSON body if there is one; never throws. */
export function readJson(response) {
  var type = response.headers.get('Content-Type') || '';
  if (type.indexOf('json') === -1) {
    return Promise.resolve(null);
  }
  return response.json().catch(function () {
    return null;
  });
}

/** fetch() with a timeout; a timeout rejects like a network error. */
export function fetchWithTimeout(url, options, timeoutMs) {
  if (typeof AbortController === 'undefined') {
    return fetch(url, options);
  }
  var ctrl = new AbortController();
  var timer = setTimeout(function () {
    ctrl.abort();
  }, timeoutMs);
  options.signal = ctrl.signal;
  return fetch(url, options).then(function (resp) {
    clearTimeout(timer);
    return resp;
  }, function (err) {
    clearTimeout(timer);
    throw err;
  });
}

function retryAfterText(response) {
  var ra = response.headers.get('Retry-After');
  if (ra && /^\d+$/.test(ra)) {
    var secs = parseInt(ra, 10);
    if (secs >= 60) {
      return '请约' + Math.ceil(secs / 60) + '分钟后再试。';
    }
    return '请约' + Math.max(secs, 1) + '秒后再试。';
  }
  return '请稍后再试。';
}

/** Chinese fallback text for an error status when the body has no message. */
export function fallbackMessage(response) {
  switch (response.status) {
    case 400:
      return '提交的内容有误，请检查后重试。';
    case 404:
      return '未找到相关记录，请核对后重试。';
    case 413:
      return '上传内容过大：附件单个不超过20MB，合计不超过50MB。';
    case 415:
      return '附件格式不支持，请上传 JPG、PNG、GIF、WEBP 图片或 MP4、MOV、WEBM 视频。';
    case 422:
      return '填写的内容有误，请检查后重试。';
    case 429:
      return '操作过于频繁，' + retryAfterText(response);
    default:
      if (response.status >= 500) {
        return '系统繁忙，暂时无法处理，请稍后再试。';
      }
      return '请求未成功（错误代码 ' + response.status + '），请稍后再试。';
  }
}

export function messageFrom(response, data) {
  if (data && typeof data.message === 'string' && data.message) {
    return data.message;
  }
  return fallbackMessage(response);
}

/** RFC 4122 version-4 UUID; randomUUID needs a secure context, so fall back. */
export function newIdempotencyKey() {
  var c = window.crypto || window.msCrypto;
  if (c && typeof c.randomUUID === 'function') {
    try {
      return c.randomUUID();
    } catch (e) {
      /* fall through */
    }
  }
  var bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === 'function') {
    c.getRandomValues(bytes);
  } else {
    for (var i = 0; i < 16; i++) {
      bytes[i] = Math.floor(Math.random() * 256);
    }
    // Mix in time so two fallback keys in one session cannot collide.
    var t = Date.now();
    for (var j = 0; j < 6; j++) {
      bytes[10 + j] ^= (t / Math.pow(256, j)) & 0xff;
    }
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  var hex = '';
  for (var k = 0; k < 16; k++) {
    hex += (bytes[k] + 0x100).toString(16).slice(1);
  }
  return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' +
    hex.slice(16, 20) + '-' + hex.slice(20);
}

export function focusElement(el) {
  if (!el) {
    return;
  }
  try {
    el.focus({ preventScroll: true });
  } catch (e) {
    el.focus();
  }
  var reduce = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  if (el.scrollIntoView) {
    el.scrollIntoView({ block: 'center', behavior: reduce ? 'auto' : 'smooth' });
  }
}
