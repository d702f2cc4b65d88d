/*
 * Beijing 12345 hotline - agent desktop: the desk's shared state.
 *
 * One object that the desk's modules read and change: the ticket list (summaries, order, rows,
 * unseen ids, paging), the ticket on screen (its id, the full ticket, unsent notes, unsaved
 * corrections), the 分类 taxonomy, the live connection, the timers and the title prefix. It is
 * cleared by agent.js (teardownDesk), list.js (resetList) and detail.js (closeDetail).
 */

export const state = {
  tickets: new Map(), // id -> summary
  order: [],          // ids, newest first
  rowEls: new Map(),  // id -> <li>
  unseen: new Set(),  // ids the agent has not looked at yet
  listLoaded: false,
  listSeq: 0,
  hasMore: false,
  selectedId: null,
  detail: null,       // full ticket currently shown
  detailSeq: 0,
  detailRefreshTimer: null,
  drafts: new Map(),  // ticket id -> unsent note text
  forwardedIds: new Set(), // forwarded from this desk (or answered 409) this session
  correctDirty: false,
  dispatchDirty: false, // the 分类与承办单位 correction form has unsaved edits
  taxonomy: null,       // [{name: 一级分类, children: [二级分类, …]}], loaded once
  taxonomyLoading: null,
  ws: null,
  wsWanted: false,
  wsAttempt: 0,
  wsTimer: null,
  wsEverOpened: false,
  intervals: [],
  titlePrefix: '',    // e.g. '【来电】' while the agent's phone rings (phone panel)
  announceQueue: [],
  announceTimer: null
};
