/*
 * Beijing 12345 hotline - agent desktop, phone panel: what the panel's modules write the same way.
 * The labels of a call's two legs (市民 / 坐席), durations and audio offsets as mm:ss, and the
 * caller's number as the banner, the call switcher and the ring announcement show it. Plain
 * functions of their arguments: no state, no DOM.
 */
import * as Staff from '/static/common/staff.js';
import { AgentDesk as Desk } from '/static/agent/desk.js';

var isBlank = Staff.isBlank;

export var LEG_LABELS = { caller: '市民', agent: '坐席' };

function pad2(n) { return (n < 10 ? '0' : '') + n; }

// Seconds -> mm:ss (h:mm:ss past an hour).
export function clock(sec) {
  sec = Math.max(0, Math.floor(Number(sec) || 0));
  var hh = Math.floor(sec / 3600), mm = Math.floor(sec % 3600 / 60), ss = sec % 60;
  return (hh ? hh + ':' + pad2(mm) : pad2(mm)) + ':' + pad2(ss);
}

export function callerText(live) {
  if (!isBlank(live.caller)) return Desk.fmtPhone(live.caller);
  return live.caller_masked || '未知号码';
}
