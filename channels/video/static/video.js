/*
 * 北京12345 手语视频服务 - the citizen's side of a video session.
 *
 * Camera and microphone → one RTCPeerConnection to the gateway (offer with all ICE candidates,
 * no trickle) → queue, then the sign-language agent's video; a text chat beside it; the
 * session's events (place in the queue, connected, chat, end) over a WebSocket that stays open
 * for the whole session. Backend: channels/video/routes.py.
 *
 * Untrusted text is inserted with textContent only. WebRTC helpers: /static/common/webrtc.js.
 */
import { closeMedia, createPeer, limitBitrate, offerWithCandidates, openCamera } from '/static/common/webrtc.js';

var API = '/api/v1/video';
var state = { config: null, pc: null, stream: null, ws: null, id: null, token: null, ticket: null, status: 'idle', ended: false };

function $(id) { return document.getElementById(id); }
function show(id, on) { $(id).hidden = !on; }
function setState(s) { state.status = s; $('main').setAttribute('data-state', s); }

function fail(message) {
  var el = $('video-error');
  el.textContent = message;
  el.hidden = false;
}

function fieldError(id, message) {
  var el = $(id + '-error');
  el.textContent = message || '';
  el.hidden = !message;
  var input = $(id === 'chat' ? 'chat-input' : id);
  if (input) { if (message) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid'); }
}

function call(method, path, body) {
  var headers = { 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (state.token) headers['X-Video-Token'] = state.token;
  return fetch(API + path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
    .then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var e = new Error(data.message || '系统繁忙，请稍后再试'); e.status = r.status; e.body = data; throw e; }
        return data;
      });
    });
}

function start() {
  $('video-error').hidden = true;
  fieldError('phone', '');
  var btn = $('start-video');
  btn.disabled = true;
  btn.textContent = '正在开启摄像头…';
  call('GET', '/config').then(function (cfg) {
    state.config = cfg;
    if (!cfg.enabled) throw new Error('手语视频服务暂未开通，请使用文字服务或拨打12345');
    if (!navigator.mediaDevices || !window.RTCPeerConnection) throw new Error('您的浏览器不支持视频通话，请使用最新版浏览器，或改用文字服务');
    // Many deaf citizens' devices have no working microphone: video alone is enough.
    return openCamera(cfg, { videoOnlyFallback: true }).catch(function () {
      throw new Error('无法使用摄像头，请在浏览器设置中允许本网站使用摄像头后重试');
    });
  }).then(function (stream) {
    state.stream = stream;
    $('local-video').srcObject = stream;
    var pc = createPeer(stream, state.config.ice_servers, $('remote-video'));
    state.pc = pc;
    btn.textContent = '正在申请…';
    return offerWithCandidates(pc).then(function (sdp) {
      var phone = $('phone').value.trim();
      return call('POST', '/sessions', { type: 'offer', sdp: sdp, phone: phone || null });
    });
  }).then(function (res) {
    state.id = res.session_id;
    state.token = res.token;
    state.ticket = res.ticket_id;
    $('ticket-id').textContent = res.ticket_id;
    show('ticket-ref', true);
    return state.pc.setRemoteDescription(res.answer).then(function () {
      limitBitrate(state.pc, state.config.max_bitrate_kbps);
      show('intro', false);
      show('session', true);
      setState('queued');
      showQueue(res.position);
      openEvents();
      $('chat-input').focus();
    });
  }).catch(function (e) {
    stopMedia();
    btn.disabled = false;
    btn.textContent = '开始视频';
    var fields = e.body && e.body.fields;
    if (fields && fields.length && fields[0].field === 'phone') fieldError('phone', fields[0].message);
    else fail(e.message || '无法开始视频，请稍后再试');
  });
}

function showQueue(position) {
  var el = $('queue-position');
  if (state.status !== 'queued' || !position) { el.hidden = true; return; }
  $('status-text').textContent = '正在为您接通手语坐席，请稍候';
  el.textContent = position === 1 ? '您是下一位' : '您前面还有 ' + (position - 1) + ' 位';
  el.setAttribute('data-position', String(position));
  el.hidden = false;
}

function openEvents() {
  var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + API + '/sessions/' +
    encodeURIComponent(state.id) + '/events?token=' + encodeURIComponent(state.token);
  var ws = new WebSocket(url);
  state.ws = ws;
  ws.onmessage = function (ev) {
    var msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    if (msg.type === 'status') onStatus(msg.session);
    else if (msg.type === 'connected') onConnected(msg.agent_name);
    else if (msg.type === 'chat') addChat(msg.message);
    else if (msg.type === 'queue_timeout') offerAlternatives(msg.message);
    else if (msg.type === 'warning') { $('warning').textContent = msg.message; show('warning', true); }
    else if (msg.type === 'ended') onEnded(msg.message, msg.ticket_id);
  };
  ws.onclose = function () {
    if (!state.ended) onEnded('与服务器的连接已断开，本次通话已结束，已记录的内容保存在工单中。', state.ticket);
  };
}

function onStatus(s) {
  if (!s) return;
  if (s.status === 'queued') { setState('queued'); showQueue(s.position); }
  else if (s.status === 'connected') onConnected(s.agent_name);
}

function onConnected(name) {
  if (state.status === 'connected') return;
  setState('connected');
  show('queue-position', false);
  show('alternatives', false);
  $('status-text').textContent = '已接通手语坐席' + (name ? '：' + name : '');
  $('remote-caption').textContent = '手语坐席';
}

function addChat(m) {
  var li = document.createElement('li');
  li.className = 'chat-line from-' + (m.who === 'agent' ? 'agent' : 'citizen');
  var who = document.createElement('span');
  who.className = 'chat-who';
  who.textContent = m.who === 'agent' ? '坐席' : '我';
  var text = document.createElement('span');
  text.className = 'chat-text';
  text.textContent = m.text;
  li.appendChild(who);
  li.appendChild(text);
  $('chat-log').appendChild(li);
  $('chat-log').scrollTop = $('chat-log').scrollHeight;
}

function sendChat(ev) {
  ev.preventDefault();
  var input = $('chat-input');
  var text = input.value.trim();
  if (!text) { fieldError('chat', '请输入文字'); return; }
  fieldError('chat', '');
  $('chat-send').disabled = true;
  call('POST', '/sessions/' + encodeURIComponent(state.id) + '/messages', { text: text }).then(function () {
    input.value = '';
  }, function (e) {
    fieldError('chat', e.message);
  }).then(function () { $('chat-send').disabled = false; input.focus(); });
}

function offerAlternatives(message) {
  if (state.status !== 'queued') return;
  if (message) $('alternatives-text').textContent = message;
  var phone = $('phone').value.trim();
  if (phone && !$('callback-phone').value) $('callback-phone').value = phone;
  show('alternatives', true);
  $('alternatives-heading').focus && $('alternatives-heading').setAttribute('tabindex', '-1');
  $('alternatives-heading').focus();
}

function requestCallback(ev) {
  ev.preventDefault();
  fieldError('callback', '');
  var phone = $('callback-phone').value.trim();
  if (!phone) { fieldError('callback', '请填写手机号'); return; }
  call('POST', '/sessions/' + encodeURIComponent(state.id) + '/callback', { phone: phone }).catch(function (e) {
    var fields = e.body && e.body.fields;
    fieldError('callback', fields && fields.length ? fields[0].message : e.message);
  });
}

function endSession() {
  $('end-video').disabled = true;
  call('POST', '/sessions/' + encodeURIComponent(state.id) + '/end', {}).catch(function (e) {
    $('end-video').disabled = false;
    fail(e.message);
  });
}

function stopMedia() {
  closeMedia(state.stream, state.pc);
  state.stream = null;
  state.pc = null;
}

function onEnded(message, ticketId) {
  if (state.ended) return;
  state.ended = true;
  setState('ended');
  stopMedia();
  if (state.ws) { try { state.ws.close(); } catch (e) { /* closed */ } }
  show('session', false);
  $('ended-message').textContent = message || '本次视频通话已结束。';
  if (ticketId) { $('ended-ticket-id').textContent = ticketId; show('ended-ticket', true); }
  show('ended', true);
  $('ended').focus();
}

function boot() {
  $('start-video').addEventListener('click', start);
  $('chat-form').addEventListener('submit', sendChat);
  $('chat-input').addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendChat(ev); }
  });
  $('end-video').addEventListener('click', endSession);
  $('callback-form').addEventListener('submit', requestCallback);
  $('keep-waiting').addEventListener('click', function () { show('alternatives', false); $('chat-input').focus(); });
}

boot();
