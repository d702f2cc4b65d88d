/*
 * Beijing 12345 hotline - agent desktop: small elements the panes share.
 *
 * Channel, kind and status chips, the 保密 badge, a titled detail section, a key-value list, an
 * empty-state line, and a ticket id that opens the ticket when clicked ([data-open-ticket], handled
 * by agent.js). Text goes in with textContent (Staff.h).
 */
import { h } from '/static/common/staff.js';
import { channelLabel, kindLabel, statusLabel } from './labels.js';

export function channelChip(c) { return h('span', { class: 'chip chip--channel c-' + (c || 'none') }, channelLabel(c)); }
export function kindChip(k, label) { return h('span', { class: 'chip chip--kind k-' + (k || 'none') }, kindLabel(k, label)); }
export function statusChip(s, label) { return h('span', { class: 'chip chip--status s-' + (s || 'none') }, statusLabel(s, label)); }
export function secretBadge(long) {
  return h('span', { class: 'badge badge--secret confidential-badge', title: '诉求人要求对个人信息保密' },
    long ? '保密 · 不得泄露诉求人信息' : '保密');
}

export function section(title, body, cls) {
  return h('section', { class: 'd-section' + (cls ? ' ' + cls : '') },
    h('h3', { class: 'd-title' }, title), body);
}

export function kv(pairs) {
  var dl = h('dl', { class: 'kv' });
  pairs.forEach(function (p) {
    if (!p) return;
    dl.appendChild(h('dt', null, p[0]));
    dl.appendChild(h('dd', null, p[1]));
  });
  return dl;
}

export function empty(text) { return h('p', { class: 'empty' }, text); }

export function ticketLink(id) {
  return h('button', {
    type: 'button', class: 'linkish', 'data-open-ticket': id, title: '打开工单 ' + id
  }, String(id));
}
