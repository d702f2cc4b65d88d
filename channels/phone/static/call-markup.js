/*
 * Beijing 12345 hotline - agent desktop, phone panel: the panel's markup, built once when the panel
 * loads and mounted in the desk's generic slots (AgentDesk.mount): the 通话 indicator and the
 * speech-model notice in the top bar, the call panel on top of the workspace (hidden while there
 * is no call: banner, status, earlier calls, the transcript, the pre-filled fields and the
 * suggestions) and the screen-reader announcer. Empty: the other modules fill it in by id.
 */
import * as Staff from '/static/common/staff.js';
import { AgentDesk as Desk } from '/static/agent/desk.js';

var h = Staff.h;

export function mountCallPanel() {
  Desk.mount('phone', 'topbar', [
    h('button', { id: 'calls-indicator', type: 'button', class: 'calls-indicator', hidden: true, 'aria-controls': 'call-panel' },
      '通话 ', h('span', { id: 'calls-indicator-num' }, '0')),
    // Shown when the gateway runs without a speech model (GET /api/v1/agent/calls, phone.transcription).
    h('span', { id: 'asr-off-notice', class: 'asr-off-notice', role: 'status', hidden: true }, '通话实时转写未启用：语音模型未安装')
  ]);
  // Screen pop, then the live call.
  Desk.mount('phone', 'workspace', h('section', {
    id: 'call-panel', class: 'pane call-panel', 'aria-labelledby': 'call-heading', 'data-state': 'ringing', hidden: true
  },
    h('div', { id: 'call-switch', class: 'call-switch', role: 'group', 'aria-label': '切换通话', hidden: true }),
    h('div', { class: 'call-banner' },
      h('h2', { id: 'call-heading', class: 'call-heading' }, '来电'),
      h('div', { class: 'call-who' },
        h('span', { id: 'call-number', class: 'call-number' }),
        h('span', { id: 'call-name', class: 'call-name' })),
      h('span', { id: 'call-queue', class: 'call-fact' }),
      h('span', { id: 'call-elapsed', class: 'call-fact call-elapsed' }),
      h('span', { class: 'spacer' }),
      h('span', { class: 'call-ticket' }, '工单 ',
        h('button', { id: 'call-ticket-link', type: 'button', class: 'linkish', 'data-open-ticket': '', title: '在右侧打开该工单' })),
      h('button', { id: 'call-close', type: 'button', class: 'btn btn--small', hidden: true }, '关闭')),
    h('div', { id: 'call-status', class: 'call-status', role: 'status', 'aria-live': 'polite' }),
    h('div', { id: 'call-earlier', class: 'call-earlier', hidden: true },
      h('h3', { id: 'call-earlier-heading', class: 'call-earlier-title' }),
      h('ul', { id: 'call-earlier-list', class: 'call-earlier-list', 'aria-labelledby': 'call-earlier-heading' })),
    h('div', { id: 'call-body', class: 'call-body', hidden: true },
      h('section', { class: 'call-main', 'aria-labelledby': 'call-transcript-heading' },
        h('div', { class: 'call-sub-head' },
          h('h3', { id: 'call-transcript-heading', class: 'block-title' }, '实时转写'),
          h('span', { class: 'call-legend', 'aria-hidden': 'true' },
            h('span', { class: 'legend-caller' }, '市民'), h('span', { class: 'legend-agent' }, '坐席')),
          h('span', { id: 'call-lag', class: 'call-lag', role: 'status', hidden: true })),
        h('ol', {
          id: 'call-transcript', class: 'call-transcript', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
          'aria-labelledby': 'call-transcript-heading', tabindex: '0'
        }),
        h('button', { id: 'call-follow', type: 'button', class: 'call-follow', hidden: true }, '回到最新 ↓')),
      h('div', { class: 'call-side' },
        h('section', { class: 'call-block', 'aria-labelledby': 'call-prefill-heading' },
          h('h3', { id: 'call-prefill-heading', class: 'block-title' }, '自动填写 ', h('span', { class: 'muted' }, '（据通话转写，请核对）')),
          h('div', { id: 'call-prefill', class: 'call-prefill' })),
        h('section', { class: 'call-block', 'aria-labelledby': 'call-suggestions-heading' },
          h('h3', { id: 'call-suggestions-heading', class: 'block-title' }, '知识库推荐答复'),
          h('ol', { id: 'call-suggestions', class: 'call-suggestions' }))))));
  // Screen-reader announcements for incoming calls and their end.
  Desk.mount('phone', 'end', h('div', { id: 'call-announcer', class: 'sr-only', 'aria-live': 'assertive', 'aria-atomic': 'true' }));
}
