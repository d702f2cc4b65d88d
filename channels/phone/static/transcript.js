/*
 * Beijing 12345 hotline - agent desktop, phone panel: the live transcript of the call shown. Finals
 * in time order (each leg's utterances placed by their start, then their index), each leg's current
 * partial after them, redrawn in place as it changes; the view follows the newest line unless the
 * agent scrolled up ("回到最新" brings it back); "来源" scrolls to and highlights the utterance a
 * pre-filled value came from; and the decoding-lag indicator. The <li> of each final and partial
 * are kept in state.segEls / state.partialEls so an event touches only its own line.
 */
import * as Staff from '/static/common/staff.js';
import { state } from './calls-model.js';
import { LEG_LABELS, clock } from './call-format.js';

var $ = Staff.$, h = Staff.h, isBlank = Staff.isBlank;
var FOLLOW_SLACK_PX = 40; // "at the bottom" if within this of it

export function transcriptBox() { return $('call-transcript'); }

function atBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight <= FOLLOW_SLACK_PX; }

// Changes the transcript; keeps it scrolled to the newest line unless the agent scrolled up.
export function mutateTranscript(fn) {
  var box = transcriptBox();
  var stick = state.follow;
  fn();
  if (stick) { box.scrollTop = box.scrollHeight; $('call-follow').hidden = true; }
  else $('call-follow').hidden = atBottom(box);
}

function segKey(start, index) { return [Number(start) || 0, index]; }
function keyLE(a, b) { return a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]); }

function finalEl(index, seg) {
  var leg = LEG_LABELS[seg.leg] ? seg.leg : 'caller';
  var low = typeof seg.confidence === 'number' && seg.confidence < 0.6;
  return h('li', {
    class: 'seg final leg-' + leg + (low ? ' low-confidence' : ''), 'data-index': index, 'data-leg': leg,
    'data-start': Number(seg.start) || 0, tabindex: '-1'
  },
  h('span', { class: 'seg-who' }, LEG_LABELS[leg]),
  h('span', { class: 'seg-time' }, clock(seg.start)),
  h('span', { class: 'seg-text' }, isBlank(seg.text) ? '（无法识别）' : String(seg.text)),
  low ? h('span', { class: 'seg-low' }, '（识别置信度低）') : null);
}

export function addFinalEl(index, seg) {
  var box = transcriptBox();
  var old = state.segEls.get(index);
  if (old) { old.replaceWith(finalEl(index, seg)); state.segEls.set(index, box.querySelector('li.final[data-index="' + index + '"]')); return; }
  var li = finalEl(index, seg);
  var key = segKey(seg.start, index);
  var finals = box.querySelectorAll('li.final');
  var after = null;
  for (var i = finals.length - 1; i >= 0; i--) {
    var k = segKey(finals[i].getAttribute('data-start'), Number(finals[i].getAttribute('data-index')));
    if (keyLE(k, key)) { after = finals[i]; break; }
  }
  if (after) box.insertBefore(li, after.nextSibling);
  else if (finals.length) box.insertBefore(li, finals[0]);
  else box.insertBefore(li, box.querySelector('li.partial'));
  state.segEls.set(index, li);
}

// The leg's current words, after all finals; replaced in place as they change.
export function renderPartialEl(c, leg) {
  var box = transcriptBox();
  var p = c.partials[leg];
  var el = state.partialEls[leg];
  if (!p) {
    if (el) el.remove();
    delete state.partialEls[leg];
    return;
  }
  if (!el) {
    // Hidden from screen readers: they hear each utterance once, when it is final.
    el = h('li', { class: 'seg partial leg-' + leg, 'data-leg': leg, 'aria-hidden': 'true' },
      h('span', { class: 'seg-who' }, LEG_LABELS[leg]),
      h('span', { class: 'seg-time' }, '识别中'),
      h('span', { class: 'seg-text' }));
    box.appendChild(el);
    state.partialEls[leg] = el;
  }
  el.querySelector('.seg-text').textContent = p.text;
}

export function renderPartial(c, leg) {
  mutateTranscript(function () { renderPartialEl(c, leg); });
}

export function renderPartials(c) {
  mutateTranscript(function () { Object.keys(LEG_LABELS).forEach(function (leg) { renderPartialEl(c, leg); }); });
}

export function renderTranscript(c) {
  var box = transcriptBox();
  box.replaceChildren();
  state.segEls.clear();
  state.partialEls = {};
  var idx = Array.from(c.finals.keys()).sort(function (a, b) {
    var sa = Number(c.finals.get(a).start) || 0, sb = Number(c.finals.get(b).start) || 0;
    return sa - sb || a - b;
  });
  idx.forEach(function (i) {
    var li = finalEl(i, c.finals.get(i));
    box.appendChild(li);
    state.segEls.set(i, li);
  });
  Object.keys(LEG_LABELS).forEach(function (leg) { renderPartialEl(c, leg); });
  state.follow = true;
  box.scrollTop = box.scrollHeight;
  $('call-follow').hidden = true;
}

function onTranscriptScroll() {
  state.follow = atBottom(transcriptBox());
  if (state.follow) $('call-follow').hidden = true;
}

function followLatest() {
  var box = transcriptBox();
  state.follow = true;
  box.scrollTop = box.scrollHeight;
  $('call-follow').hidden = true;
  box.focus();
}

// "来源": scroll to and highlight the utterance a value came from.
export function showSource(index) {
  var el = state.segEls.get(index);
  if (!el) return false;
  var box = transcriptBox();
  // Only the transcript scrolls: the panel and the page stay where they are.
  box.scrollTop = Math.max(0, el.offsetTop - box.offsetTop - (box.clientHeight - el.offsetHeight) / 2);
  state.follow = atBottom(box); // new words no longer pull the view down, unless this was the end anyway
  $('call-follow').hidden = state.follow;
  el.classList.remove('is-source');
  void el.offsetWidth; // restart the highlight
  el.classList.add('is-source');
  el.focus({ preventScroll: true });
  setTimeout(function () { el.classList.remove('is-source'); }, 4000);
  return true;
}

export function renderLag(c) {
  var el = $('call-lag');
  var worst = 0, behind = false, legs = [];
  Object.keys(c.lag).forEach(function (leg) {
    var l = c.lag[leg];
    if (l && l.behind) { behind = true; worst = Math.max(worst, l.seconds); legs.push(LEG_LABELS[leg] || leg); }
  });
  if (!behind && c.lagFromLive > 0 && !c.ended) { behind = true; worst = c.lagFromLive; }
  el.hidden = !behind;
  el.textContent = behind ? '转写延迟约 ' + Math.max(1, Math.round(worst)) + ' 秒' : '';
  el.title = behind ? '语音识别跟不上通话' + (legs.length ? '（' + legs.join('、') + '一侧）' : '') + '，文字会稍后补上' : '';
}

export function bindTranscript() {
  $('call-transcript').addEventListener('scroll', onTranscriptScroll, { passive: true });
  $('call-follow').addEventListener('click', followLatest);
}
