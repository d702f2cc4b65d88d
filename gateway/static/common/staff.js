/*
 * Beijing 12345 hotline - what the staff pages share: the agent desk (/agent, agent.js) and
 * the knowledge-base editor (/kb, /static/kb/). An ES module: pages import what they use,
 * e.g. `import { $, h, api } from '/static/common/staff.js'`.
 *
 * Plain browser JS, no build step, no external dependencies.
 * Sessions and CSRF: gateway/auth.py; login routes: gateway/auth.py, server/desk_routes.py.
 *
 * All untrusted text is inserted with textContent via h(); innerHTML is never used.
 */
import * as staffModule from './staff.js';

var API = '/api/v1';

// The page's settings, from Staff.start().
var page = {};
var session = { user: null, csrf: null, expiring: false };

var ROLE_LABELS = {
  agent: '坐席', supervisor: '值班长', admin: '管理员',
  kb_editor: '知识库编辑', kb_reviewer: '知识库审核'
};
var KIND_LABELS = { consultation: '咨询', help: '求助', complaint: '投诉', report: '举报', suggestion: '建议' };
var URGENCY_LABELS = {
  normal: '一般（7日）', utilities: '水电气热（24小时）', complex: '复杂（15日）', emergency: '紧急（2小时）'
};

// ---------------------------------------------------------------------
// Small DOM helpers
// ---------------------------------------------------------------------

function $(id) { return document.getElementById(id); }

// h('div', {class: 'x', 'data-id': 1, onclick: fn}, 'text', child, [more])
function h(tag, props) {
  var el = document.createElement(tag);
  if (props) {
    Object.keys(props).forEach(function (k) {
      var v = props[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = String(v);
      else if (k.slice(0, 2) === 'on' && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    });
  }
  for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
  return el;
}

function append(el, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
  if (typeof child === 'string' || typeof child === 'number') {
    el.appendChild(document.createTextNode(String(child)));
    return;
  }
  el.appendChild(child);
}

// Node.replaceChildren() would turn null into the text "null"; skip empties.
function replaceKids(el, kids) {
  el.replaceChildren();
  append(el, kids);
}

function setMsg(el, text, kind) {
  if (!el) return;
  el.textContent = text || '';
  el.className = 'msg' + (kind ? ' msg--' + kind : '');
}

function isBlank(v) { return v === null || v === undefined || v === ''; }
function dash(v) { return isBlank(v) ? '—' : String(v); }

// Disables btn while fn's promise runs; the page's onBusy() runs after each switch.
function withBusy(btn, fn) {
  if (btn) { btn.disabled = true; btn.setAttribute('aria-busy', 'true'); }
  if (page.onBusy) page.onBusy();
  return Promise.resolve().then(fn).finally(function () {
    if (btn) { btn.disabled = false; btn.removeAttribute('aria-busy'); }
    if (page.onBusy) page.onBusy();
  });
}

// ---------------------------------------------------------------------
// Time (always Asia/Shanghai)
// ---------------------------------------------------------------------

var tzFormatter = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit',
  hourCycle: 'h23'
});

// Accepts ISO strings, epoch milliseconds, or epoch seconds.
function toDate(v) {
  if (isBlank(v)) return null;
  if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v)) v = Number(v);
  var d;
  if (typeof v === 'number') d = new Date(v < 1e11 ? v * 1000 : v);
  else d = new Date(v);
  return isNaN(d.getTime()) ? null : d;
}

function toMs(v) {
  var d = toDate(v);
  return d ? d.getTime() : 0;
}

function tzParts(d) {
  var o = {};
  tzFormatter.formatToParts(d).forEach(function (p) { o[p.type] = p.value; });
  if (o.hour === '24') o.hour = '00';
  return o;
}

// style 'short': 11-23 09:05; 'long': 2025-11-23 09:05; 'full': 2025-11-23 09:05:07（北京时间）.
// No time: '—', or '' for 'full' (used as a title).
function formatTime(v, style) {
  var d = toDate(v);
  if (!d) return style === 'full' ? '' : '—';
  var p = tzParts(d);
  var hm = p.hour + ':' + p.minute;
  if (style === 'short') return p.month + '-' + p.day + ' ' + hm;
  var date = p.year + '-' + p.month + '-' + p.day;
  if (style === 'full') return date + ' ' + hm + ':' + p.second + '（北京时间）';
  return date + ' ' + hm;
}

// <time> in the given style, with the full time on hover.
function timeEl(v, cls, style) {
  var d = toDate(v);
  if (!d) return h('span', { class: cls || null }, '—');
  return h('time', { class: cls || null, datetime: d.toISOString(), title: formatTime(v, 'full') }, formatTime(v, style));
}

// ---------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------

// Only the roles in `order`, in that order: others are internal, left out rather than shown as a code.
function rolesLabel(roles, order) {
  return order.filter(function (r) { return (roles || []).indexOf(r) !== -1; })
    .map(function (r) { return ROLE_LABELS[r]; }).join('、');
}

function user() { return session.user; }

// True when the logged-in user has any of the roles (one name or a list).
function hasRole(roles) {
  var mine = (session.user && Array.isArray(session.user.roles)) ? session.user.roles : [];
  return [].concat(roles).some(function (r) { return mine.indexOf(r) !== -1; });
}

// ---------------------------------------------------------------------
// API
// ---------------------------------------------------------------------

function ApiError(status, body) {
  var msg = (body && body.message) || defaultMessage(status);
  this.name = 'ApiError';
  this.status = status;
  this.code = body && body.error;
  this.body = body;
  this.fields = (body && Array.isArray(body.fields)) ? body.fields : [];
  if (page.fieldsInMessage && this.fields.length) {
    msg += '：' + this.fields.map(function (f) { return f.message || f.field; }).join('；');
  }
  this.message = msg;
}
ApiError.prototype = Object.create(Error.prototype);
ApiError.prototype.constructor = ApiError;

var MESSAGES = {
  0: '网络连接失败，请检查网络后重试',
  401: '登录已失效，请重新登录',
  403: '没有权限执行此操作',
  404: '未找到该记录',
  409: '操作冲突，请刷新后重试',
  413: '提交内容过大',
  422: '提交的内容有误',
  429: '操作过于频繁，请稍后再试'
};

// For answers without a message of their own (network down, a proxy's error page).
function defaultMessage(status) {
  var custom = page.messages && page.messages[status];
  if (custom) return custom;
  if (MESSAGES[status]) return MESSAGES[status];
  if (status >= 500) return '服务器暂时无法处理，请稍后重试';
  return '请求失败（' + status + '）';
}

// opts.allow401: do not treat 401 as "session expired" (login, /me at boot).
// opts.raw: send `body` as is with opts.contentType (file uploads).
function api(method, path, body, opts) {
  opts = opts || {};
  var headers = { 'Accept': 'application/json' };
  var init = { method: method, headers: headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    if (opts.raw) {
      headers['Content-Type'] = opts.contentType;
      init.body = body;
    } else {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
  }
  if (method !== 'GET' && method !== 'HEAD' && session.csrf) headers['X-CSRF-Token'] = session.csrf;

  return fetch(API + path, init).then(function (res) {
    return res.text().then(function (text) {
      var data = null;
      if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }

      if (res.status === 401 && !opts.allow401) {
        sessionExpired();
        throw new ApiError(401, data);
      }
      // A password that must be changed first (bootstrap admin, temporary password).
      if (res.status === 403 && data && data.error === 'password_change_required' && session.user) {
        passwordRequired();
      }
      // A stale CSRF token: refresh it from /me and retry once.
      if (res.status === 403 && data && /csrf/i.test(String(data.error || '')) && !opts.retried && method !== 'GET') {
        return refreshSession().then(function () {
          return api(method, path, body, Object.assign({}, opts, { retried: true }));
        });
      }
      if (!res.ok) throw new ApiError(res.status, data);
      return data === null ? {} : data;
    });
  }, function () {
    throw new ApiError(0, null);
  });
}

function me() { return api('GET', '/auth/me', undefined, { allow401: true }); }

// /auth/me while logged in (a 401 ends the session as usual); keeps the CSRF token current.
function refreshSession() {
  return api('GET', '/auth/me').then(function (who) {
    if (who && who.csrf_token) session.csrf = who.csrf_token;
    return who;
  });
}

function login(username, password) {
  return api('POST', '/auth/login', { username: username, password: password }, { allow401: true });
}

function logout() {
  return api('POST', '/auth/logout', undefined, { allow401: true }).catch(function () { /* ignore */ });
}

// ---------------------------------------------------------------------
// Session: boot, login view, top bar, logout
// ---------------------------------------------------------------------

// Binds the login form and the logout button, then asks /auth/me. cfg:
//   app         id of the element shown while logged in
//   roleOrder   roles shown in the top bar, in this order
//   roles       optional: who may use the page; others are logged out again with deniedMessage
//   enter(user) fill the workspace after a login (or at boot with a live session)
//   teardown()  clear the workspace before the login view shows
//   confirmLogout()  optional: resolves true to go on with a logout
//   onBusy()    optional: runs whenever withBusy() switches a button
//   messages    optional: {status: text} fallbacks that differ from MESSAGES
//   fieldsInMessage  append the server's per-field messages to ApiError.message
function start(cfg) {
  page = cfg;
  $('login-form').addEventListener('submit', onLoginSubmit);
  $('logout').addEventListener('click', onLogout);
  addPasswordButton();
  me().then(enter, function (e) {
    // 401 is the normal "not logged in" answer; only report real outages.
    showLogin(e.status === 0 || e.status >= 500 ? '服务器暂时无法访问，请稍后重试' : '');
  });
}

function showLogin(message) {
  page.teardown();
  $('user-name').textContent = '';
  $('user-roles').textContent = '';
  session.user = null;
  session.csrf = null;
  $('boot').hidden = true;
  $(page.app).hidden = true;
  hidePasswordView();
  $('login-view').hidden = false;
  $('login-password').value = '';
  setMsg($('login-error'), message || '', message ? 'error' : null);
  var u = $('login-username');
  (u.value ? $('login-password') : u).focus();
}

function sessionExpired() {
  if (!session.user || session.expiring) return;
  session.expiring = true;
  try { showLogin('登录已失效，请重新登录'); } finally { session.expiring = false; }
}

// `who`: the answer of /auth/me or /auth/login.
function enter(who) {
  session.user = (who && who.user) || null;
  session.csrf = (who && who.csrf_token) || null;
  if (!session.user) { showLogin(''); return; }
  if (page.roles && !hasRole(page.roles)) {
    // Logged in, but not for this page: end that session here.
    logout();
    session.user = null;
    showLogin(page.deniedMessage);
    return;
  }

  if (session.user.must_change_password) {
    showPasswordView(true);
    return;
  }

  $('boot').hidden = true;
  $('login-view').hidden = true;
  hidePasswordView();
  $(page.app).hidden = false;
  setMsg($('login-error'), '');

  $('user-name').textContent = session.user.display_name || session.user.username || '';
  $('user-roles').textContent = rolesLabel(session.user.roles, page.roleOrder);
  page.enter(session.user);
}

function onLoginSubmit(ev) {
  ev.preventDefault();
  var username = $('login-username').value.trim();
  var password = $('login-password').value;
  var err = $('login-error');
  if (!username || !password) {
    setMsg(err, '请输入用户名和密码', 'error');
    (username ? $('login-password') : $('login-username')).focus();
    return;
  }
  var btn = $('login-submit');
  btn.textContent = '正在登录…';
  setMsg(err, '');
  withBusy(btn, function () {
    return login(username, password).then(enter, function (e) {
      var msg = e.status === 401 ? ((e.body && e.body.message) || '用户名或密码错误') : e.message;
      setMsg(err, msg, 'error');
      $('login-password').value = '';
      $('login-password').focus();
    });
  }).finally(function () { btn.textContent = '登录'; });
}

function onLogout() {
  if (page.confirmLogout) {
    page.confirmLogout().then(function (ok) { if (ok) endSession(); });
  } else {
    endSession();
  }
}

function endSession() {
  withBusy($('logout'), logout).finally(function () { showLogin(''); });
}

// ---------------------------------------------------------------------
// Password: the forced change at the first login (bootstrap admin, temporary passwords) and
// 修改密码 from the top bar at any time. POST /api/v1/auth/password (gateway/auth.py) ends the
// user's other sessions and answers with a fresh session and CSRF token. The rules are the
// server's (gateway/users.py check_password_rules); the page checks only length and repetition.
// ---------------------------------------------------------------------

var PASSWORD_MIN = 10;
var password = { forced: false, doneTimer: null };

function addPasswordButton() {
  if ($('change-password')) return;
  var btn = h('button', { id: 'change-password', type: 'button', class: 'btn btn--ghost' }, '修改密码');
  btn.addEventListener('click', function () { showPasswordView(false); });
  $('logout').parentNode.insertBefore(btn, $('logout'));
  var done = h('span', { id: 'password-done', class: 'msg', role: 'status', 'aria-live': 'polite' });
  $('logout').parentNode.insertBefore(done, btn);
}

function passwordField(id, label, autocomplete) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id: id, name: id, type: 'password', autocomplete: autocomplete, maxlength: 256, required: true,
                 'aria-describedby': 'password-error' }));
}

// Built on first use, so every staff page (desk, knowledge base) has it without markup of its own.
function passwordView() {
  var view = $('password-view');
  if (view) return view;
  view = h('main', { id: 'password-view', class: 'login-view', hidden: true },
    h('form', { id: 'password-form', class: 'login-card', novalidate: true, 'aria-labelledby': 'password-title' },
      h('h1', { id: 'password-title', class: 'login-title' }, '修改密码'),
      h('p', { id: 'password-intro', class: 'login-subtitle' }),
      passwordField('password-current', '当前密码', 'current-password'),
      passwordField('password-new', '新密码', 'new-password'),
      passwordField('password-repeat', '再次输入新密码', 'new-password'),
      h('p', { id: 'password-rules', class: 'hint' },
        '至少 ' + PASSWORD_MIN + ' 个字符，至少 4 个不同的字符；不能包含用户名，不能是常见密码。'),
      h('p', { id: 'password-error', class: 'msg', role: 'alert', 'aria-live': 'assertive' }),
      h('button', { id: 'password-submit', type: 'submit', class: 'btn btn--primary btn--block' }, '确认修改'),
      h('button', { id: 'password-cancel', type: 'button', class: 'btn btn--block' }, '返回')));
  var login = $('login-view');
  login.parentNode.insertBefore(view, login.nextSibling);
  $('password-form').addEventListener('submit', onPasswordSubmit);
  $('password-cancel').addEventListener('click', onPasswordCancel);
  return view;
}

// forced: nothing else works until it is changed (the way out is logging out).
function showPasswordView(forced) {
  var view = passwordView();
  password.forced = !!forced;
  $('boot').hidden = true;
  $('login-view').hidden = true;
  $(page.app).hidden = true;
  view.hidden = false;
  ['password-current', 'password-new', 'password-repeat'].forEach(function (id) {
    $(id).value = '';
    $(id).removeAttribute('aria-invalid');
  });
  $('password-intro').textContent = forced
    ? '首次登录须修改初始密码，修改后才能使用工作台。'
    : '修改后，您在其他电脑或浏览器上的登录会全部退出。';
  $('password-cancel').textContent = forced ? '退出登录' : '返回';
  setMsg($('password-error'), '');
  $('password-current').focus();
}

function hidePasswordView() {
  var view = $('password-view');
  if (view) view.hidden = true;
  password.forced = false;
}

function passwordRequired() {
  if (password.forced && !$('password-view').hidden) return;
  page.teardown();
  showPasswordView(true);
}

function onPasswordCancel() {
  if (password.forced) { endSession(); return; }
  hidePasswordView();
  $(page.app).hidden = false;
  $('change-password').focus();
}

function passwordError(text, fieldId) {
  setMsg($('password-error'), text, 'error');
  ['password-current', 'password-new', 'password-repeat'].forEach(function (id) {
    if (id === fieldId) $(id).setAttribute('aria-invalid', 'true'); else $(id).removeAttribute('aria-invalid');
  });
  if (fieldId) { $(fieldId).focus(); if ($(fieldId).select) $(fieldId).select(); }
}

function onPasswordSubmit(ev) {
  ev.preventDefault();
  var current = $('password-current').value;
  var next = $('password-new').value;
  var repeat = $('password-repeat').value;
  if (!current) return passwordError('请输入当前密码', 'password-current');
  if (!next) return passwordError('请输入新密码', 'password-new');
  if (next.length < PASSWORD_MIN) return passwordError('新密码至少需要 ' + PASSWORD_MIN + ' 个字符', 'password-new');
  if (next !== repeat) return passwordError('两次输入的新密码不一致', 'password-repeat');
  if (next === current) return passwordError('新密码不能与当前密码相同', 'password-new');
  setMsg($('password-error'), '');
  var btn = $('password-submit');
  btn.textContent = '正在修改…';
  var wasForced = password.forced;
  return withBusy(btn, function () {
    return api('POST', '/auth/password', { current_password: current, new_password: next }).then(function (who) {
      if (wasForced) { enter(who); return; }
      session.csrf = who.csrf_token || session.csrf;
      hidePasswordView();
      $(page.app).hidden = false;
      var done = $('password-done');
      setMsg(done, '密码已修改', 'ok');
      clearTimeout(password.doneTimer);
      password.doneTimer = setTimeout(function () { setMsg(done, ''); }, 8000);
      $('change-password').focus();
    }, function (e) {
      if (e.status === 401) return;  // the login view has taken over
      var field = (e.body && e.body.fields && e.body.fields[0] && e.body.fields[0].field) || '';
      var text = (e.body && e.body.message) || e.message;
      passwordError(text, field === 'current_password' ? 'password-current' : field === 'new_password' ? 'password-new' : null);
      $('password-current').value = field === 'current_password' ? '' : $('password-current').value;
    });
  }).finally(function () { btn.textContent = '确认修改'; });
}

export {
  API,
  ROLE_LABELS,
  KIND_LABELS,
  URGENCY_LABELS,
  $,
  h,
  append,
  replaceKids,
  setMsg,
  isBlank,
  dash,
  withBusy,
  toDate,
  toMs,
  formatTime,
  timeEl,
  rolesLabel,
  user,
  hasRole,
  ApiError,
  api,
  me,
  refreshSession,
  login,
  logout,
  start
};

// tests/server/test_password_browser.py calls Staff.api() from the page: the one global this
// module sets, its own namespace (every export, listed once above).
window.Staff = staffModule;
