/*
 * Beijing 12345 hotline - supervisor wall: the live connection.
 *
 * The desk's WebSocket (GET /api/v1/agent/ws, server/desk_routes.py desk_socket), as the agent desk
 * opens it (gateway/static/agent/socket.js connectWs): reconnects with exponential backoff and
 * jitter, and after repeated failures first asks /auth/me whether the session still exists (a 401
 * there shows the login view). It sends "ping" every 20 s (the server answers {"type": "pong"})
 * and treats a socket that stays silent for a minute as dead.
 *
 *   const live = new LiveSocket({ status(state), message(msg), opened(reconnect), checkSession() });
 *   live.start(); ... live.stop();
 *
 * state: 'connecting' (first attempt), 'open', 'down' (closed, a retry is scheduled).
 * The socket counts as open once the server has said something (its "hello" comes first): a
 * proxy that accepts the connection and drops it at once is still 'down', and keeps backing off.
 */

const MAX_DELAY_MS = 30000;
const PING_MS = 20000;
const SILENT_MS = 60000;

export class LiveSocket {
  constructor(hooks) {
    this.hooks = hooks;
    this.ws = null;
    this.wanted = false;
    this.attempt = 0;
    this.everOpened = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastHeard = 0;
    this.onOnline = () => this.now();
  }

  start() {
    this.wanted = true;
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  stop() {
    this.wanted = false;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.retryTimer = null;
    this.pingTimer = null;
    this.attempt = 0;
    this.everOpened = false;
    const ws = this.ws;
    this.ws = null;
    if (ws) { try { ws.close(1000, 'leave'); } catch (e) { /* ignore */ } }
  }

  // Reconnect at once (the network is back, the page became visible).
  now() {
    if (!this.wanted || this.ws) return;
    this.attempt = 0;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  status(state, title) {
    if (this.hooks.status) this.hooks.status(state, title || '');
  }

  connect() {
    this.retryTimer = null;
    if (!this.wanted || this.ws) return;
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/v1/agent/ws?watch=wall';  // a wall is not a desk online
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      this.closed();
      return;
    }
    this.ws = ws;
    this.status(this.everOpened ? 'down' : 'connecting');
    let heard = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.ping(ws), PING_MS);
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      if (!heard) {
        heard = true;
        const reconnect = this.everOpened;
        this.everOpened = true;
        this.attempt = 0;
        this.status('open');
        if (this.hooks.opened) this.hooks.opened(reconnect);
      }
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg && typeof msg.type === 'string' && msg.type !== 'pong' && this.hooks.message) this.hooks.message(msg);
    };
    ws.onerror = () => { /* a close event follows */ };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed();
    };
  }

  ping(ws) {
    if (this.ws !== ws) return;
    if (Date.now() - this.lastHeard > SILENT_MS) {  // half-open: no pong, no event
      this.ws = null;
      try { ws.close(4000, 'silent'); } catch (e) { /* ignore */ }
      this.closed();
      return;
    }
    try { ws.send('ping'); } catch (e) { /* the close event follows */ }
  }

  closed() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (!this.wanted) return;
    const n = this.attempt++;
    const base = Math.min(MAX_DELAY_MS, 1000 * Math.pow(2, n));
    const delay = Math.round(base / 2 + Math.random() * base / 2);
    this.status('down', '将在 ' + Math.ceil(delay / 1000) + ' 秒后重连');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.wanted) return;
      if (n < 1 || !this.hooks.checkSession) { this.connect(); return; }
      // Repeated failures may mean the session ended: ask before retrying (a 401 shows the login view).
      this.hooks.checkSession().then(() => this.connect(), (e) => {
        if (!e || e.status !== 401) this.connect();
      });
    }, delay);
  }
}
