/*
 * Consultation chat on the citizen portal (index.html, section #chat).
 *
 * - Talks to POST /api/v1/chat with a random session id kept in sessionStorage, so a reload
 *   continues the same conversation; the transcript is kept there too and drawn again after a
 *   reload (chat-store.js, chat-view.js).
 * - Server text is only ever inserted with textContent.
 * - Forwarded conversations can be copied into the request form (chat-handover.js).
 */
import { useForm } from './chat-handover.js';
import { conversation, loadConversation, newConversation, saveTranscript } from './chat-store.js';
import { disableOldOptions, drawAll, drawBot, drawCitizen, enableLastOptions, reveal, setThinking } from './chat-view.js';
import { charCount, fetchWithTimeout, messageFrom, readJson } from './util.js';

const TEXT_MAX = 2000;
const TIMEOUT_MS = 30 * 1000;

let busy = false;
const actions = { onChoice: function (choice) { send(choice, false); }, onUseForm: useForm, onFollowup: followup };

/** 回访 of an answer: this conversation's session id authorises it (POST /api/v1/chat/followup). */
function followup(ticketId, body) {
  return fetchWithTimeout('/api/v1/chat/followup', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
    body: JSON.stringify(Object.assign({ session_id: conversation.sessionId, ticket_id: ticketId }, body)),
    credentials: 'same-origin'
  }, TIMEOUT_MS);
}

function $(id) {
  return document.getElementById(id);
}

function showRestart() {
  const restartBtn = $('chat-restart');
  if (restartBtn) {
    restartBtn.hidden = !conversation.transcript.length;
  }
}

function setBusy(on) {
  busy = on;
  $('chat-send').disabled = on;
  $('chat-form').setAttribute('aria-busy', on ? 'true' : 'false');
  setThinking(on);
}

function showError(text) {
  $('chat-error').textContent = text || '';
}

function retryAfterText(resp) {
  const ra = resp.headers.get('Retry-After');
  if (ra && /^\d+$/.test(ra)) {
    const secs = parseInt(ra, 10);
    return secs >= 60 ? '（约' + Math.ceil(secs / 60) + '分钟后可再次提问）' : '（约' + Math.max(secs, 1) + '秒后可再次提问）';
  }
  return '';
}

function errorText(resp, data) {
  if (resp.status === 422 && data && Array.isArray(data.fields) && data.fields.length) {
    const msgs = [];
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
  let text = messageFrom(resp, data);
  if (resp.status === 429) {
    text += retryAfterText(resp);
  }
  return text;
}

/** Puts unsent text back into the box (ahead of anything typed meanwhile). */
function restoreText(text) {
  const input = $('chat-input');
  const now = input.value;
  if (now.indexOf(text) === -1) {
    input.value = now.trim() ? text + '\n' + now : text;
  }
}

function focusInputIfLost() {
  const a = document.activeElement;
  if (!a || a === document.body || a === $('chat-send') || a.disabled ||
      (a.classList && a.classList.contains('chat-option'))) {
    $('chat-input').focus();
  }
}

function failed(pending, text, fromInput, message) {
  if (pending && pending.parentNode) {
    pending.parentNode.removeChild(pending);
  }
  if (fromInput) {
    restoreText(text);
  }
  enableLastOptions();
  showError(message);
}

function answered(resp, data, pending, text, fromInput) {
  setBusy(false);
  if (resp.ok && data && typeof data.reply === 'string') {
    conversation.transcript.push({ who: 'citizen', text: text });
    conversation.transcript.push({ who: 'bot', data: data });
    saveTranscript();
    showRestart();
    reveal(drawBot(data, true, actions));
  } else {
    failed(pending, text, fromInput, errorText(resp, data));
    if (resp.status === 422 && data && Array.isArray(data.fields) &&
        data.fields.some(function (f) { return f && f.field === 'session_id'; })) {
      startOver(false); // the stored id is unusable: start a fresh conversation
    }
  }
  focusInputIfLost();
}

/**
 * Sends `text`. `fromInput` is true when it came from the text box (then
 * the box is cleared, and refilled if the message could not be sent).
 */
function send(text, fromInput) {
  if (busy) {
    return;
  }
  const input = $('chat-input');
  text = String(text || '').trim();
  if (!text) {
    showError('请输入您的问题。');
    input.focus();
    return;
  }
  if (charCount(text) > TEXT_MAX) {
    showError('问题不能超过' + TEXT_MAX + '字，请精简后再发送。');
    input.focus();
    return;
  }
  showError('');
  disableOldOptions();
  const pending = drawCitizen(text);
  if (fromInput) {
    input.value = '';
  }
  setBusy(true);

  fetchWithTimeout('/api/v1/chat', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
    body: JSON.stringify({ session_id: conversation.sessionId, text: text }),
    credentials: 'same-origin'
  }, TIMEOUT_MS).then(function (resp) {
    return readJson(resp).then(function (data) {
      answered(resp, data, pending, text, fromInput);
    });
  }, function () {
    setBusy(false);
    failed(pending, text, fromInput,
      '网络连接异常，消息未能发送。您输入的内容已保留，请检查网络后再次点击“发送”。');
    focusInputIfLost();
  });
}

function startOver(focus) {
  newConversation();
  showRestart(); // hides the restart button, so focus moves on
  drawAll(conversation.transcript, actions);
  if (focus) {
    showError('');
    $('chat-input').focus();
  }
}

function bind() {
  const input = $('chat-input');
  $('chat-form').addEventListener('submit', function (ev) {
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
    if ($('chat-error').textContent && input.value.trim()) {
      showError('');
    }
  });

  const restartBtn = $('chat-restart');
  if (restartBtn) {
    restartBtn.addEventListener('click', function () {
      if (!busy) {
        startOver(true);
      }
    });
  }
}

function init() {
  const section = $('chat');
  if (!section || !window.fetch) {
    return; // without these the page still has the request form
  }
  loadConversation();
  section.hidden = false;
  bind();
  showRestart();
  drawAll(conversation.transcript, actions);
}

init();
