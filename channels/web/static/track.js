/*
 * Tracking page (/track), an ES module (portal.js runs first on the page).
 *
 * Reads ticket_id (and new=1) from the URL, queries
 * GET /api/v1/track?ticket_id=..&phone_last4=.. and renders the public status
 * into #track-result. Server data is only ever inserted as text.
 */

import { followupForm } from './followup-form.js';
import { fetchWithTimeout, focusElement, formatBeijingTime, messageFrom, parseTimestamp, readJson } from './util.js';

var TIMEOUT_MS = 30 * 1000;

var STATUS_TONE = {
  answered: 'done',
  closed: 'done',
  transferred: 'muted',
  diverted: 'muted',
  abandoned: 'muted'
};

function el(tag, className, text) {
  var node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined && text !== null) {
    node.textContent = text;
  }
  return node;
}

function init() {
  var form = document.getElementById('track-form');
  if (!form) {
    return;
  }
  var ticketInput = document.getElementById('ticket_id');
  var last4Input = document.getElementById('phone_last4');
  var submitBtn = document.getElementById('submit-track');
  var live = document.getElementById('track-live');
  var result = document.getElementById('track-result');
  var busy = false;

  // ----- field errors

  function setFieldError(name, message) {
    var input = document.getElementById(name);
    var err = document.getElementById(name + '-error');
    var wrap = document.getElementById(name + '-field');
    err.textContent = message;
    err.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    wrap.classList.add('field--error');
  }

  function clearFieldError(name) {
    var input = document.getElementById(name);
    var err = document.getElementById(name + '-error');
    var wrap = document.getElementById(name + '-field');
    err.textContent = '';
    err.hidden = true;
    input.removeAttribute('aria-invalid');
    wrap.classList.remove('field--error');
  }

  function checkTicket() {
    return ticketInput.value.trim() ? '' : '请填写工单号';
  }

  function checkLast4() {
    var v = last4Input.value.trim();
    if (!v) {
      return '请填写手机号后四位';
    }
    return /^\d{4}$/.test(v) ? '' : '请输入4位数字';
  }

  ticketInput.addEventListener('input', function () {
    if (!document.getElementById('ticket_id-error').hidden && !checkTicket()) {
      clearFieldError('ticket_id');
    }
  });
  last4Input.addEventListener('input', function () {
    // Convert full-width digits typed with a Chinese IME.
    var v = last4Input.value.replace(/[０-９]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xFEE0);
    });
    if (v !== last4Input.value) {
      last4Input.value = v;
    }
    if (!document.getElementById('phone_last4-error').hidden && !checkLast4()) {
      clearFieldError('phone_last4');
    }
  });

  function setBusy(on) {
    busy = on;
    submitBtn.disabled = on;
    submitBtn.textContent = on ? '正在查询…' : '查询';
    form.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  // ----- rendering

  function showError(message) {
    result.textContent = '';
    var box = el('div', 'notice notice--error');
    box.setAttribute('role', 'alert');
    box.appendChild(el('p', 'notice__title', '未能查询到结果'));
    box.appendChild(el('p', 'track-error', message));
    result.appendChild(box);
    result.hidden = false;
    live.textContent = '';
  }

  function addDetail(dl, label, value) {
    dl.appendChild(el('dt', null, label));
    dl.appendChild(el('dd', null, value));
  }

  function renderTicket(data) {
    result.textContent = '';
    var card = el('div', 'card');

    var head = el('div', 'ticket-head');
    var h2 = el('h2', null, '工单号 ');
    h2.id = 'track-result-title';
    h2.tabIndex = -1;
    h2.appendChild(el('span', 'track-ticket-id', data.ticket_id || ticketInput.value.trim()));
    head.appendChild(h2);
    var statusLabel = data.status_label || data.status || '处理中';
    var badge = el('span', 'status-badge' + (STATUS_TONE[data.status] ? ' status-badge--' + STATUS_TONE[data.status] : ''), statusLabel);
    badge.id = 'track-status';
    head.appendChild(badge);
    card.appendChild(head);

    var dl = el('dl', 'details');
    addDetail(dl, '诉求类型', data.kind_label || '待分类');
    addDetail(dl, '受理时间', formatBeijingTime(data.received_at) || '—');
    addDetail(dl, '办理期限', (formatBeijingTime(data.due_at) || '—') + (data.postponed ? '（已延期）' : ''));
    addDetail(dl, '所在区', data.district || '未填写');
    card.appendChild(dl);

    // The handling unit's result, once the case is closed (or a partner hotline resolved it).
    if (data.result && data.result.text) {
      var box = el('section', 'track-result-box');
      box.id = 'track-outcome';
      box.appendChild(el('h3', 'timeline-title', '办理结果'));
      var rdl = el('dl', 'details');
      addDetail(rdl, '承办单位', data.result.unit || '—');
      addDetail(rdl, '办结时间', formatBeijingTime(data.result.at) || '—');
      box.appendChild(rdl);
      box.appendChild(el('p', 'track-result-text', data.result.text));
      card.appendChild(box);
    }
    if (data.merged_into) {
      card.appendChild(el('p', 'hint', '您的诉求已与相同问题的工单 ' + data.merged_into + ' 合并办理，以下为该工单的办理进展。'));
    }

    // 回访 after 办结: authorised like this query (ticket id and the phone's last four digits).
    var fu = data.followup || {};
    if (fu.open) {
      var rate = el('section', 'track-followup');
      rate.id = 'track-followup';
      rate.appendChild(el('h3', 'timeline-title', '办理评价'));
      var ticketId = data.ticket_id;
      var last4 = last4Input.value.trim();
      rate.appendChild(followupForm('您反映的问题是否已解决？您对办理结果是否满意？', function (body) {
        return fetchWithTimeout('/api/v1/track/followup', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
          body: JSON.stringify(Object.assign({ ticket_id: ticketId, phone_last4: last4 }, body)),
          credentials: 'same-origin'
        }, TIMEOUT_MS);
      }));
      card.appendChild(rate);
    } else if (fu.answer) {
      card.appendChild(el('p', 'hint', '您已评价：' + (fu.answer.resolved ? '已解决' : '未解决') + '，' + (fu.answer.satisfaction_label || '')));
    }

    card.appendChild(el('h3', 'timeline-title', '办理记录'));
    var items = Array.isArray(data.timeline) ? data.timeline.slice() : [];
    if (!items.length) {
      card.appendChild(el('p', 'hint', '暂无办理记录。'));
    } else {
      // Newest first; stable for equal or unparsable times (server order is oldest first).
      var indexed = items.map(function (item, i) {
        var d = parseTimestamp(item && item.at);
        return { item: item || {}, i: i, t: d ? d.getTime() : null };
      });
      indexed.sort(function (a, b) {
        if (a.t !== null && b.t !== null && a.t !== b.t) {
          return b.t - a.t;
        }
        return b.i - a.i;
      });
      var ol = el('ol', 'timeline');
      ol.id = 'track-timeline';
      indexed.forEach(function (entry, pos) {
        var li = el('li', pos === 0 ? 'timeline__latest' : null);
        var when = formatBeijingTime(entry.item.at);
        if (when) {
          var time = el('time', 'timeline__time', when);
          var d = parseTimestamp(entry.item.at);
          if (d) {
            time.setAttribute('datetime', d.toISOString());
          }
          li.appendChild(time);
        }
        li.appendChild(el('span', 'timeline__label', entry.item.label || ''));
        if (entry.item.detail) {
          li.appendChild(el('span', 'timeline__detail', entry.item.detail));
        }
        ol.appendChild(li);
      });
      card.appendChild(ol);
    }

    result.appendChild(card);
    result.hidden = false;
    live.textContent = '查询成功，当前状态：' + statusLabel;
    focusElement(h2);
  }

  // ----- query

  function query() {
    if (busy) {
      return;
    }
    clearFieldError('ticket_id');
    clearFieldError('phone_last4');
    var e1 = checkTicket();
    var e2 = checkLast4();
    if (e1) {
      setFieldError('ticket_id', e1);
    }
    if (e2) {
      setFieldError('phone_last4', e2);
    }
    if (e1 || e2) {
      live.textContent = '请按提示修改查询条件。';
      (e1 ? ticketInput : last4Input).focus();
      return;
    }

    var ticketId = ticketInput.value.trim();
    var last4 = last4Input.value.trim();
    var url = '/api/v1/track?ticket_id=' + encodeURIComponent(ticketId) +
      '&phone_last4=' + encodeURIComponent(last4);

    // Keep the ticket id (never the phone digits) in the address bar.
    if (window.history && history.replaceState) {
      var params = new URLSearchParams(window.location.search);
      params.set('ticket_id', ticketId);
      params.delete('phone_last4');
      params.delete('new'); // the banner stays on screen, but not on reload
      history.replaceState(null, '', window.location.pathname + '?' + params.toString());
    }

    setBusy(true);
    live.textContent = '正在查询，请稍候…';
    fetchWithTimeout(url, {
      method: 'GET',
      headers: { 'Accept': 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store'
    }, TIMEOUT_MS).then(function (resp) {
      return readJson(resp).then(function (data) {
        setBusy(false);
        if (resp.ok && data) {
          renderTicket(data);
          return;
        }
        if (resp.status === 422 && data && Array.isArray(data.fields)) {
          var focused = false;
          data.fields.forEach(function (f) {
            var name = String(f.field || '');
            if (name === 'ticket_id' || name === 'phone_last4') {
              setFieldError(name, f.message || '填写内容有误');
              if (!focused) {
                document.getElementById(name).focus();
                focused = true;
              }
            }
          });
        }
        showError(messageFrom(resp, data));
      });
    }, function () {
      setBusy(false);
      showError('网络连接异常，请检查网络后重试。');
    });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    query();
  });

  // ----- URL parameters

  var params = new URLSearchParams(window.location.search);
  var fromUrl = (params.get('ticket_id') || '').trim();
  if (fromUrl) {
    ticketInput.value = fromUrl;
  }
  if (fromUrl && params.get('new') === '1') {
    document.getElementById('new-ticket-id').textContent = fromUrl;
    document.getElementById('new-banner').hidden = false;
  }
  var last4FromUrl = (params.get('phone_last4') || '').trim();
  if (fromUrl && /^\d{4}$/.test(last4FromUrl)) {
    // A plain GET of this form (e.g. JS loaded late): run the query.
    last4Input.value = last4FromUrl;
    query();
  }
}

init();
