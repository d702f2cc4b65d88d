/*
 * Beijing 12345 hotline - agent desktop: the registry of channel panels.
 *
 * The desk (panels.js) learns which panels exist from GET /api/v1/agent/desk-panels
 * ({panels: [{channel, script, styles: [...]}]}), adds each panel's styles as <link> and loads its
 * script with import(). The panel module then plugs itself in:
 *
 *   import { AgentDesk } from '/static/agent/desk.js';
 *   AgentDesk.register({
 *     channel: 'video',            // the channel the panel serves (phone, partner, video, ...)
 *     events: 'video.',            // prefix of the desk-socket events it receives
 *     enter(),                     // the desk opened after a login
 *     teardown(),                  // logged out: clear everything
 *     socketOpen(reconnect),       // the desk socket (re)opened: reload what may have been missed
 *     event(msg),                  // a desk-socket event with the panel's prefix
 *     ticketRendered(ticket)       // the detail pane shows this ticket
 *   });
 *
 * Every hook is optional. A panel registered after the desk opened is entered at once (and told
 * about the open socket and the ticket on screen), so the load order does not matter.
 *
 * A panel builds its own markup when its module loads (before it registers) and puts it in one of
 * agent.html's generic slots with AgentDesk.mount(channel, slot, elements):
 *   topbar     the top bar, after the connection status (indicators, notices)
 *   workspace  the top of the workspace grid, before the ticket list (panes)
 *   list       the ticket list pane, above the list (pops)
 *   actions    the detail pane's actions column, after the note form (action forms)
 *   end        the end of the desk (screen-reader announcers)
 * Slots are `display: contents`, so what a panel adds lays out as a child of the slot's parent.
 * Within a slot, panels keep the order the server lists them in, whichever script loads first.
 *
 * What the desk offers the panels (filled in by panels.js fillAgentDesk before any panel loads):
 *   openTicket(id, {focus}), selectedId(), editing(), showTicket(ticket), reloadDetail(),
 *   actionMsg(text, kind), setTitlePrefix(prefix), partnerNames (id -> name; setting one
 *   re-renders the detail), KIND_LABELS, fmtPhone, kindLabel, channelLabel, statusLabel, timeEl,
 *   ticketLink.
 */

const panels = [];
// The channels the server listed, in its order (see mount).
const listed = [];
// What a late panel needs to catch up with.
const desk = { entered: false, socketOpen: false, ticket: null };

function call(panel, name, arg) {
  if (typeof panel[name] !== 'function') return;
  try { panel[name](arg); } catch (e) { console.error(e); }
}

export const AgentDesk = {
  register: function (panel) {
    if (!panel || !panel.channel) throw new Error('AgentDesk.register: a panel needs its channel');
    if (panels.some(function (p) { return p.channel === panel.channel; })) return;
    panels.push(panel);
    if (!desk.entered) return;
    call(panel, 'enter');
    if (desk.socketOpen) call(panel, 'socketOpen', false);
    if (desk.ticket) call(panel, 'ticketRendered', desk.ticket);
  },

  // The registered panels' channels, in registration order.
  channels: function () { return panels.map(function (p) { return p.channel; }); },

  // Puts a panel's elements (one or a list) into agent.html's slot [data-desk-slot="<slot>"].
  mount: function (channel, slot, elements) {
    const box = document.querySelector('[data-desk-slot="' + slot + '"]');
    if (!box) throw new Error('AgentDesk.mount: no desk slot ' + slot);
    const rank = function (c) { const i = listed.indexOf(c); return i === -1 ? listed.length : i; };
    const before = Array.prototype.find.call(box.children, function (el) {
      return rank(el.getAttribute('data-desk-panel')) > rank(channel);
    }) || null;
    [].concat(elements).forEach(function (el) {
      el.setAttribute('data-desk-panel', channel);
      box.insertBefore(el, before);
    });
  }
};

// For the desk's modules (agent.js, detail.js, socket.js): tells every panel (or the panels whose event prefix matches a socket event).
export const panelHooks = {
  enter: function () {
    desk.entered = true;
    panels.forEach(function (p) { call(p, 'enter'); });
  },
  teardown: function () {
    desk.entered = false;
    desk.socketOpen = false;
    desk.ticket = null;
    panels.forEach(function (p) { call(p, 'teardown'); });
  },
  socketOpen: function (reconnect) {
    desk.socketOpen = true;
    panels.forEach(function (p) { call(p, 'socketOpen', reconnect); });
  },
  socketClosed: function () { desk.socketOpen = false; },
  ticketRendered: function (t) {
    desk.ticket = t;
    panels.forEach(function (p) { call(p, 'ticketRendered', t); });
  },
  ticketClosed: function () { desk.ticket = null; },
  // True when a panel took the event.
  event: function (msg) {
    const type = msg && typeof msg.type === 'string' ? msg.type : '';
    let taken = false;
    panels.forEach(function (p) {
      if (p.events && type.indexOf(p.events) === 0) { taken = true; call(p, 'event', msg); }
    });
    return taken;
  }
};

// Adds the panels the server lists (GET /agent/desk-panels): their styles, then their scripts.
// Resolves when every script has loaded or failed (a broken panel does not stop the others).
export function loadPanels(list) {
  (list || []).forEach(function (p) { if (p.channel && listed.indexOf(p.channel) === -1) listed.push(p.channel); });
  return Promise.all((list || []).map(function (p) {
    (p.styles || []).forEach(function (href) {
      if (document.querySelector('link[rel="stylesheet"][href="' + href + '"]')) return;
      const link = document.createElement('link');
      link.rel = 'stylesheet';
      link.href = href;
      link.setAttribute('data-desk-panel', p.channel || '');
      document.head.appendChild(link);
    });
    if (!p.script) return null;
    return import(p.script).catch(function (e) { console.error('desk panel ' + p.channel + ':', e); });
  }));
}
