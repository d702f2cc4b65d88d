/*
 * Consultation chat: drawing the conversation in #chat-log - the greeting, the citizen's
 * messages, the bot's replies (emergency call link, numbered options, the knowledge-base source,
 * the hand-over to the request form) and the "正在思考…" placeholder.
 * Server text is only ever inserted with textContent.
 */
const GREETING = '您好，我是北京12345智能助手，可以解答居住证、社保、公积金、供暖等常见政策问题。' +
  '遇到紧急情况请直接拨打 110、119、120、122。';

let thinkingEl = null;

import { followupForm } from './followup-form.js';

function log() {
  return document.getElementById('chat-log');
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined && text !== null) {
    node.textContent = text;
  }
  return node;
}

function newMessage(who) {
  const msg = el('div', 'chat-msg ' + who);
  // Speaker name for screen readers; the bubble side shows it visually.
  msg.appendChild(el('span', 'visually-hidden', who === 'bot' ? '智能助手说：' : '您说：'));
  return msg;
}

function append(node) {
  if (thinkingEl && thinkingEl.parentNode === log()) {
    log().insertBefore(node, thinkingEl);
  } else {
    log().appendChild(node);
  }
}

/** Scrolls the log so the top of `node` (or the end) is in view. */
export function reveal(node) {
  const box = log();
  let top = node ? node.offsetTop - 8 : box.scrollHeight;
  // Show all of a short message; the beginning of a long one.
  if (node && node.offsetHeight < box.clientHeight) {
    top = Math.max(box.scrollTop, node.offsetTop + node.offsetHeight - box.clientHeight + 8);
    top = Math.min(top, node.offsetTop - 8);
  }
  box.scrollTop = Math.max(top, 0);
}

export function drawCitizen(text) {
  const msg = newMessage('citizen');
  msg.appendChild(el('p', 'chat-msg__text', text));
  append(msg);
  return msg;
}

export function disableOldOptions() {
  Array.prototype.forEach.call(log().querySelectorAll('.chat-option'), function (b) {
    b.disabled = true;
  });
}

/** Options of the last reply are still valid on the server after a failed send. */
export function enableLastOptions() {
  const bots = log().querySelectorAll('.chat-msg.bot');
  const last = bots.length ? bots[bots.length - 1] : null;
  if (last) {
    Array.prototype.forEach.call(last.querySelectorAll('.chat-option'), function (b) {
      b.disabled = false;
    });
  }
}

/** Moves the id chat-use-form to the newest such button (ids must be unique). */
function markLatestUseForm(btn) {
  const old = document.getElementById('chat-use-form');
  if (old && old !== btn) {
    old.removeAttribute('id');
  }
  btn.id = 'chat-use-form';
}

function telLine(line) {
  return /^\d{3,5}$/.test(String(line || '')) ? String(line) : '';
}

function optionsGroup(options, onChoice) {
  const group = el('div', 'chat-options');
  group.setAttribute('role', 'group');
  group.setAttribute('aria-label', '请选择您想了解的事项');
  options.slice(0, 5).forEach(function (opt, i) {
    const choice = String(i + 1);
    const b = el('button', 'chat-option', choice + '. ' + (opt && opt.title ? opt.title : '第' + choice + '项'));
    b.type = 'button';
    b.setAttribute('data-choice', choice);
    b.addEventListener('click', function () {
      onChoice(choice);
    });
    group.appendChild(b);
  });
  return group;
}

function handOver(msg, data, onUseForm) {
  const decision = data.decision;
  const note = el('p', 'chat-ticket', '本次对话已登记，编号 ');
  note.appendChild(el('span', 'chat-ticket__id', data.ticket_id || ''));
  note.appendChild(document.createTextNode('。' + (decision === 'handoff' ?
    '网上咨询暂不能直接接通人工，请填写诉求表单并留下联系电话，工作人员会尽快与您联系。' :
    '如需办理，请点击下方按钮，核对并补充联系电话、发生地点后提交诉求。')));
  msg.appendChild(note);
  const useBtn = el('button', 'btn btn--secondary btn--small chat-use-form', '填写诉求表单');
  useBtn.type = 'button';
  useBtn.addEventListener('click', function () {
    onUseForm(data.prefill);
  });
  msg.appendChild(useBtn);
  markLatestUseForm(useBtn);
}

/**
 * Draws a bot reply. `live` is false when redrawing a stored transcript. `actions`:
 * {onChoice(choice), onUseForm(prefill)}.
 */
export function drawBot(data, live, actions) {
  const msg = newMessage('bot');
  const decision = data.decision || '';
  msg.setAttribute('data-decision', decision);
  const line = telLine(data.line);
  if (decision === 'emergency') {
    msg.classList.add('chat-emergency');
    if (live) {
      msg.setAttribute('role', 'alert');
    }
  }
  msg.appendChild(el('p', 'chat-msg__text', data.reply || ''));

  if (decision === 'emergency' && line) {
    const call = el('a', 'chat-call', '立即拨打 ' + line);
    call.href = 'tel:' + line;
    msg.appendChild(call);
  }

  if (decision === 'clarify' && Array.isArray(data.options) && data.options.length) {
    msg.appendChild(optionsGroup(data.options, actions.onChoice));
  }

  if (decision === 'answer' && data.entry && data.entry.id) {
    msg.appendChild(el('p', 'chat-source',
      '答复依据：知识库条目 ' + data.entry.id + '（第' + data.entry.version + '版）'));
  }

  // 回访 of the answer, only while the conversation is live (not redrawn after a reload).
  if (live && decision === 'answer' && data.followup && data.followup.ticket_id && actions.onFollowup) {
    msg.appendChild(followupForm(data.followup.question, function (body) {
      return actions.onFollowup(data.followup.ticket_id, body);
    }));
  }

  if ((decision === 'forward' || decision === 'handoff') && data.prefill) {
    handOver(msg, data, actions.onUseForm);
  }

  append(msg);
  return msg;
}

function drawGreeting() {
  const msg = newMessage('bot');
  msg.classList.add('chat-greeting');
  msg.appendChild(el('p', 'chat-msg__text', GREETING));
  log().appendChild(msg);
}

/** Draws the greeting and the whole transcript again. */
export function drawAll(transcript, actions) {
  log().textContent = '';
  thinkingEl = null;
  drawGreeting();
  transcript.forEach(function (item) {
    if (item.who === 'citizen') {
      drawCitizen(item.text);
    } else if (item.data) {
      disableOldOptions();
      drawBot(item.data, false, actions);
    }
  });
  reveal(null);
}

/** Shows or removes the "正在思考…" placeholder at the end of the log. */
export function setThinking(on) {
  if (on) {
    thinkingEl = el('div', 'chat-thinking', '正在思考…');
    log().appendChild(thinkingEl);
    reveal(thinkingEl);
  } else if (thinkingEl) {
    if (thinkingEl.parentNode) {
      thinkingEl.parentNode.removeChild(thinkingEl);
    }
    thinkingEl = null;
  }
}
