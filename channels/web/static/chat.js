/*
 * Consultation chat on the citizen portal (index.html, section #chat).
 *
 * - Talks to POST /api/v1/chat with a random session id kept in
 *   sessionStorage, so a reload continues the same conversation; the
 *   transcript is kept there too and drawn again after a reload.
 * - Server text is only ever inserted with textContent.
 * - Forwarded conversations can be copied into the request form
 *   (#request-form) that portal.js manages.
 * Needs window.Portal from portal.js (loaded before this file).
 */
(function () {
  'use strict';

  var SESSION_KEY = 'bj12345.portal.chatSession';
  var TRANSCRIPT_KEY = 'bj12345.portal.chatTranscript';
  var MAX_STORED = 60;           // messages kept for redrawing after a reload
  var TEXT_MAX = 2000;
  var TIMEOUT_MS = 30 * 1000;
  var SESSION_RE = /^[A-Za-z0-9_-]{8,64}$/;
  var GREETING = '您好，我是北京12345智能助手，可以解答居住证、社保、公积金、供暖等常见政策问题。' +
    '遇到紧急情况请直接拨打 110、119、120、122。';
  var KINDS = ['consultation', 'help', 'complaint', 'report', 'suggestion', 'unsure'];

  // ---------------------------------------------------------------------------
  // Storage (sessionStorage may be blocked; the chat then lives for one page view)

  function storageGet(key) {
    try {
      return window.sessionStorage.getItem(key);
    } catch (e) {
      return null;
    }
  }

  function storageSet(key, value) {
    try {
      if (value === null) {
        window.sessionStorage.removeItem(key);
      } else {
        window.sessionStorage.setItem(key, value);
      }
    } catch (e) {
      /* ignore */
    }
  }

  function newSessionId() {
    var raw = '';
    var c = window.crypto;
    if (c && typeof c.randomUUID === 'function') {
      try {
        raw = c.randomUUID();
      } catch (e) {
        raw = '';
      }
    }
    if (!raw && window.Portal) {
      raw = window.Portal.newIdempotencyKey();
    }
    var id = String(raw).replace(/[^A-Za-z0-9_-]/g, '').slice(0, 64);
    while (id.length < 8) {
      id += Math.floor(Math.random() * 36).toString(36); // last-resort padding
    }
    return id;
  }

  function loadSessionId() {
    var saved = storageGet(SESSION_KEY);
    if (saved && SESSION_RE.test(saved)) {
      return saved;
    }
    var id = newSessionId();
    storageSet(SESSION_KEY, id);
    return id;
  }

  function loadTranscript() {
    var raw = storageGet(TRANSCRIPT_KEY);
    if (!raw) {
      return [];
    }
    try {
      var list = JSON.parse(raw);
      return Array.isArray(list) ? list : [];
    } catch (e) {
      return [];
    }
  }

  // ---------------------------------------------------------------------------

  function init() {
    var section = document.getElementById('chat');
    if (!section || !window.Portal || !window.fetch) {
      return; // without these the page still has the request form
    }
    var log = document.getElementById('chat-log');
    var form = document.getElementById('chat-form');
    var input = document.getElementById('chat-input');
    var sendBtn = document.getElementById('chat-send');
    var errorEl = document.getElementById('chat-error');
    var restartBtn = document.getElementById('chat-restart');

    var sessionId = loadSessionId();
    var transcript = loadTranscript();
    var busy = false;
    var thinkingEl = null;

    section.hidden = false;

    function saveTranscript() {
      if (transcript.length > MAX_STORED) {
        transcript = transcript.slice(transcript.length - MAX_STORED);
      }
      storageSet(TRANSCRIPT_KEY, transcript.length ? JSON.stringify(transcript) : null);
      if (restartBtn) {
        restartBtn.hidden = !transcript.length;
      }
    }

    // ----- drawing messages

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

    function newMessage(who) {
      var msg = el('div', 'chat-msg ' + who);
      // Speaker name for screen readers; the bubble side shows it visually.
      msg.appendChild(el('span', 'visually-hidden', who === 'bot' ? '智能助手说：' : '您说：'));
      return msg;
    }

    function append(node) {
      if (thinkingEl && thinkingEl.parentNode === log) {
        log.insertBefore(node, thinkingEl);
      } else {
        log.appendChild(node);
      }
    }

    /** Scrolls the log so the top of `node` (or the end) is in view. */
    function reveal(node) {
      var top = node ? node.offsetTop - 8 : log.scrollHeight;
      // Show all of a short message; the beginning of a long one.
      if (node && node.offsetHeight < log.clientHeight) {
        top = Math.max(log.scrollTop, node.offsetTop + node.offsetHeight - log.clientHeight + 8);
        top = Math.min(top, node.offsetTop - 8);
      }
      log.scrollTop = Math.max(top, 0);
    }

    function drawCitizen(text) {
      var msg = newMessage('citizen');
      msg.appendChild(el('p', 'chat-msg__text', text));
      append(msg);
      return msg;
    }

    function disableOldOptions() {
      Array.prototype.forEach.call(log.querySelectorAll('.chat-option'), function (b) {
        b.disabled = true;
      });
    }

    /** Moves the id chat-use-form to the newest such button (ids must be unique). */
    function markLatestUseForm(btn) {
      var old = document.getElementById('chat-use-form');
      if (old && old !== btn) {
        old.removeAttribute('id');
      }
      btn.id = 'chat-use-form';
    }

    function telLine(line) {
      return /^\d{3,5}$/.test(String(line || '')) ? String(line) : '';
    }

    /** Draws a bot reply. `live` is false when redrawing a stored transcript. */
    function drawBot(data, live) {
      var msg = newMessage('bot');
      var decision = data.decision || '';
      msg.setAttribute('data-decision', decision);
      var line = telLine(data.line);
      if (decision === 'emergency') {
        msg.classList.add('chat-emergency');
        if (live) {
          msg.setAttribute('role', 'alert');
        }
      }
      msg.appendChild(el('p', 'chat-msg__text', data.reply || ''));

      if (decision === 'emergency' && line) {
        var call = el('a', 'chat-call', '立即拨打 ' + line);
        call.href = 'tel:' + line;
        msg.appendChild(call);
      }

      if (decision === 'clarify' && Array.isArray(data.options) && data.options.length) {
        var group = el('div', 'chat-options');
        group.setAttribute('role', 'group');
        group.setAttribute('aria-label', '请选择您想了解的事项');
        data.options.slice(0, 5).forEach(function (opt, i) {
          var choice = String(i + 1);
          var b = el('button', 'chat-option', choice + '. ' + (opt && opt.title ? opt.title : '第' + choice + '项'));
          b.type = 'button';
          b.setAttribute('data-choice', choice);
          b.addEventListener('click', function () {
            send(choice, null);
          });
          group.appendChild(b);
        });
        msg.appendChild(group);
      }

      if (decision === 'answer' && data.entry && data.entry.id) {
        msg.appendChild(el('p', 'chat-source',
          '答复依据：知识库条目 ' + data.entry.id + '（第' + data.entry.version + '版）'));
      }

      if ((decision === 'forward' || decision === 'handoff') && data.prefill) {
        var note = el('p', 'chat-ticket', '本次对话已登记，编号 ');
        note.appendChild(el('span', 'chat-ticket__id', data.ticket_id || ''));
        note.appendChild(document.createTextNode('。' + (decision === 'handoff' ?
          '网上咨询暂不能直接接通人工，请填写诉求表单并留下联系电话，工作人员会尽快与您联系。' :
          '如需办理，请点击下方按钮，核对并补充联系电话、发生地点后提交诉求。')));
        msg.appendChild(note);
        var useBtn = el('button', 'btn btn--secondary btn--small chat-use-form', '填写诉求表单');
        useBtn.type = 'button';
        useBtn.addEventListener('click', function () {
          useForm(data.prefill);
        });
        msg.appendChild(useBtn);
        markLatestUseForm(useBtn);
      }

      append(msg);
      return msg;
    }

    function drawGreeting() {
      var msg = newMessage('bot');
      msg.classList.add('chat-greeting');
      msg.appendChild(el('p', 'chat-msg__text', GREETING));
      log.appendChild(msg);
    }

    function drawAll() {
      log.textContent = '';
      thinkingEl = null;
      drawGreeting();
      transcript.forEach(function (item) {
        if (item.who === 'citizen') {
          drawCitizen(item.text);
        } else if (item.data) {
          disableOldOptions();
          drawBot(item.data, false);
        }
      });
      reveal(null);
    }

    // ----- waiting state and errors

    function setBusy(on) {
      busy = on;
      sendBtn.disabled = on;
      form.setAttribute('aria-busy', on ? 'true' : 'false');
      if (on) {
        thinkingEl = el('div', 'chat-thinking', '正在思考…');
        log.appendChild(thinkingEl);
        reveal(thinkingEl);
      } else if (thinkingEl) {
        if (thinkingEl.parentNode) {
          thinkingEl.parentNode.removeChild(thinkingEl);
        }
        thinkingEl = null;
      }
    }

    function showError(text) {
      errorEl.textContent = text || '';
    }

    function retryAfterText(resp) {
      var ra = resp.headers.get('Retry-After');
      if (ra && /^\d+$/.test(ra)) {
        var secs = parseInt(ra, 10);
        return secs >= 60 ? '（约' + Math.ceil(secs / 60) + '分钟后可再次提问）' : '（约' + Math.max(secs, 1) + '秒后可再次提问）';
      }
      return '';
    }

    function errorText(resp, data) {
      if (resp.status === 422 && data && Array.isArray(data.fields) && data.fields.length) {
        var msgs = [];
        data.fields.forEach(function (f) {
          if (f && f.message && msgs.indexOf(f.message) === -1) {
            msgs.push(f.message);
          }
        });
        if (msgs.length) {
          return msgs.join('；');
        }
      }
      if (resp.status >= 500) {
        return '系统繁忙，暂时无法答复，请稍后再试。您输入的内容已保留。';
      }
      var text = window.Portal.messageFrom(resp, data);
      if (resp.status === 429) {
        text += retryAfterText(resp);
      }
      return text;
    }

    /** Puts unsent text back into the box (ahead of anything typed meanwhile). */
    function restoreText(text) {
      var now = input.value;
      if (now.indexOf(text) === -1) {
        input.value = now.trim() ? text + '\n' + now : text;
      }
    }

    function focusInputIfLost() {
      var a = document.activeElement;
      if (!a || a === document.body || a === sendBtn || a.disabled ||
          (a.classList && a.classList.contains('chat-option'))) {
        input.focus();
      }
    }

    // ----- sending

    /**
     * Sends `text`. `fromInput` is true when it came from the text box (then
     * the box is cleared, and refilled if the message could not be sent).
     */
    function send(text, fromInput) {
      if (busy) {
        return;
      }
      text = String(text || '').trim();
      if (!text) {
        showError('请输入您的问题。');
        input.focus();
        return;
      }
      if (window.Portal.charCount(text) > TEXT_MAX) {
        showError('问题不能超过' + TEXT_MAX + '字，请精简后再发送。');
        input.focus();
        return;
      }
      showError('');
      disableOldOptions();
      var pending = drawCitizen(text);
      if (fromInput) {
        input.value = '';
      }
      setBusy(true);

      window.Portal.fetchWithTimeout('/api/v1/chat', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
        body: JSON.stringify({ session_id: sessionId, text: text }),
        credentials: 'same-origin'
      }, TIMEOUT_MS).then(function (resp) {
        return window.Portal.readJson(resp).then(function (data) {
          setBusy(false);
          if (resp.ok && data && typeof data.reply === 'string') {
            transcript.push({ who: 'citizen', text: text });
            transcript.push({ who: 'bot', data: data });
            saveTranscript();
            reveal(drawBot(data, true));
          } else {
            failed(pending, text, fromInput, errorText(resp, data));
            if (resp.status === 422 && data && Array.isArray(data.fields) &&
                data.fields.some(function (f) { return f && f.field === 'session_id'; })) {
              startOver(false); // the stored id is unusable: start a fresh conversation
            }
          }
          focusInputIfLost();
        });
      }, function () {
        setBusy(false);
        failed(pending, text, fromInput,
          '网络连接异常，消息未能发送。您输入的内容已保留，请检查网络后再次点击“发送”。');
        focusInputIfLost();
      });
    }

    function failed(pending, text, fromInput, message) {
      if (pending && pending.parentNode) {
        pending.parentNode.removeChild(pending);
      }
      if (fromInput) {
        restoreText(text);
      }
      // Options of the last reply are still valid on the server.
      var bots = log.querySelectorAll('.chat-msg.bot');
      var last = bots.length ? bots[bots.length - 1] : null;
      if (last) {
        Array.prototype.forEach.call(last.querySelectorAll('.chat-option'), function (b) {
          b.disabled = false;
        });
      }
      showError(message);
    }

    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      send(input.value, true);
    });

    input.addEventListener('keydown', function (ev) {
      // Enter sends; Shift+Enter is a new line; Enter that confirms an IME
      // candidate (pinyin input) must not send.
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.ctrlKey && !ev.altKey && !ev.metaKey &&
          !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        send(input.value, true);
      }
    });

    input.addEventListener('input', function () {
      if (errorEl.textContent && input.value.trim()) {
        showError('');
      }
    });

    // ----- new conversation

    function startOver(focus) {
      sessionId = newSessionId();
      storageSet(SESSION_KEY, sessionId);
      transcript = [];
      saveTranscript(); // also hides the restart button, so focus moves on
      drawAll();
      if (focus) {
        showError('');
        input.focus();
      }
    }

    if (restartBtn) {
      restartBtn.addEventListener('click', function () {
        if (!busy) {
          startOver(true);
        }
      });
    }

    // ----- hand over to the request form

    function displayPhone(phone) {
      var p = String(phone || '').replace(/\s+/g, '');
      if (/^\+861[3-9]\d{9}$/.test(p)) {
        return p.slice(3);
      }
      if (/^\+86[2-9]\d{6,}$/.test(p)) {
        return '0' + p.slice(3); // landline: back to the national format
      }
      return p;
    }

    function fire(node, type) {
      node.dispatchEvent(new Event(type, { bubbles: true }));
    }

    function useForm(prefill) {
      var reqForm = document.getElementById('request-form');
      if (!reqForm) {
        return;
      }
      prefill = prefill || {};
      // After an earlier submission the form is replaced by the success panel.
      var result = document.getElementById('result');
      if (result && !result.hidden) {
        result.hidden = true;
      }
      reqForm.hidden = false;

      var kind = KINDS.indexOf(prefill.kind) !== -1 ? prefill.kind : 'unsure';
      var radio = reqForm.querySelector('input[name="kind"][value="' + kind + '"]');
      if (radio) {
        radio.checked = true;
        fire(radio, 'change');
      }
      var description = document.getElementById('description');
      if (prefill.description) {
        description.value = String(prefill.description).slice(0, TEXT_MAX);
        fire(description, 'input');
        fire(description, 'change');
      }
      var district = document.getElementById('district');
      if (prefill.district && district) {
        var known = Array.prototype.some.call(district.options, function (o) {
          return o.value === prefill.district;
        });
        if (known) {
          district.value = prefill.district;
          fire(district, 'change');
        }
      }
      var address = document.getElementById('address');
      if (prefill.address && address) {
        address.value = String(prefill.address).slice(0, 200);
        fire(address, 'change');
      }
      var related = document.getElementById('related_ticket');
      if (related) {
        related.value = prefill.related_ticket || '';
      }
      var phone = document.getElementById('phone');
      if (prefill.phone && phone) {
        phone.value = displayPhone(prefill.phone);
        fire(phone, 'change');
      }
      window.Portal.focusElement(description);
    }

    if (restartBtn) {
      restartBtn.hidden = !transcript.length;
    }
    drawAll();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
