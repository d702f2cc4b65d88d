/*
 * Citizen portal script, shared by index.html and track.html.
 *
 * - Applies the saved large-text preference immediately (this file is loaded
 *   in <head> without defer to avoid a flash of small text), then wires the
 *   "大字模式" toggle.
 * - Exposes small helpers on window.Portal (used by track.js).
 * - Progressively enhances the request form (#request-form) if present:
 *   client-side checks, fetch submission with an Idempotency-Key, inline
 *   errors and the success panel. Without JS the form posts normally.
 */
(function () {
  'use strict';

  var LARGE_TEXT_KEY = 'bj12345.portal.largeText';
  var LARGE_TEXT_CLASS = 'large-text';

  // ---------------------------------------------------------------------------
  // Large-text preference (runs before the body is parsed)

  function readLargeTextPref() {
    try {
      return window.localStorage.getItem(LARGE_TEXT_KEY) === '1';
    } catch (e) {
      return false; // storage blocked (private mode, policy)
    }
  }

  function writeLargeTextPref(on) {
    try {
      if (on) {
        window.localStorage.setItem(LARGE_TEXT_KEY, '1');
      } else {
        window.localStorage.removeItem(LARGE_TEXT_KEY);
      }
    } catch (e) {
      /* ignore: the mode still applies to this page view */
    }
  }

  function applyLargeText(on) {
    var root = document.documentElement;
    if (on) {
      root.classList.add(LARGE_TEXT_CLASS);
    } else {
      root.classList.remove(LARGE_TEXT_CLASS);
    }
  }

  applyLargeText(readLargeTextPref());
  // Lets CSS enable JS-only enhancements (e.g. the Chinese file picker).
  document.documentElement.classList.add('js');

  function initTextSizeToggle() {
    var btn = document.getElementById('text-size-toggle');
    if (!btn) {
      return;
    }
    var sync = function () {
      var on = document.documentElement.classList.contains(LARGE_TEXT_CLASS);
      btn.setAttribute('aria-pressed', on ? 'true' : 'false');
    };
    btn.hidden = false; // only useful with JS, so hidden in the markup
    sync();
    btn.addEventListener('click', function () {
      var on = !document.documentElement.classList.contains(LARGE_TEXT_CLASS);
      applyLargeText(on);
      writeLargeTextPref(on);
      sync();
    });
    // Keep several open tabs in step.
    window.addEventListener('storage', function (ev) {
      if (ev.key === LARGE_TEXT_KEY) {
        applyLargeText(ev.newValue === '1');
        sync();
      }
    });
  }

  // ---------------------------------------------------------------------------
  // Shared helpers

  function pad2(n) {
    return (n < 10 ? '0' : '') + n;
  }

  /**
   * Parses a timestamp from the API: epoch milliseconds or seconds (number or
   * numeric string), or an ISO 8601 string. ISO strings without an offset are
   * taken as UTC. Returns a Date or null.
   */
  function parseTimestamp(value) {
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
  function formatBeijingTime(value) {
    var d = parseTimestamp(value);
    if (!d) {
      return '';
    }
    var b = new Date(d.getTime() + 8 * 3600 * 1000);
    return b.getUTCFullYear() + '年' + (b.getUTCMonth() + 1) + '月' + b.getUTCDate() + '日 ' +
      pad2(b.getUTCHours()) + ':' + pad2(b.getUTCMinutes());
  }

  function formatSize(bytes) {
    if (bytes < 1024) {
      return bytes + ' B';
    }
    if (bytes < 1024 * 1024) {
      return (bytes / 1024).toFixed(1).replace(/\.0$/, '') + ' KB';
    }
    return (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '') + ' MB';
  }

  /** Counts characters as code points (matches len() on the Python side). */
  function charCount(str) {
    return Array.from(str).length;
  }

  /** Reads a JSON body if there is one; never throws. */
  function readJson(response) {
    var type = response.headers.get('Content-Type') || '';
    if (type.indexOf('json') === -1) {
      return Promise.resolve(null);
    }
    return response.json().catch(function () {
      return null;
    });
  }

  /** fetch() with a timeout; a timeout rejects like a network error. */
  function fetchWithTimeout(url, options, timeoutMs) {
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
  function fallbackMessage(response) {
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

  function messageFrom(response, data) {
    if (data && typeof data.message === 'string' && data.message) {
      return data.message;
    }
    return fallbackMessage(response);
  }

  /** RFC 4122 version-4 UUID; randomUUID needs a secure context, so fall back. */
  function newIdempotencyKey() {
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

  function focusElement(el) {
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

  window.Portal = {
    parseTimestamp: parseTimestamp,
    formatBeijingTime: formatBeijingTime,
    formatSize: formatSize,
    charCount: charCount,
    readJson: readJson,
    fetchWithTimeout: fetchWithTimeout,
    fallbackMessage: fallbackMessage,
    messageFrom: messageFrom,
    newIdempotencyKey: newIdempotencyKey,
    focusElement: focusElement
  };

  // ---------------------------------------------------------------------------
  // Request form

  var DESC_MIN = 5;
  var DESC_MAX = 2000;
  var ADDRESS_MAX = 200;
  var NAME_MAX = 50;
  var MAX_FILES = 5;
  var MAX_FILE_BYTES = 20 * 1024 * 1024;
  var MAX_TOTAL_BYTES = 50 * 1024 * 1024;
  var SUBMIT_TIMEOUT_MS = 5 * 60 * 1000; // uploads over slow mobile links
  var ALLOWED_TYPES = [
    'image/jpeg', 'image/jpg', 'image/pjpeg', 'image/png', 'image/gif', 'image/webp',
    'video/mp4', 'video/quicktime', 'video/webm'
  ];

  // Field names exactly as in the API, with their Chinese labels (for the summary).
  var FIELD_LABELS = {
    kind: '诉求类型',
    description: '诉求描述',
    district: '所在区',
    address: '详细地址',
    phone: '联系电话',
    name: '姓名或称呼',
    confidential: '保密诉求',
    attachments: '附件'
  };

  function initRequestForm() {
    var form = document.getElementById('request-form');
    if (!form) {
      return;
    }
    var submitBtn = document.getElementById('submit-request');
    var statusEl = document.getElementById('form-status');
    var summary = document.getElementById('error-summary');
    var summaryList = document.getElementById('error-summary-list');
    var resultPanel = document.getElementById('result');
    var description = form.elements.namedItem('description');
    var counter = document.getElementById('description-counter');
    var announce = document.getElementById('description-announce');
    var fileInput = form.elements.namedItem('attachments');
    var fileList = document.getElementById('attachments-list');
    var fileSummary = document.getElementById('attachments-summary');

    var busy = false;
    var idempotencyKey = '';
    var submitLabel = submitBtn ? submitBtn.textContent : '';

    function renewKey() {
      idempotencyKey = newIdempotencyKey();
      form.setAttribute('data-idempotency-key', idempotencyKey); // visible to tests
    }
    renewKey();

    // We show our own Chinese messages instead of the browser's bubbles.
    form.setAttribute('novalidate', '');

    // ----- status line

    function setStatus(text, tone) {
      statusEl.textContent = text || '';
      statusEl.className = 'status-line' + (tone ? ' status-line--' + tone : '');
    }

    // ----- description counter

    var lastAnnounced = '';
    var announceTimer = null;

    function updateCounter() {
      var n = charCount(description.value);
      var text = '已输入 ' + n + ' / ' + DESC_MAX + ' 字';
      if (n > 0 && n < DESC_MIN) {
        text += '（至少' + DESC_MIN + '字）';
      }
      counter.textContent = text;
      counter.className = 'counter' + (n > DESC_MAX ? ' counter--over' : (n >= DESC_MAX - 100 ? ' counter--warn' : ''));

      // Announce only near the limit, and only after typing pauses.
      var msg = '';
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

    description.addEventListener('input', updateCounter);
    description.addEventListener('change', updateCounter);
    updateCounter();

    // ----- attachments

    function selectedFiles() {
      return fileInput && fileInput.files ? Array.prototype.slice.call(fileInput.files) : [];
    }

    function fileProblem(file) {
      if (file.size > MAX_FILE_BYTES) {
        return '超过20MB';
      }
      if (file.type && ALLOWED_TYPES.indexOf(file.type.toLowerCase()) === -1) {
        return '格式不支持';
      }
      return '';
    }

    var canEditFileList = (function () {
      try {
        return typeof DataTransfer !== 'undefined' && !!new DataTransfer().items;
      } catch (e) {
        return false;
      }
    })();

    function removeFile(index) {
      var dt = new DataTransfer();
      selectedFiles().forEach(function (f, i) {
        if (i !== index) {
          dt.items.add(f);
        }
      });
      fileInput.files = dt.files;
      renderFiles();
      revalidate('attachments');
      fileInput.focus();
    }

    function renderFiles() {
      var files = selectedFiles();
      fileList.textContent = '';
      var none = document.getElementById('attachments-none');
      if (none) {
        none.textContent = files.length ? '已选择' + files.length + '个文件' : '未选择文件';
      }
      if (!files.length) {
        fileList.hidden = true;
        fileSummary.textContent = '';
        return;
      }
      var total = 0;
      files.forEach(function (file, i) {
        total += file.size;
        var li = document.createElement('li');
        var problem = fileProblem(file);
        if (problem) {
          li.className = 'file-list__bad';
        }
        var info = document.createElement('span');
        var nameEl = document.createElement('span');
        nameEl.className = 'file-list__name';
        nameEl.textContent = file.name;
        var sizeEl = document.createElement('span');
        sizeEl.className = 'file-list__size';
        sizeEl.textContent = formatSize(file.size) + (problem ? '（' + problem + '）' : '');
        info.appendChild(nameEl);
        info.appendChild(sizeEl);
        li.appendChild(info);
        if (canEditFileList) {
          var btn = document.createElement('button');
          btn.type = 'button';
          btn.className = 'btn btn--link';
          btn.textContent = '移除';
          btn.setAttribute('aria-label', '移除文件 ' + file.name);
          btn.addEventListener('click', function () {
            removeFile(i);
          });
          li.appendChild(btn);
        }
        fileList.appendChild(li);
      });
      fileList.hidden = false;
      var text = '已选择 ' + files.length + ' 个文件，合计 ' + formatSize(total) + '。';
      if (files.length > MAX_FILES) {
        text += '最多只能上传' + MAX_FILES + '个。';
      } else if (total > MAX_TOTAL_BYTES) {
        text += '合计超过50MB。';
      }
      fileSummary.textContent = text;
    }

    if (fileInput) {
      fileInput.addEventListener('change', function () {
        renderFiles();
        revalidate('attachments');
      });
      renderFiles(); // files kept by the browser after a reload
    }

    // ----- client-side checks (the server remains authoritative)

    function normalizedPhone(v) {
      return v.replace(/[\s\-()（）—－]/g, '').replace(/^(\+86|0086)(?=1\d{10}$)/, '');
    }

    function checkField(name) {
      var v;
      switch (name) {
        case 'description':
          v = description.value.trim();
          if (!v) {
            return '请填写诉求描述';
          }
          if (charCount(v) < DESC_MIN) {
            return '诉求描述至少需要' + DESC_MIN + '个字';
          }
          if (charCount(description.value) > DESC_MAX) {
            return '诉求描述不能超过' + DESC_MAX + '字';
          }
          return '';
        case 'phone':
          v = normalizedPhone(form.elements.namedItem('phone').value.trim());
          if (!v) {
            return '请填写联系电话';
          }
          if (!/^\+?\d{7,16}$/.test(v) || (/^1/.test(v) && !/^1[3-9]\d{9}$/.test(v))) {
            return '请输入有效的手机号码或固定电话';
          }
          return '';
        case 'address':
          return charCount(form.elements.namedItem('address').value) > ADDRESS_MAX ?
            '详细地址不能超过' + ADDRESS_MAX + '字' : '';
        case 'name':
          return charCount(form.elements.namedItem('name').value) > NAME_MAX ?
            '姓名或称呼不能超过' + NAME_MAX + '字' : '';
        case 'attachments':
          return checkFiles();
        default:
          return '';
      }
    }

    function checkFiles() {
      var files = selectedFiles();
      if (files.length > MAX_FILES) {
        return '最多上传' + MAX_FILES + '个附件，您选择了' + files.length + '个';
      }
      var total = 0;
      for (var i = 0; i < files.length; i++) {
        var f = files[i];
        total += f.size;
        if (f.size > MAX_FILE_BYTES) {
          return '文件“' + f.name + '”超过20MB，请压缩或更换后再上传';
        }
        if (f.type && ALLOWED_TYPES.indexOf(f.type.toLowerCase()) === -1) {
          return '文件“' + f.name + '”格式不支持，请上传 JPG、PNG、GIF、WEBP 图片或 MP4、MOV、WEBM 视频';
        }
      }
      if (total > MAX_TOTAL_BYTES) {
        return '附件合计不能超过50MB，当前为' + formatSize(total);
      }
      return '';
    }

    var CHECKED_FIELDS = ['description', 'phone', 'address', 'name', 'attachments'];

    function validateClient() {
      var errors = [];
      CHECKED_FIELDS.forEach(function (name) {
        var msg = checkField(name);
        if (msg) {
          errors.push({ field: name, message: msg });
        }
      });
      return errors;
    }

    // ----- error display

    function controlsFor(name) {
      if (name === 'kind') {
        return Array.prototype.slice.call(form.querySelectorAll('input[name="kind"]'));
      }
      var el = document.getElementById(name);
      return el ? [el] : [];
    }

    function focusTargetFor(name) {
      if (name === 'kind') {
        return form.querySelector('input[name="kind"]:checked') || form.querySelector('input[name="kind"]');
      }
      return document.getElementById(name);
    }

    function fieldWrapper(name) {
      return name === 'kind' ? document.getElementById('kind-group') : document.getElementById(name + '-field');
    }

    function setFieldError(name, message) {
      var errEl = document.getElementById(name + '-error');
      if (!errEl) {
        return false;
      }
      errEl.textContent = message;
      errEl.hidden = false;
      controlsFor(name).forEach(function (el) {
        el.setAttribute('aria-invalid', 'true');
      });
      var wrap = fieldWrapper(name);
      if (wrap) {
        wrap.classList.add('field--error');
        if (name === 'kind') {
          wrap.setAttribute('aria-invalid', 'true');
        }
      }
      return true;
    }

    function clearFieldError(name) {
      var errEl = document.getElementById(name + '-error');
      if (errEl) {
        errEl.textContent = '';
        errEl.hidden = true;
      }
      controlsFor(name).forEach(function (el) {
        el.removeAttribute('aria-invalid');
      });
      var wrap = fieldWrapper(name);
      if (wrap) {
        wrap.classList.remove('field--error');
        wrap.removeAttribute('aria-invalid');
      }
    }

    function clearErrors() {
      Object.keys(FIELD_LABELS).forEach(clearFieldError);
      summaryList.textContent = '';
      summary.hidden = true;
    }

    /** Re-checks a field that currently shows an error once the user fixes it. */
    function revalidate(name) {
      var errEl = document.getElementById(name + '-error');
      if (!errEl || errEl.hidden) {
        return;
      }
      if (CHECKED_FIELDS.indexOf(name) === -1 || !checkField(name)) {
        clearFieldError(name);
      } else {
        setFieldError(name, checkField(name));
      }
    }

    ['description', 'phone', 'address', 'name'].forEach(function (name) {
      var el = document.getElementById(name);
      el.addEventListener('change', function () {
        revalidate(name);
      });
      el.addEventListener('blur', function () {
        revalidate(name);
      });
    });
    ['district', 'confidential'].forEach(function (name) {
      document.getElementById(name).addEventListener('change', function () {
        clearFieldError(name);
      });
    });
    Array.prototype.forEach.call(form.querySelectorAll('input[name="kind"]'), function (el) {
      el.addEventListener('change', function () {
        clearFieldError('kind');
      });
    });

    function addSummaryItem(text, target) {
      var li = document.createElement('li');
      if (target) {
        var a = document.createElement('a');
        a.href = '#' + target.id;
        a.textContent = text;
        a.addEventListener('click', function (ev) {
          ev.preventDefault();
          focusElement(target);
        });
        li.appendChild(a);
      } else {
        li.textContent = text;
      }
      summaryList.appendChild(li);
    }

    /**
     * Shows field errors ([{field, message}]) inline and in the summary, then
     * focuses the first invalid field (in page order).
     */
    function showFieldErrors(errors, title) {
      document.getElementById('error-summary-title').textContent = title || '提交未成功，请检查以下内容：';
      summaryList.textContent = '';
      var byField = {};
      var order = [];
      errors.forEach(function (err) {
        // Accept "attachments[0]" / "attachments.0" style names from the server.
        var name = String(err.field || '').split(/[.[]/)[0];
        var msg = err.message || '填写内容有误';
        if (!FIELD_LABELS[name]) {
          name = '';
        }
        var key = name || '_general';
        if (!byField[key]) {
          byField[key] = [];
          order.push(key);
        }
        if (byField[key].indexOf(msg) === -1) {
          byField[key].push(msg);
        }
      });
      var firstTarget = null;
      var pageOrder = Object.keys(FIELD_LABELS).concat(['_general']);
      order.sort(function (a, b) {
        return pageOrder.indexOf(a) - pageOrder.indexOf(b);
      });
      order.forEach(function (key) {
        var msgs = byField[key];
        if (key === '_general') {
          msgs.forEach(function (m) {
            addSummaryItem(m, null);
          });
          return;
        }
        setFieldError(key, msgs.join('；'));
        var target = focusTargetFor(key);
        msgs.forEach(function (m) {
          addSummaryItem(FIELD_LABELS[key] + '：' + m, target);
        });
        if (!firstTarget) {
          firstTarget = target;
        }
      });
      summary.hidden = false;
      focusElement(firstTarget || summary);
    }

    /** Shows a single server/general message in the summary and status line. */
    function showGeneralError(message, field) {
      document.getElementById('error-summary-title').textContent = '提交未成功';
      summaryList.textContent = '';
      var target = null;
      if (field && setFieldError(field, message)) {
        target = focusTargetFor(field);
      }
      addSummaryItem(message, target);
      summary.hidden = false;
      setStatus(message, 'error');
      focusElement(summary);
    }

    // ----- busy state

    function setBusy(on) {
      busy = on;
      submitBtn.disabled = on;
      submitBtn.setAttribute('aria-disabled', on ? 'true' : 'false');
      submitBtn.textContent = on ? '正在提交…' : submitLabel;
      form.setAttribute('aria-busy', on ? 'true' : 'false');
    }

    // ----- success

    var copyBtn = document.getElementById('copy-ticket');
    var copyStatus = document.getElementById('copy-status');

    function showSuccess(data) {
      var ticketId = String(data.ticket_id);
      document.getElementById('ticket-id').textContent = ticketId;
      document.getElementById('result-message').textContent =
        data.message || '您的诉求已受理，我们将尽快办理。';
      document.getElementById('result-duplicate').hidden = data.duplicate !== true;
      document.getElementById('result-track-link').href =
        '/track?ticket_id=' + encodeURIComponent(ticketId);
      copyStatus.textContent = '';
      if (copyBtn) {
        copyBtn.hidden = !(navigator.clipboard && navigator.clipboard.writeText);
      }

      form.reset();
      var related = document.getElementById('related_ticket');
      if (related) {
        related.value = ''; // a hidden input keeps its value through reset()
      }
      renderFiles();
      updateCounter();
      clearErrors();
      setStatus('', '');
      form.hidden = true;
      resultPanel.hidden = false;
      focusElement(document.getElementById('result-title'));
    }

    if (copyBtn) {
      copyBtn.addEventListener('click', function () {
        var id = document.getElementById('ticket-id').textContent;
        navigator.clipboard.writeText(id).then(function () {
          copyStatus.textContent = '工单号已复制';
        }, function () {
          copyStatus.textContent = '复制失败，请手动记下工单号';
        });
      });
    }

    document.getElementById('new-request').addEventListener('click', function () {
      resultPanel.hidden = true;
      form.hidden = false;
      focusElement(description);
    });

    // ----- submission

    function ticketFromRedirect(resp) {
      // If the server answered with its HTML flow (303 to /track?ticket_id=..).
      try {
        var u = new URL(resp.url, window.location.href);
        if (resp.redirected && u.pathname === '/track' && u.searchParams.get('ticket_id')) {
          return u.searchParams.get('ticket_id');
        }
      } catch (e) {
        /* ignore */
      }
      return null;
    }

    function buildBody() {
      var fd = new FormData(form);
      // Spaces typed inside phone numbers ("138 1234 5678") are not part of the number.
      fd.set('phone', String(fd.get('phone') || '').replace(/\s+/g, ''));
      // Send only real files (an empty file input would add an empty part).
      fd.delete('attachments');
      selectedFiles().forEach(function (f) {
        fd.append('attachments', f, f.name);
      });
      return fd;
    }

    function handleResponse(resp, data) {
      var status = resp.status;
      if ((status === 201 || status === 200) && data && data.ticket_id) {
        showSuccess(data);
        renewKey(); // the next request is a new one
        return;
      }
      var redirectedId = (status === 200) ? ticketFromRedirect(resp) : null;
      if (redirectedId) {
        showSuccess({ ticket_id: redirectedId });
        renewKey();
        return;
      }
      if (status >= 400 && status < 500) {
        // Definitely not accepted: a corrected resubmission is a new request.
        renewKey();
      }
      if (status === 422 && data && Array.isArray(data.fields) && data.fields.length) {
        setStatus(data.message || '填写的内容有误，请按提示修改后重新提交。', 'error');
        showFieldErrors(data.fields);
        return;
      }
      var message = messageFrom(resp, data);
      if (status === 413 || status === 415) {
        showGeneralError(message, 'attachments');
      } else if (status >= 500 || (status >= 200 && status < 300)) {
        // Outcome unknown: keep the key so a retry cannot create a duplicate.
        showGeneralError(status >= 500 ? message :
          '未能确认提交结果，请再次点击“提交诉求”。重复提交不会生成重复的工单。');
      } else {
        showGeneralError(message);
      }
    }

    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (busy) {
        return;
      }
      clearErrors();
      var errors = validateClient();
      if (errors.length) {
        setStatus('有' + errors.length + '项内容需要修改，请按提示修改后重新提交。', 'error');
        showFieldErrors(errors);
        return;
      }

      setBusy(true);
      setStatus(selectedFiles().length ? '正在提交并上传附件，请稍候…' : '正在提交，请稍候…', 'busy');

      fetchWithTimeout(form.getAttribute('action') || '/api/v1/requests', {
        method: 'POST',
        body: buildBody(),
        headers: {
          'Idempotency-Key': idempotencyKey,
          'Accept': 'application/json'
        },
        credentials: 'same-origin'
      }, SUBMIT_TIMEOUT_MS).then(function (resp) {
        return readJson(resp).then(function (data) {
          setBusy(false);
          handleResponse(resp, data);
        });
      }, function () {
        // Network failure or timeout: keep everything, including the key.
        setBusy(false);
        showGeneralError('网络连接异常，诉求可能未提交成功。您填写的内容已保留，请检查网络后再次点击“提交诉求”；重复提交不会生成重复的工单。');
      });
    });
  }

  // ---------------------------------------------------------------------------

  function init() {
    initTextSizeToggle();
    initRequestForm();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
