/*
 * Beijing 12345 hotline - agent desktop: the channel panels (phone, partner hotlines, sign-language
 * video).
 *
 * Loads the panels GET /api/v1/agent/desk-panels lists (once per page, after the first login) and
 * fills in what AgentDesk offers them (desk.js lists it): open or show a ticket, the ticket on
 * screen, the action message line, the title prefix, partner names, and the desk's label and
 * formatting helpers.
 */
import { api } from '/static/common/staff.js';
import { AgentDesk, loadPanels } from './desk.js';
import { state } from './state.js';
import { KIND_LABELS, channelLabel, kindLabel, statusLabel } from './labels.js';
import { fmtPhone, timeEl } from './format.js';
import { ticketLink } from './parts.js';
import { updateNewCount } from './list.js';
import { loadDetail, openTicket, renderDetail, schedulePartnerNamesRender } from './detail.js';
import { actionMsg } from './actions.js';

var panelsLoading = null;

// Once per page: the panels the server lists, loaded after the first login (the list needs the session).
export function loadDeskPanels() {
  if (panelsLoading) return panelsLoading;
  panelsLoading = api('GET', '/agent/desk-panels').then(function (data) {
    return loadPanels(data && data.panels);
  }, function (e) {
    panelsLoading = null;  // try again at the next login
    if (window.console) console.error('desk panels:', e);
  });
  return panelsLoading;
}

// What the desk offers the channel panels on AgentDesk (desk.js); agent.js calls it once, before
// any panel loads.
export function fillAgentDesk() {
  Object.assign(AgentDesk, {
    // Filled by the partner panel once the directory is loaded (after the first ticket may be on screen):
    // a name arriving re-renders the detail, so history and 分类与承办单位 name the hotline.
    partnerNames: new Proxy({}, {
      set: function (names, id, name) {
        if (names[id] !== name) { names[id] = name; schedulePartnerNamesRender(); }
        return true;
      }
    }),
    actionMsg: function (text, kind) { actionMsg(text, kind); },
    reloadDetail: function () { if (state.selectedId) loadDetail(state.selectedId, { resetForm: false }); },
    KIND_LABELS: KIND_LABELS,
    openTicket: function (id, opts) { return openTicket(id, opts || { focus: false }); },
    selectedId: function () { return state.selectedId; },
    // True while the agent has unsaved corrections in the detail pane (do not switch tickets under them).
    editing: function () { return !!(state.correctDirty || state.dispatchDirty); },
    // Show a ticket just returned by an action, if the detail pane is on it.
    showTicket: function (t) {
      if (t && t.id && t.id === state.selectedId) renderDetail(t, { resetForm: false });
    },
    setTitlePrefix: function (prefix) { state.titlePrefix = prefix || ''; updateNewCount(); },
    fmtPhone: fmtPhone,
    kindLabel: kindLabel,
    channelLabel: channelLabel,
    statusLabel: statusLabel,
    timeEl: timeEl,
    ticketLink: ticketLink
  });
}
