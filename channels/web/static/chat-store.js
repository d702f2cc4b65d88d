/*
 * Consultation chat: the conversation kept in sessionStorage - a random session id (so a reload
 * continues the same conversation on the server) and the transcript drawn again after a reload.
 * sessionStorage may be blocked; the chat then lives for one page view.
 */
import { newIdempotencyKey } from './util.js';

const SESSION_KEY = 'bj12345.portal.chatSession';
const TRANSCRIPT_KEY = 'bj12345.portal.chatTranscript';
const MAX_STORED = 60;           // messages kept for redrawing after a reload
const SESSION_RE = /^[A-Za-z0-9_-]{8,64}$/;

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
  let raw = '';
  const c = window.crypto;
  if (c && typeof c.randomUUID === 'function') {
    try {
      raw = c.randomUUID();
    } catch (e) {
      raw = '';
    }
  }
  if (!raw) {
    raw = newIdempotencyKey();
  }
  let id = String(raw).replace(/[^A-Za-z0-9_-]/g, '').slice(0, 64);
  while (id.length < 8) {
    id += Math.floor(Math.random() * 36).toString(36); // last-resort padding
  }
  return id;
}

function loadSessionId() {
  const saved = storageGet(SESSION_KEY);
  if (saved && SESSION_RE.test(saved)) {
    return saved;
  }
  const id = newSessionId();
  storageSet(SESSION_KEY, id);
  return id;
}

function loadTranscript() {
  const raw = storageGet(TRANSCRIPT_KEY);
  if (!raw) {
    return [];
  }
  try {
    const list = JSON.parse(raw);
    return Array.isArray(list) ? list : [];
  } catch (e) {
    return [];
  }
}

/** The current conversation: {sessionId, transcript: [{who: 'citizen', text} | {who: 'bot', data}]}. */
export const conversation = {
  sessionId: '',
  transcript: []
};

export function loadConversation() {
  conversation.sessionId = loadSessionId();
  conversation.transcript = loadTranscript();
}

/** Stores the transcript (the newest MAX_STORED messages). */
export function saveTranscript() {
  let transcript = conversation.transcript;
  if (transcript.length > MAX_STORED) {
    transcript = conversation.transcript = transcript.slice(transcript.length - MAX_STORED);
  }
  storageSet(TRANSCRIPT_KEY, transcript.length ? JSON.stringify(transcript) : null);
}

/** Forgets the conversation: a new session id and an empty transcript. */
export function newConversation() {
  conversation.sessionId = newSessionId();
  storageSet(SESSION_KEY, conversation.sessionId);
  conversation.transcript = [];
  saveTranscript();
}
