/*
 * The knowledge-base workspace (/kb): the tabs (知识条目, 待审核, 同义词, 导入导出).
 */
import { $ } from '/static/common/staff.js';
import { state } from './common.js';
import { loadQueue } from './review.js';
import { loadSynonyms } from './synonyms.js';

// ---------------------------------------------------------------------
// Tabs
// ---------------------------------------------------------------------

export const TABS = {
  entries: { tab: 'tab-entries', panel: 'panel-entries' },
  review: { tab: 'tab-review', panel: 'panel-review' },
  synonyms: { tab: 'tab-synonyms', panel: 'synonyms' },
  transfer: { tab: 'tab-transfer', panel: 'panel-transfer' }
};

export function switchTab(name, opts) {
  opts = opts || {};
  state.tab = name;
  Object.keys(TABS).forEach(function (k) {
    var on = k === name;
    var t = $(TABS[k].tab);
    t.setAttribute('aria-selected', on ? 'true' : 'false');
    t.tabIndex = on ? 0 : -1;
    $(TABS[k].panel).hidden = !on;
  });
  if (opts.focus) $(TABS[name].tab).focus();
  if (name === 'review') loadQueue();
  if (name === 'synonyms' && !state.synonymsLoaded) loadSynonyms();
}

export function onTabKeydown(ev) {
  var keys = { ArrowLeft: -1, ArrowRight: 1, Home: 'first', End: 'last' };
  if (!(ev.key in keys)) return;
  var names = Object.keys(TABS).filter(function (k) { return !$(TABS[k].tab).hidden; });
  var i = names.indexOf(state.tab);
  var k = keys[ev.key];
  var next = k === 'first' ? 0 : k === 'last' ? names.length - 1 : (i + k + names.length) % names.length;
  ev.preventDefault();
  switchTab(names[next], { focus: true });
}
