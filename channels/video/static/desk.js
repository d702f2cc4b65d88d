/*
 * Beijing 12345 hotline - agent desktop: the sign-language video panel.
 *
 * Waiting video requests (accept / decline) for agents flagged sign_language, then the live
 * session: the citizen's video and the agent's own, the text chat, ending the call and filing
 * the ticket (content and kind; the recording and the chat transcript are attached by the
 * gateway when the session ends). Backend: channels/video/ (routes.py, service.py), events
 * `video.*` on the desk socket.
 *
 * Served at /static/video/desk.js (styles: desk.css); the desk loads it when
 * GET /api/v1/agent/desk-panels lists it, and it plugs in with AgentDesk.register()
 * (/static/agent/desk.js); its markup is built here (markup()) and mounted in the desk's
 * workspace slot. WebRTC helpers: /static/common/webrtc.js (shared with the citizen's
 * page, video.js).
 *
 * All untrusted text is inserted with textContent via h(); innerHTML is never used.
 */
import * as Staff from '/static/common/staff.js';
import * as DeskConfirm from '/static/agent/confirm.js';
import { AgentDesk as Desk } from '/static/agent/desk.js';
import { closeMedia, createPeer, offerWithCandidates, openCamera } from '/static/common/webrtc.js';

var $ = Staff.$, h = Staff.h, api = Staff.api, setMsg = Staff.setMsg, withBusy = Staff.withBusy;
var WHO = { citizen: '市民', agent: '坐席' };
var KIND_OPTIONS = [['', '待分类'], ['consultation', '咨询'], ['help', '求助'], ['complaint', '投诉'], ['report', '举报'], ['suggestion', '建议']];

var state = { active: false, capable: false, current: null, pc: null, stream: null, loadSeq: 0, ended: false };

function msg(text, kind) { setMsg($('video-msg'), text, kind); }

function load() {
  var seq = ++state.loadSeq;
  return api('GET', '/agent/video/sessions').then(function (data) {
    if (seq !== state.loadSeq || !state.active) return;
    state.capable = !!data.sign_language;
    // Sign-language agents always; supervisors while there is something to watch.
    var busy = data.waiting.length > 0 || data.connected.length > 0;
    var visible = state.capable || (Staff.hasRole('supervisor') && busy) || !!state.current;
    $('video-panel').hidden = !visible;
    $('workspace').classList.toggle('has-video', visible);
    $('video-count').textContent = data.waiting.length ? '（等待 ' + data.waiting.length + '）' : '';
    $('video-capacity').textContent = '进行中 ' + data.active + ' / ' + data.max_sessions;
    renderWaiting(data.waiting, state.current ? [] : data.connected);
  }, function (e) {
    if (e.status !== 401 && e.status !== 503) msg('视频请求加载失败：' + e.message, 'error');
  });
}

function renderWaiting(list, connected) {
  var ul = $('video-waiting');
  // Connected sessions this desk does not hold the media of (a reload, or a supervisor's view):
  // they can still be ended, so the ticket gets its recording at once.
  var others = connected.map(function (s) {
    return h('li', { class: 'video-request video-request--connected', 'data-session-id': s.session_id },
      h('span', { class: 'video-pos' }, '通话中'),
      h('span', { class: 'mono' }, s.ticket_id || ''),
      h('span', { class: 'muted' }, s.agent_name || s.agent || ''),
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'btn btn--small video-end-other', 'data-session-id': s.session_id }, '结束通话'));
  });
  if (!list.length && others.length) { ul.replaceChildren.apply(ul, others); return; }
  if (!list.length) {
    ul.replaceChildren(h('li', { class: 'empty' }, state.capable ? '暂无等待接听的视频请求' : '暂无等待的视频请求'));
    return;
  }
  ul.replaceChildren.apply(ul, list.map(function (s) {
    var waited = s.queued_at_ms ? Math.max(0, Math.round((Date.now() - s.queued_at_ms) / 1000)) : 0;
    var actions = state.capable && !state.current ? [
      h('button', { type: 'button', class: 'btn btn--primary btn--small video-accept', 'data-session-id': s.session_id }, '接听'),
      h('button', { type: 'button', class: 'btn btn--small video-decline', 'data-session-id': s.session_id }, '拒绝')
    ] : [];
    return h('li', { class: 'video-request', 'data-session-id': s.session_id },
      h('span', { class: 'video-pos' }, '第 ' + s.position + ' 位'),
      h('span', { class: 'mono' }, s.ticket_id || ''),
      h('span', { class: 'muted' }, '已等待 ' + waited + ' 秒'),
      h('span', { class: 'spacer' }),
      actions);
  }).concat(others));
}

function endOther(btn) {
  var id = btn.getAttribute('data-session-id');
  var row = btn.closest('li');
  var ticket = row ? (row.querySelector('.mono') || {}).textContent : '';
  DeskConfirm.ask({
    title: '结束他人的视频通话',
    text: '确定结束' + (ticket ? '工单 ' + ticket + ' 的' : '这个') + '视频通话？市民和接听坐席的通话将立即中断，录像归档到工单。',
    warning: '通话结束后无法恢复，市民需要重新申请视频服务。',
    ok: '确定结束'
  }).then(function (yes) { if (yes) sendEndOther(btn, id); });
}

function sendEndOther(btn, id) {
  withBusy(btn, function () {
    return api('POST', '/agent/video/sessions/' + encodeURIComponent(id) + '/end', {}).then(function () {
      msg('已结束该视频通话，录像已归档到工单', 'ok');
      return load();
    }, function (e) { msg('结束失败：' + e.message, 'error'); });
  });
}

function accept(btn) {
  var id = btn.getAttribute('data-session-id');
  withBusy(btn, function () {
    msg('正在开启摄像头…');
    return api('GET', '/video/config').then(function (cfg) {
      return openCamera(cfg).then(function (stream) {
        state.stream = stream;
        // Receives the citizen's audio even without sending any.
        var pc = createPeer(stream, cfg.ice_servers, $('video-remote'));
        state.pc = pc;
        return offerWithCandidates(pc)
          .then(function (sdp) { return api('POST', '/agent/video/sessions/' + encodeURIComponent(id) + '/accept', { type: 'offer', sdp: sdp }); })
          .then(function (res) {
            return pc.setRemoteDescription({ type: 'answer', sdp: res.sdp }).then(function () { openSession(res.session, res.chat || []); });
          });
      });
    }).catch(function (e) {
      stopMedia();
      msg(e && e.status ? '接听失败：' + e.message : '无法使用摄像头，请检查设备后重试', 'error');
      load();
    });
  });
}

function decline(btn) {
  var id = btn.getAttribute('data-session-id');
  withBusy(btn, function () {
    return api('POST', '/agent/video/sessions/' + encodeURIComponent(id) + '/decline', {}).then(function () {
      msg('已拒绝该视频请求，其他手语坐席仍可接听');
      return load();
    }, function (e) { msg('操作失败：' + e.message, 'error'); });
  });
}

function openSession(session, chat) {
  state.current = session;
  state.ended = false;
  $('video-local').srcObject = state.stream;
  $('video-panel').setAttribute('data-state', 'connected');
  $('video-session').hidden = false;
  $('video-waiting').hidden = true;
  $('video-status').textContent = '通话中 · 工单 ' + (session.ticket_id || '');
  $('video-chat-log').replaceChildren();
  chat.forEach(addChat);
  $('video-file-content').value = '';
  setMsg($('video-file-msg'), '');
  msg('');
  if (session.ticket_id && !Desk.editing()) Desk.openTicket(session.ticket_id, { focus: false });
  $('video-chat-input').focus();
}

function addChat(m) {
  var li = h('li', { class: 'video-chat-line from-' + (m.who === 'agent' ? 'agent' : 'citizen') },
    h('span', { class: 'video-chat-who' }, WHO[m.who] || m.who), h('span', { class: 'video-chat-text' }, m.text));
  $('video-chat-log').appendChild(li);
  $('video-chat-log').scrollTop = $('video-chat-log').scrollHeight;
}

function sendChat(ev) {
  ev.preventDefault();
  var input = $('video-chat-input');
  var text = input.value.trim();
  if (!text || !state.current) return;
  withBusy($('video-chat-send'), function () {
    return api('POST', '/agent/video/sessions/' + encodeURIComponent(state.current.session_id) + '/messages', { text: text })
      .then(function () { input.value = ''; input.focus(); }, function (e) { msg('发送失败：' + e.message, 'error'); });
  });
}

function fileTicket(ev) {
  ev.preventDefault();
  if (!state.current) return;
  var content = $('video-file-content').value.trim();
  if (!content) { setMsg($('video-file-msg'), '请填写诉求内容', 'error'); $('video-file-content').focus(); return; }
  var body = { content: content, kind: $('video-file-kind').value || null };
  withBusy($('video-file-submit'), function () {
    return api('POST', '/agent/video/sessions/' + encodeURIComponent(state.current.session_id) + '/file', body).then(function (t) {
      setMsg($('video-file-msg'), '已提交工单 ' + t.id + (state.ended ? '' : '，通话结束后录像和文字记录将自动附到工单'), 'ok');
      Desk.showTicket(t);
    }, function (e) { setMsg($('video-file-msg'), '提交失败：' + e.message, 'error'); });
  });
}

function endCall() {
  if (!state.current || state.ended) return;
  var session = state.current;
  DeskConfirm.ask({
    title: '结束视频通话',
    text: '确定结束与市民的视频通话' + (session.ticket_id ? '（工单 ' + session.ticket_id + '）' : '') + '？录像和文字记录将归档到工单。',
    warning: '通话结束后无法恢复，市民需要重新申请视频服务。',
    ok: '确定结束'
  }).then(function (yes) {
    if (yes && state.current === session && !state.ended) sendEnd();
  });
}

function sendEnd() {
  withBusy($('video-end'), function () {
    return api('POST', '/agent/video/sessions/' + encodeURIComponent(state.current.session_id) + '/end', {})
      .catch(function (e) { msg('结束失败：' + e.message, 'error'); });
  });
}

function onEnded(session, message) {
  if (!state.current || session.session_id !== state.current.session_id) return;
  state.ended = true;
  stopMedia();
  $('video-panel').setAttribute('data-state', 'ended');
  $('video-status').textContent = '通话已结束 · 工单 ' + (session.ticket_id || '');
  msg(message || '通话已结束', 'ok');
  var close = h('button', { type: 'button', class: 'btn btn--small', id: 'video-close' }, '关闭');
  close.addEventListener('click', closeSession);
  $('video-status').appendChild(close);
  if (session.ticket_id && Desk.selectedId() === session.ticket_id) Desk.openTicket(session.ticket_id, { focus: false });
}

function closeSession() {
  state.current = null;
  state.ended = false;
  $('video-session').hidden = true;
  $('video-waiting').hidden = false;
  $('video-panel').setAttribute('data-state', 'idle');
  $('video-remote').srcObject = null;
  $('video-local').srcObject = null;
  msg('');
  load();
}

function stopMedia() {
  closeMedia(state.stream, state.pc);
  state.stream = null;
  state.pc = null;
}

// The panel (hidden until there is something to show): waiting requests, then the live session.
function markup() {
  Desk.mount('video', 'workspace', h('section', {
    id: 'video-panel', class: 'pane video-panel', 'aria-labelledby': 'video-heading', 'data-state': 'idle', hidden: true
  },
    h('div', { class: 'pane-head' },
      h('h2', { id: 'video-heading', class: 'pane-title' }, '手语视频'),
      h('span', { id: 'video-count', class: 'count' }),
      h('span', { class: 'spacer' }),
      h('span', { id: 'video-capacity', class: 'muted' })),
    h('p', { id: 'video-msg', class: 'msg', role: 'status', 'aria-live': 'polite' }),
    h('ul', { id: 'video-waiting', class: 'video-waiting', 'aria-label': '等待接听的视频请求' }),
    h('div', { id: 'video-session', class: 'video-session', hidden: true },
      h('div', { class: 'video-media' },
        h('video', { id: 'video-remote', autoplay: true, playsinline: true, 'aria-label': '市民的视频' }),
        h('video', { id: 'video-local', autoplay: true, playsinline: true, muted: true, 'aria-label': '您自己的画面' }),
        h('div', { class: 'video-controls' },
          h('span', { id: 'video-status', class: 'video-status', role: 'status' }),
          h('button', { id: 'video-end', type: 'button', class: 'btn btn--warn' }, '结束通话'))),
      h('div', { class: 'video-side' },
        h('h3', { id: 'video-chat-heading', class: 'block-title' }, '文字交流'),
        h('ol', {
          id: 'video-chat-log', class: 'video-chat-log', role: 'log', 'aria-live': 'polite',
          'aria-labelledby': 'video-chat-heading', tabindex: '0'
        }),
        h('form', { id: 'video-chat-form', class: 'video-chat-form' },
          h('label', { for: 'video-chat-input', class: 'sr-only' }, '输入文字消息'),
          h('input', { id: 'video-chat-input', type: 'text', maxlength: '500', autocomplete: 'off', placeholder: '输入文字，回车发送' }),
          h('button', { id: 'video-chat-send', type: 'submit', class: 'btn btn--small' }, '发送')),
        h('form', { id: 'video-file-form', class: 'video-file-form' },
          h('h3', { class: 'block-title' }, '记录诉求并提交工单'),
          h('label', { for: 'video-file-content' }, '诉求内容'),
          h('textarea', { id: 'video-file-content', rows: '3', maxlength: '2000', required: true }),
          h('label', { for: 'video-file-kind' }, '诉求类型'),
          h('select', { id: 'video-file-kind' }, KIND_OPTIONS.map(function (o) { return h('option', { value: o[0] }, o[1]); })),
          h('button', { id: 'video-file-submit', type: 'submit', class: 'btn btn--primary' }, '提交工单'),
          h('p', { id: 'video-file-msg', class: 'msg', role: 'status', 'aria-live': 'polite' }))))));
  // The muted attribute only sets the default; the property is what keeps the own picture silent.
  $('video-local').muted = true;
}

markup();

function bind() {
  $('video-waiting').addEventListener('click', function (ev) {
    var a = ev.target.closest('button.video-accept');
    if (a) { accept(a); return; }
    var d = ev.target.closest('button.video-decline');
    if (d) { decline(d); return; }
    var o = ev.target.closest('button.video-end-other');
    if (o) endOther(o);
  });
  $('video-chat-form').addEventListener('submit', sendChat);
  $('video-file-form').addEventListener('submit', fileTicket);
  $('video-end').addEventListener('click', endCall);
}

Desk.register({
  channel: 'video',
  events: 'video.',
  enter: function () { state.active = true; load(); },
  teardown: function () {
    state.active = false;
    stopMedia();
    state.current = null;
    $('video-panel').hidden = true;
    $('workspace').classList.remove('has-video');
  },
  socketOpen: function () { load(); },
  event: function (m) {
    if (m.type === 'video.chat') {
      if (state.current && m.session_id === state.current.session_id) addChat(m.message);
      return;
    }
    if (m.type === 'video.ended') onEnded(m.session, m.message);
    load();
  }
});

bind();
