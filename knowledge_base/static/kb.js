/*
 * Beijing 12345 hotline - knowledge-base editor and review workspace.
 *
 * Plain browser JS, no build step, no external dependencies.
 * API: knowledge_base/routes.py (/api/v1/kb/...), sessions: gateway/auth.py.
 *
 * All untrusted text (entry content, user names, server messages) is inserted
 * with textContent via the h() helper; innerHTML is never used.
 *
 * Login, session, API calls, DOM and time helpers: gateway/static/common/staff.js (window.Staff).
 */
(function () {
  'use strict';

  var $ = Staff.$, h = Staff.h, append = Staff.append, replaceKids = Staff.replaceKids, setMsg = Staff.setMsg;
  var isBlank = Staff.isBlank, dash = Staff.dash, api = Staff.api, withBusy = Staff.withBusy, hasRole = Staff.hasRole;

  // ---------------------------------------------------------------------
  // Constants
  // ---------------------------------------------------------------------

  var API = Staff.API;
  var IMPORT_POLL_MS = 300;
  var REVIEW_POLL_MS = 60000;
  var ENTRY_ID_RE = /^[a-z0-9][a-z0-9-]{2,63}$/;

  var ROLE_ORDER = ['admin', 'kb_editor', 'kb_reviewer', 'supervisor', 'agent'];
  var READ_ROLES = ['kb_editor', 'kb_reviewer', 'admin'];
  var EDIT_ROLES = ['kb_editor', 'admin'];
  var REVIEW_ROLES = ['kb_reviewer', 'admin'];

  var STATUS_LABELS = { draft: '草稿', in_review: '待审核', published: '已发布', archived: '已归档' };

  var DECISION_LABELS = {
    answer: '直接答复', clarify: '追问澄清', emergency: '紧急分流',
    legal_channel: '法定途径', handoff: '转人工', forward: '转办'
  };
  var KIND_LABELS = Staff.KIND_LABELS;
  var URGENCY_LABELS = Staff.URGENCY_LABELS;

  var ACTION_LABELS = {
    created: '新建', saved: '保存', submitted: '提交审核', published: '发布', rejected: '退回',
    archived: '归档', rolled_back: '回滚', imported: '导入', synonyms_changed: '修改同义词'
  };
  // Accounts the system itself uses.
  var ACTOR_LABELS = { 'sample-import': '示例导入', 'system-seed': '系统初始化' };

  // EntryContent fields, in form order.
  var FIELDS = ['title', 'phrasings', 'answer', 'links', 'category', 'department', 'policy_ref',
    'effective_from', 'expires_at', 'review_due', 'tags', 'sample'];
  var FIELD_LABELS = {
    id: '条目编号', title: '标题', phrasings: '其他问法', answer: '答复内容', links: '相关链接',
    category: '分类', department: '发布部门', policy_ref: '政策依据', effective_from: '生效日期',
    expires_at: '失效日期', review_due: '复核日期', tags: '标签', sample: '示例内容',
    entry: '整行', import: '写入', content: '内容'
  };
  var FIELD_INPUTS = {
    id: 'field-id', title: 'field-title', phrasings: 'field-phrasings', answer: 'field-answer',
    links: 'field-links', category: 'field-category', department: 'field-department',
    policy_ref: 'field-policy-ref', effective_from: 'field-effective-from', expires_at: 'field-expires-at',
    review_due: 'field-review-due', tags: 'field-tags', sample: 'field-sample'
  };
  // Inputs whose value makes up the form's "dirty" state.
  var FORM_INPUT_IDS = ['field-id', 'field-title', 'field-phrasings', 'field-answer', 'field-category',
    'field-department', 'field-policy-ref', 'field-effective-from', 'field-expires-at', 'field-review-due',
    'field-tags', 'field-sample', 'field-links'];

  // ---------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------

  var state = {
    tab: 'entries',
    // Entry list
    items: [],
    categories: [],
    listSeq: 0,
    searchTimer: null,
    // Editor
    isNew: false,
    entry: null,          // {state, versions} from GET /kb/entries/{id}
    entryId: null,
    loadedVersion: null,  // latest_version when the form was filled: the save's base_version
    pristine: '',         // form snapshot when loaded
    entrySeq: 0,
    // Review
    queue: [],
    review: null,         // {entry, from, to}
    reviewSeq: 0,
    // Diff dialog
    diffTo: null,
    // Synonyms
    synonymsLoaded: false,
    synonymsPristine: '',
    // Import
    importTimer: null,
    importJob: null,
    intervals: []
  };

  // ---------------------------------------------------------------------
  // Roles and time
  // ---------------------------------------------------------------------

  function isEditor() { return hasRole(EDIT_ROLES); }
  function isReviewer() { return hasRole(REVIEW_ROLES); }
  function me() { var u = Staff.user(); return u ? u.username : ''; }

  // 2025-11-23 09:05 (Beijing time), the full time on hover.
  function fmtDateTime(v) { return Staff.formatTime(v, 'long'); }
  function timeEl(v, cls) { return Staff.timeEl(v, cls, 'long'); }

  // ---------------------------------------------------------------------
  // Labels
  // ---------------------------------------------------------------------

  function statusChip(status, label) {
    return h('span', { class: 'chip st-' + (status || 'none') }, STATUS_LABELS[status] || label || dash(status));
  }

  function actorLabel(a) {
    if (isBlank(a)) return '—';
    return ACTOR_LABELS[a] || String(a);
  }

  function fieldLabel(path) {
    if (isBlank(path)) return '—';
    var parts = String(path).split('.');
    if (parts[0] === 'content' && parts.length > 1) parts = parts.slice(1);
    var out = FIELD_LABELS[parts[0]] || parts[0];
    for (var i = 1; i < parts.length; i++) {
      var p = parts[i];
      if (/^\d+$/.test(p)) out += '第' + (Number(p) + 1) + '项';
      else if (p === 'url') out += '·网址';
      else if (p === 'title') out += '·标题';
      else out += '·' + p;
    }
    return out;
  }

  // Allowed lengths, to make the server's generic "length is wrong" message actionable.
  var LENGTH_RULES = {
    id: '3至64位', title: '2至200字', answer: '5至4000字', category: '1至40字', department: '不超过100字',
    policy_ref: '不超过200字', phrasings: '每项不超过200字，最多100项', tags: '每项不超过200字，最多30项',
    links: '最多10个，标题1至100字'
  };

  function withRule(path, message) {
    var name = String(path || '').split('.');
    if (name[0] === 'content') name = name.slice(1);
    var rule = LENGTH_RULES[name[0]];
    if (rule && message === '长度不符合要求') return message + '（' + rule + '）';
    return message;
  }

  // The bot's reasons are short English notes for engineers: translate the known ones.
  function reasonText(r) {
    var s = String(r), m;
    if (s === 'empty text') return '内容为空';
    if (s === 'small talk') return '寒暄问候';
    if (s === 'chose an offered option') return '市民选择了追问中给出的选项';
    if (s === 'too short to decide') return '内容太短，无法判断';
    if (s === 'no knowledge-base answer') return '知识库中没有足够匹配的条目';
    if ((m = /^emergency cue “(.*)”$/.exec(s))) return '含紧急情况用语“' + m[1] + '”';
    if ((m = /^asked for a person “(.*)”$/.exec(s))) return '要求人工服务“' + m[1] + '”';
    if ((m = /^legal-channel cue “(.*)”$/.exec(s))) return '属于法定途径办理的事项“' + m[1] + '”';
    if ((m = /^(\w+) cue$/.exec(s)) && KIND_LABELS[m[1]]) return '识别为' + KIND_LABELS[m[1]] + '类诉求';
    if ((m = /^tie (?:bm25 )?([\d.]+) \/ ([\d.]+)$/.exec(s))) return '两个条目得分接近（' + m[1] + ' / ' + m[2] + '），请市民选择';
    if ((m = /^bm25 ([\d.]+), coverage ([\d.]+)$/.exec(s))) {
      return '检索得分 ' + m[1] + '，提问内容覆盖 ' + Math.round(Number(m[2]) * 100) + '%';
    }
    if ((m = /^bm25 ([\d.]+) over (\d+) tokens$/.exec(s))) return '检索得分 ' + m[1] + '（提问含 ' + m[2] + ' 个检索词）';
    return null;
  }

  // ---------------------------------------------------------------------
  // Dialogs
  // ---------------------------------------------------------------------

  // Resolves true when the user confirms.
  function confirmDialog(title, text, okLabel, danger) {
    var dlg = $('confirm-dialog');
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    var ok = $('confirm-ok');
    ok.textContent = okLabel || '确定';
    ok.className = 'btn ' + (danger ? 'btn--warn' : 'btn--primary');
    return new Promise(function (resolve) {
      function done(v) {
        ok.removeEventListener('click', onOk);
        $('confirm-cancel').removeEventListener('click', onCancel);
        dlg.removeEventListener('close', onClose);
        if (dlg.open) dlg.close();
        resolve(v);
      }
      function onOk(ev) { ev.preventDefault(); done(true); }
      function onCancel() { done(false); }
      function onClose() { done(false); }
      ok.addEventListener('click', onOk);
      $('confirm-cancel').addEventListener('click', onCancel);
      dlg.addEventListener('close', onClose);
      dlg.showModal();
      $('confirm-cancel').focus();
    });
  }

  // Resolves with the reason, or null when cancelled.
  function askRejectReason(subject) {
    var dlg = $('reject-dialog');
    $('reject-entry').textContent = subject || '';
    $('reject-reason').value = '';
    setFieldError('reject-error', '');
    $('reject-reason').removeAttribute('aria-invalid');
    return new Promise(function (resolve) {
      function done(v) {
        $('reject-form').removeEventListener('submit', onSubmit);
        $('reject-cancel').removeEventListener('click', onCancel);
        dlg.removeEventListener('close', onClose);
        if (dlg.open) dlg.close();
        resolve(v);
      }
      function onSubmit(ev) {
        ev.preventDefault();
        var reason = $('reject-reason').value.trim();
        if (!reason) {
          setFieldError('reject-error', '请填写退回原因');
          $('reject-reason').setAttribute('aria-invalid', 'true');
          $('reject-reason').focus();
          return;
        }
        done(reason);
      }
      function onCancel() { done(null); }
      function onClose() { done(null); }
      $('reject-form').addEventListener('submit', onSubmit);
      $('reject-cancel').addEventListener('click', onCancel);
      dlg.addEventListener('close', onClose);
      dlg.showModal();
      $('reject-reason').focus();
    });
  }

  // ---------------------------------------------------------------------
  // Views: boot / login / workspace
  // ---------------------------------------------------------------------

  function boot() {
    bindEvents();
    Staff.start({
      app: 'kb-app',
      roleOrder: ROLE_ORDER,
      roles: READ_ROLES,
      deniedMessage: '该账号没有知识库权限，请联系管理员开通',
      enter: enterApp,
      teardown: teardown,
      confirmLogout: confirmLogout,
      onBusy: updateEditorButtons,
      messages: { 415: '提交格式不正确' }
    });
  }

  // Logged in with a knowledge-base role: the top bar is filled; show what the roles allow.
  function enterApp() {
    var editor = isEditor();
    var reviewer = isReviewer();
    $('entry-new').hidden = !editor;
    $('tab-review').hidden = !reviewer;
    $('import-section').hidden = !editor;
    $('entry-save').hidden = !editor;
    $('entry-submit').hidden = !editor;
    $('entry-publish').hidden = !reviewer;
    $('entry-reject').hidden = !reviewer;
    $('entry-archive').hidden = !reviewer;
    $('synonyms-text').readOnly = !editor;
    $('synonyms-save').hidden = !editor;
    $('synonyms-revert').hidden = !editor;
    $('synonyms-hint').textContent = editor
      ? '每行一组，词与词之间用空格或逗号分隔，每组至少两个词。第一个词为标准词：市民说出组里的任何一个词，都按标准词检索。保存后立即对机器人生效。'
      : '每行一组，第一个词为标准词。仅知识库编辑可以修改。';

    closeEditor(true);
    switchTab('entries', { focus: false });
    loadList();
    if (reviewer) {
      loadQueue({ quiet: true });
      state.intervals.push(setInterval(function () {
        if (!document.hidden && state.tab !== 'review') loadQueue({ quiet: true });
      }, REVIEW_POLL_MS));
    }
    $('entry-search').focus();
  }

  function teardown() {
    state.intervals.forEach(clearInterval);
    state.intervals = [];
    stopImportPolling();
    state.items = [];
    state.queue = [];
    state.review = null;
    state.synonymsLoaded = false;
    state.synonymsPristine = '';
    state.isNew = false;
    state.entry = null;
    state.entryId = null;
    state.pristine = '';
    $('entry-list').replaceChildren();
    $('review-queue').replaceChildren();
    $('try-result').replaceChildren();
    $('try-text').value = '';
    $('import-result').replaceChildren();
    $('import-status').hidden = true;
    $('import-errors-block').hidden = true;
    setMsg($('import-msg'), '');
    ['diff-dialog', 'reject-dialog', 'confirm-dialog'].forEach(function (id) { if ($(id).open) $(id).close(); });
  }

  // Unsaved edits: ask first. Resolves true to log out.
  function confirmLogout() {
    var guard = isDirty()
      ? confirmDialog('退出登录？', '当前条目有未保存的修改，退出后这些修改会丢失。', '放弃修改并退出', true)
      : Promise.resolve(true);
    return guard.then(function (ok) {
      if (ok) state.pristine = formSnapshot(); // no "leave page?" prompt after this
      return ok;
    });
  }

  // ---------------------------------------------------------------------
  // Tabs
  // ---------------------------------------------------------------------

  var TABS = {
    entries: { tab: 'tab-entries', panel: 'panel-entries' },
    review: { tab: 'tab-review', panel: 'panel-review' },
    synonyms: { tab: 'tab-synonyms', panel: 'synonyms' },
    transfer: { tab: 'tab-transfer', panel: 'panel-transfer' }
  };

  function switchTab(name, opts) {
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

  function onTabKeydown(ev) {
    var keys = { ArrowLeft: -1, ArrowRight: 1, Home: 'first', End: 'last' };
    if (!(ev.key in keys)) return;
    var names = Object.keys(TABS).filter(function (k) { return !$(TABS[k].tab).hidden; });
    var i = names.indexOf(state.tab);
    var k = keys[ev.key];
    var next = k === 'first' ? 0 : k === 'last' ? names.length - 1 : (i + k + names.length) % names.length;
    ev.preventDefault();
    switchTab(names[next], { focus: true });
  }

  // ---------------------------------------------------------------------
  // Entry list
  // ---------------------------------------------------------------------

  function listQuery() {
    var p = new URLSearchParams();
    var q = $('entry-search').value.trim();
    if (q) p.set('q', q);
    if ($('filter-status').value) p.set('status', $('filter-status').value);
    if ($('filter-category').value) p.set('category', $('filter-category').value);
    if ($('filter-expiring').checked) p.set('expiring', '1');
    if ($('filter-review-overdue').checked) p.set('review_overdue', '1');
    var s = p.toString();
    return s ? '?' + s : '';
  }

  function loadList() {
    var seq = ++state.listSeq;
    if (!state.items.length) setMsg($('list-msg'), '正在加载条目…');
    return api('GET', '/kb/entries' + listQuery()).then(function (data) {
      if (seq !== state.listSeq) return;
      state.items = data.items || [];
      setCategories(data.categories || []);
      renderList();
      var filtered = listQuery() !== '';
      setMsg($('list-msg'), state.items.length ? '' : (filtered ? '没有符合条件的条目' : '知识库还没有条目'));
    }, function (e) {
      if (seq !== state.listSeq || e.status === 401) return;
      setMsg($('list-msg'), '条目列表加载失败：' + e.message, 'error');
    });
  }

  function setCategories(list) {
    state.categories = list.filter(function (c) { return !isBlank(c); });
    var sel = $('filter-category');
    var current = sel.value;
    var opts = [h('option', { value: '' }, '全部')];
    state.categories.forEach(function (c) { opts.push(h('option', { value: c }, c)); });
    if (current && state.categories.indexOf(current) === -1) opts.push(h('option', { value: current }, current));
    replaceKids(sel, opts);
    sel.value = current;
    replaceKids($('category-options'), state.categories.map(function (c) { return h('option', { value: c }); }));
  }

  function expiryEl(item) {
    if (isBlank(item.expires_at)) return h('span', { class: 'muted' }, '—');
    var cls = 'exp', note = null;
    if (item.expired) { cls += ' exp--expired'; note = '已过期'; }
    else if (item.expiring_soon) { cls += ' exp--soon'; note = '即将到期'; }
    return h('span', { class: cls }, item.expires_at, note ? h('span', { class: 'exp-note' }, note) : null);
  }

  function renderList() {
    var tbody = $('entry-list');
    var focusedId = document.activeElement && document.activeElement.closest &&
      document.activeElement.closest('.entry-row') ? document.activeElement.getAttribute('data-entry-id') : null;
    var rovingId = focusedId || state.entryId;
    if (!state.items.some(function (it) { return it.id === rovingId; })) rovingId = state.items.length ? state.items[0].id : null;
    var rows = state.items.map(function (it) {
      var selected = it.id === state.entryId;
      // Roving tabindex: the list is one tab stop, arrows move within it.
      return h('tr', {
        class: 'entry-row' + (selected ? ' is-selected' : ''),
        'data-entry-id': it.id, tabindex: it.id === rovingId ? '0' : '-1', 'aria-selected': selected ? 'true' : 'false'
      },
        h('td', { class: 'c-title' },
          h('div', { class: 'e-title' },
            h('span', { class: 'e-title-text' }, it.title),
            it.sample ? h('span', { class: 'badge badge--sample', title: '示例内容，非正式答复' }, '示例') : null),
          h('div', { class: 'e-id mono' }, it.id)),
        h('td', { class: 'c-cat', title: it.category || null }, dash(it.category)),
        h('td', { class: 'c-status' },
          statusChip(it.status, it.status_label),
          it.review_overdue ? h('span', { class: 'chip chip--overdue', title: '复核日期 ' + dash(it.review_due) }, '复核逾期') : null),
        h('td', { class: 'num c-ver', title: '最新第 ' + it.latest_version + ' 版' +
            (it.published_version ? '，已发布第 ' + it.published_version + ' 版' : '，尚未发布') },
          String(it.latest_version), h('span', { class: 'muted' }, ' / '),
          it.published_version ? String(it.published_version) : h('span', { class: 'muted' }, '—')),
        h('td', { class: 'c-exp' }, expiryEl(it)));
    });
    replaceKids(tbody, rows);
    $('entry-count').textContent = '共 ' + state.items.length + ' 条';
    if (focusedId) {
      var again = rowFor(focusedId);
      if (again) again.focus();
    }
  }

  function rowFor(id) {
    return $('entry-list').querySelector('tr.entry-row[data-entry-id="' + cssEscape(id) + '"]');
  }

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&');
  }

  function markSelectedRow() {
    $('entry-list').querySelectorAll('tr.entry-row').forEach(function (tr) {
      var on = tr.getAttribute('data-entry-id') === state.entryId;
      tr.classList.toggle('is-selected', on);
      tr.setAttribute('aria-selected', on ? 'true' : 'false');
    });
  }

  function onListClick(ev) {
    var tr = ev.target.closest('tr.entry-row');
    if (tr) openEntry(tr.getAttribute('data-entry-id'));
  }

  function onListKeydown(ev) {
    var tr = ev.target.closest('tr.entry-row');
    if (!tr) return;
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      openEntry(tr.getAttribute('data-entry-id'), { focus: true });
    } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      var next = ev.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling;
      if (next) moveRoving(tr, next);
      else if (ev.key === 'ArrowUp') $('entry-search').focus();
    } else if (ev.key === 'Home' || ev.key === 'End') {
      ev.preventDefault();
      var rows = tr.parentNode.children;
      moveRoving(tr, ev.key === 'Home' ? rows[0] : rows[rows.length - 1]);
    }
  }

  function moveRoving(from, to) {
    if (!to || from === to) return;
    from.tabIndex = -1;
    to.tabIndex = 0;
    to.focus();
  }

  function scheduleListReload() {
    clearTimeout(state.searchTimer);
    state.searchTimer = setTimeout(loadList, 250);
  }

  // ---------------------------------------------------------------------
  // Editor: form <-> content
  // ---------------------------------------------------------------------

  function formSnapshot() {
    return JSON.stringify(FORM_INPUT_IDS.map(function (id) {
      var el = $(id);
      return el.type === 'checkbox' ? el.checked : el.value;
    }));
  }

  function isDirty() {
    if (!state.isNew && !state.entry) return false;
    return formSnapshot() !== state.pristine;
  }

  function fillForm(v) {
    v = v || {};
    $('field-id').value = '';
    $('field-title').value = v.title || '';
    $('field-phrasings').value = (v.phrasings || []).join('\n');
    $('field-answer').value = v.answer || '';
    $('field-category').value = v.category || '';
    $('field-department').value = v.department || '';
    $('field-policy-ref').value = v.policy_ref || '';
    $('field-effective-from').value = v.effective_from || '';
    $('field-expires-at').value = v.expires_at || '';
    $('field-review-due').value = v.review_due || '';
    $('field-tags').value = (v.tags || []).join(', ');
    $('field-sample').checked = !!v.sample;
    $('field-links').value = (v.links || []).map(function (l) { return l.title + '|' + l.url; }).join('\n');
    clearFieldErrors();
    updateAnswerCount();
    state.pristine = formSnapshot();
    updateDirty();
  }

  function lines(text) {
    return text.split(/\r?\n/).map(function (s) { return s.trim(); }).filter(Boolean);
  }

  // Reads and checks the form. Returns {content, errors: {field: message}}.
  function readForm() {
    var errors = {};
    var title = $('field-title').value.trim();
    var answer = $('field-answer').value.trim();
    var category = $('field-category').value.trim();

    if (title.length < 2) errors.title = title ? '标题至少需要2个字' : '请填写标题';
    else if (title.length > 200) errors.title = '标题不能超过200字';
    if (answer.length < 5) errors.answer = answer ? '答复内容至少需要5个字' : '请填写答复内容';
    else if (answer.length > 4000) errors.answer = '答复内容不能超过4000字';
    if (!category) errors.category = '请填写分类';
    else if (category.length > 40) errors.category = '分类不能超过40字';

    var phrasings = [];
    lines($('field-phrasings').value).forEach(function (p) { if (phrasings.indexOf(p) === -1) phrasings.push(p); });
    if (phrasings.length > 100) errors.phrasings = '其他问法最多100条，现有' + phrasings.length + '条';
    var longP = phrasings.findIndex(function (p) { return p.length > 200; });
    if (longP !== -1 && !errors.phrasings) errors.phrasings = '每种问法不能超过200字（第' + (longP + 1) + '条过长）';

    var tags = [];
    $('field-tags').value.split(/[,，、;；\n]/).map(function (s) { return s.trim(); }).filter(Boolean)
      .forEach(function (t) { if (tags.indexOf(t) === -1) tags.push(t); });
    if (tags.length > 30) errors.tags = '标签最多30个';
    else if (tags.some(function (t) { return t.length > 200; })) errors.tags = '每个标签不能超过200字';

    var links = [];
    var linkErrors = [];
    $('field-links').value.split(/\r?\n/).forEach(function (raw, i) {
      var line = raw.trim();
      if (!line) return;
      var normal = line.replace(/｜/g, '|');
      var at = normal.lastIndexOf('|');
      var t = at === -1 ? '' : normal.slice(0, at).trim();
      var u = at === -1 ? normal : normal.slice(at + 1).trim();
      if (at === -1) linkErrors.push('第' + (i + 1) + '行格式应为：标题|网址');
      else if (!t) linkErrors.push('第' + (i + 1) + '行缺少标题，格式应为：标题|网址');
      else if (t.length > 100) linkErrors.push('第' + (i + 1) + '行的标题不能超过100字');
      else if (!/^https?:\/\/[^\s/$.?#][^\s]*$/i.test(u)) linkErrors.push('第' + (i + 1) + '行的网址应以 http:// 或 https:// 开头');
      links.push({ title: t, url: u });
    });
    if (linkErrors.length) errors.links = linkErrors.join('；');
    else if (links.length > 10) errors.links = '相关链接最多10个';

    var dates = {};
    ['effective_from', 'expires_at', 'review_due'].forEach(function (f) {
      var el = $(FIELD_INPUTS[f]);
      var v = el.value;
      if (el.validity && el.validity.badInput) errors[f] = '日期格式应为 YYYY-MM-DD';
      dates[f] = v || null;
    });
    if (dates.effective_from && dates.expires_at && dates.expires_at <= dates.effective_from) {
      errors.expires_at = '失效日期须晚于生效日期';
    }

    if (state.isNew) {
      var id = $('field-id').value.trim();
      if (id && !ENTRY_ID_RE.test(id)) errors.id = '条目编号只能包含小写字母、数字和连字符，3至64位，且不能以连字符开头';
    }

    return {
      content: {
        title: title, phrasings: phrasings, answer: answer, links: links, category: category,
        department: $('field-department').value.trim(), policy_ref: $('field-policy-ref').value.trim(),
        effective_from: dates.effective_from, expires_at: dates.expires_at, review_due: dates.review_due,
        tags: tags, sample: $('field-sample').checked
      },
      errors: errors
    };
  }

  function setFieldError(errId, text) {
    var el = $(errId);
    if (el) el.textContent = text || '';
  }

  function clearFieldErrors() {
    Object.keys(FIELD_INPUTS).forEach(function (f) {
      var input = $(FIELD_INPUTS[f]);
      setFieldError(FIELD_INPUTS[f] + '-error', '');
      if (input) input.removeAttribute('aria-invalid');
    });
  }

  // errors: {field: message}. Focuses the first field with an error.
  function showFieldErrors(errors) {
    clearFieldErrors();
    var first = null;
    ['id'].concat(FIELDS).forEach(function (f) {
      if (!errors[f]) return;
      var inputId = FIELD_INPUTS[f];
      setFieldError(inputId + '-error', errors[f]);
      $(inputId).setAttribute('aria-invalid', 'true');
      if (!first) first = $(inputId);
    });
    if (first) first.focus();
    return !!first;
  }

  // Server field errors (loc like "content.links.0.url") to per-field messages.
  function serverFieldErrors(fields) {
    var out = {};
    fields.forEach(function (f) {
      var parts = String(f.field || '').split('.');
      if (parts[0] === 'content') parts = parts.slice(1);
      var name = parts[0];
      var msg = fieldMessage(name, parts, f);
      if (!FIELD_INPUTS[name]) {
        // A whole-content error: the only one the model raises is the date order.
        name = (f.code === 'value_error') ? 'expires_at' : 'title';
        if (f.code === 'value_error') msg = '失效日期须晚于生效日期';
      }
      out[name] = out[name] ? out[name] + '；' + msg : msg;
    });
    return out;
  }

  function fieldMessage(name, parts, f) {
    var code = f.code || '';
    var index = parts.length > 1 && /^\d+$/.test(parts[1]) ? Number(parts[1]) + 1 : null;
    if (name === 'title' && code === 'string_too_short') return '标题至少需要2个字';
    if (name === 'title' && code === 'string_too_long') return '标题不能超过200字';
    if (name === 'answer' && code === 'string_too_short') return '答复内容至少需要5个字';
    if (name === 'answer' && code === 'string_too_long') return '答复内容不能超过4000字';
    if (name === 'category' && (code === 'string_too_short' || code === 'missing')) return '请填写分类';
    if (name === 'category' && code === 'string_too_long') return '分类不能超过40字';
    if (name === 'links' && index) {
      if (parts[2] === 'url') return '第' + index + '个链接的网址格式不正确';
      return '第' + index + '个链接' + (f.message || '格式不正确');
    }
    if ((name === 'phrasings' || name === 'tags') && code === 'too_long') return FIELD_LABELS[name] + '数量超过上限';
    if ((name === 'phrasings' || name === 'tags') && code === 'value_error') return '每项不能超过200字';
    return withRule(name, f.message || '内容格式不正确');
  }

  function updateAnswerCount() {
    var n = $('field-answer').value.trim().length;
    var el = $('field-answer-count');
    el.textContent = n + ' / 4000 字';
    el.classList.toggle('over', n > 4000);
  }

  function updateDirty() {
    var dirty = isDirty();
    $('entry-dirty').hidden = !dirty;
    updateEditorButtons();
  }

  // ---------------------------------------------------------------------
  // Editor: open / new / close
  // ---------------------------------------------------------------------

  function confirmDiscard() {
    if (!isDirty()) return Promise.resolve(true);
    return confirmDialog('放弃未保存的修改？', '当前条目有未保存的修改，离开后这些修改会丢失。', '放弃修改', true);
  }

  function latestVersion() {
    if (!state.entry) return null;
    var n = state.entry.state.latest_version;
    return state.entry.versions.filter(function (v) { return v.version === n; })[0] || null;
  }

  function versionByNumber(n) {
    if (!state.entry) return null;
    return state.entry.versions.filter(function (v) { return v.version === n; })[0] || null;
  }

  function openEntry(id, opts) {
    opts = opts || {};
    if (!id) return Promise.resolve();
    var same = id === state.entryId && !state.isNew;
    var guard = (same && opts.keepForm) ? Promise.resolve(true) : confirmDiscard();
    return guard.then(function (ok) {
      if (!ok) return;
      if (state.tab !== 'entries') switchTab('entries');
      return loadEntry(id, opts);
    });
  }

  // opts.keepForm: refresh state, versions and audit, but leave the form's content alone.
  // opts.msg / opts.msgKind: message to show once loaded.
  function loadEntry(id, opts) {
    opts = opts || {};
    var seq = ++state.entrySeq;
    var switching = id !== state.entryId || state.isNew;
    state.isNew = false;
    state.entryId = id;
    markSelectedRow();
    $('editor-empty').hidden = true;
    $('entry-editor').hidden = false;
    if (switching) {
      setMsg($('entry-msg'), '正在加载…');
      setMsg($('entry-alert'), '', 'error');
    }
    return api('GET', '/kb/entries/' + encodeURIComponent(id)).then(function (data) {
      if (seq !== state.entrySeq) return;
      state.entry = data;
      if (!opts.keepForm) {
        state.loadedVersion = data.state.latest_version;
        fillForm(latestVersion());
      }
      renderEntryHead();
      renderVersions();
      $('recall-result').replaceChildren();
      $('recall-block').hidden = !(data.state.published_version || data.state.status === 'archived');
      $('versions-block').hidden = false;
      $('audit-block').hidden = false;
      loadAudit();
      setMsg($('entry-msg'), opts.msg || '', opts.msgKind || (opts.msg ? 'ok' : null));
      if (!opts.keepAlert) setMsg($('entry-alert'), '', 'error');
      if (opts.focus) $('editor-heading').focus();
    }, function (e) {
      if (seq !== state.entrySeq || e.status === 401) return;
      setMsg($('entry-msg'), '');
      setMsg($('entry-alert'), '条目加载失败：' + e.message, 'error');
    });
  }

  function newEntry() {
    confirmDiscard().then(function (ok) {
      if (!ok) return;
      if (state.tab !== 'entries') switchTab('entries');
      state.entrySeq++;
      state.isNew = true;
      state.entry = null;
      state.entryId = null;
      state.loadedVersion = null;
      markSelectedRow();
      $('editor-empty').hidden = true;
      $('entry-editor').hidden = false;
      fillForm({});
      renderEntryHead();
      $('versions-block').hidden = true;
      $('recall-block').hidden = true;
      $('audit-block').hidden = true;
      setMsg($('entry-msg'), '');
      setMsg($('entry-alert'), '', 'error');
      $('field-title').focus();
    });
  }

  function closeEditor(force) {
    var go = force ? Promise.resolve(true) : confirmDiscard();
    return go.then(function (ok) {
      if (!ok) return;
      state.entrySeq++;
      state.isNew = false;
      state.entry = null;
      state.entryId = null;
      state.loadedVersion = null;
      state.pristine = '';
      $('entry-editor').hidden = true;
      $('editor-empty').hidden = false;
      $('versions-block').hidden = true;
      $('recall-block').hidden = true;
      $('audit-block').hidden = true;
      markSelectedRow();
    });
  }

  function renderEntryHead() {
    var heading = $('editor-heading');
    var chip = $('entry-status');
    var info = $('entry-versions');
    $('field-id-row').hidden = !state.isNew;
    $('entry-fields').disabled = !isEditor();
    if (state.isNew) {
      heading.textContent = '新建条目';
      chip.className = 'chip st-new';
      chip.textContent = '未保存';
      info.textContent = '保存后为第 1 版草稿';
    } else if (state.entry) {
      var s = state.entry.state;
      var latest = latestVersion();
      heading.textContent = s.title;
      heading.title = s.id;
      replaceKids(chip, STATUS_LABELS[s.status] || s.status_label);
      chip.className = 'chip st-' + s.status;
      var parts = ['编号 ' + s.id, '最新第 ' + s.latest_version + ' 版' + (latest ? '（' + actorLabel(latest.author) + '）' : '')];
      if (s.published_version) {
        var pub = versionByNumber(s.published_version);
        parts.push('已发布第 ' + s.published_version + ' 版' + (pub ? '（' + actorLabel(pub.author) + ' 编辑，' + actorLabel(pub.reviewer) + ' 发布）' : ''));
      } else {
        parts.push('尚未发布');
      }
      info.textContent = parts.join(' · ');
    }
    updateEditorButtons();
  }

  function updateEditorButtons() {
    var open = state.isNew || !!state.entry;
    if (!open) return;
    var s = state.entry && state.entry.state;
    var status = s ? s.status : null;
    var dirty = isDirty();
    var busy = document.querySelector('.editor-actions [aria-busy="true"]');
    function set(id, enabled, why) {
      var b = $(id);
      if (b.getAttribute('aria-busy') === 'true') return;
      b.disabled = !enabled || !!busy;
      b.title = enabled ? '' : (why || '');
    }
    set('entry-save', true);
    set('entry-submit', state.isNew ? false : (status === 'draft' || dirty),
      state.isNew ? '请先保存' : status === 'in_review' ? '已在审核中' : '没有待提交的修改');
    set('entry-publish', !state.isNew && status === 'in_review', '只有待审核的条目可以发布');
    var latest = latestVersion();
    if (status === 'in_review' && latest && latest.author === me()) {
      $('entry-publish').title = '您是该版本的最后编辑人，按两人审核规则须由另一位审核人发布';
    }
    set('entry-reject', !state.isNew && status === 'in_review', '只有待审核的条目可以退回');
    set('entry-archive', !state.isNew && status !== 'archived', state.isNew ? '条目尚未保存' : '已归档');
    $('entry-submit').textContent = dirty && !state.isNew ? '保存并提交审核' : '提交审核';
  }

  // ---------------------------------------------------------------------
  // Editor: actions
  // ---------------------------------------------------------------------

  function showEntryError(e) {
    setMsg($('entry-msg'), '');
    setMsg($('entry-alert'), e.message, 'error');
  }

  // Saves the form. Resolves with true when saved (or nothing to save and allowUnchanged).
  function saveEntry(opts) {
    opts = opts || {};
    setMsg($('entry-alert'), '', 'error');
    var read = readForm();
    if (showFieldErrors(read.errors)) {
      setMsg($('entry-msg'), '');
      setMsg($('entry-alert'), '内容有误，请按提示修改', 'error');
      return Promise.resolve(false);
    }
    if (state.isNew) {
      var body = { content: read.content };
      var id = $('field-id').value.trim();
      if (id) body.id = id;
      return api('POST', '/kb/entries', body).then(function (created) {
        state.pristine = formSnapshot();
        loadList();
        return loadEntry(created.id, { msg: opts.quiet ? '' : '已新建条目（第 1 版，草稿）。提交审核、发布后才会对市民生效。' })
          .then(function () { return true; });
      }, function (e) { return onSaveError(e); });
    }
    if (!isDirty() && opts.allowUnchanged) return Promise.resolve(true);
    var entryId = state.entryId;
    return api('PUT', '/kb/entries/' + encodeURIComponent(entryId), {
      base_version: state.loadedVersion, content: read.content
    }).then(function (saved) {
      state.pristine = formSnapshot();
      loadList();
      return loadEntry(entryId, {
        msg: opts.quiet ? '' : '已保存为第 ' + saved.latest_version + ' 版（草稿）。提交审核、发布后才会对市民生效。'
      }).then(function () { return true; });
    }, function (e) { return onSaveError(e); });
  }

  function onSaveError(e) {
    if (e.status === 401) return false;
    if (e.code === 'stale_version') {
      setMsg($('entry-msg'), '');
      var alert = $('entry-alert');
      setMsg(alert, '', 'error');
      append(alert, [
        '保存失败：' + e.message.replace(/[。.]$/, '') + '。您的修改仍保留在页面上，可先复制需要的内容，再',
        h('button', { type: 'button', id: 'entry-load-latest', class: 'linkish' }, '载入最新版本'),
        '。'
      ]);
      return false;
    }
    if (e.code === 'no_change') {
      setMsg($('entry-alert'), '', 'error');
      setMsg($('entry-msg'), '内容没有变化，无需保存。', 'warn');
      return false;
    }
    if (e.code === 'invalid_entry_id' || e.code === 'entry_exists') {
      var err = {}; err.id = e.message;
      showFieldErrors(err);
      showEntryError(e);
      return false;
    }
    if (e.fields.length) {
      showFieldErrors(serverFieldErrors(e.fields));
    }
    showEntryError(e);
    return false;
  }

  function onSave(ev) {
    if (ev) ev.preventDefault();
    if (!isEditor()) return;
    withBusy($('entry-save'), function () { return saveEntry(); });
  }

  function onSubmitForReview() {
    if (!state.entry) return;
    var entryId = state.entryId;
    withBusy($('entry-submit'), function () {
      var dirty = isDirty();
      return saveEntry({ allowUnchanged: true, quiet: true }).then(function (ok) {
        if (!ok) return;
        return api('POST', '/kb/entries/' + encodeURIComponent(entryId) + '/submit').then(function (s) {
          loadList();
          if (isReviewer()) loadQueue({ quiet: true });
          return loadEntry(entryId, {
            msg: (dirty ? '已保存并' : '已') + '提交审核（第 ' + s.latest_version + ' 版），等待另一位审核人发布。'
          });
        }, showEntryError);
      });
    });
  }

  function onPublish() {
    if (!state.entry) return;
    var entryId = state.entryId;
    var version = state.entry.state.latest_version;
    withBusy($('entry-publish'), function () {
      return publish(entryId, version).then(function () {
        return loadEntry(entryId, { keepForm: !isDirty() ? false : true, msg: '已发布第 ' + version + ' 版，机器人已改用新内容答复。' });
      }, showEntryError);
    });
  }

  function publish(entryId, version) {
    return api('POST', '/kb/entries/' + encodeURIComponent(entryId) + '/publish', { version: version }).then(function (s) {
      loadList();
      if (isReviewer()) loadQueue({ quiet: true });
      return s;
    });
  }

  function onReject() {
    if (!state.entry) return;
    var entryId = state.entryId;
    var s = state.entry.state;
    askRejectReason('「' + s.title + '」第 ' + s.latest_version + ' 版').then(function (reason) {
      if (reason === null) return;
      withBusy($('entry-reject'), function () {
        return api('POST', '/kb/entries/' + encodeURIComponent(entryId) + '/reject', { reason: reason }).then(function () {
          loadList();
          loadQueue({ quiet: true });
          return loadEntry(entryId, { keepForm: true, msg: '已退回，条目恢复为草稿，编辑人可在操作记录中看到退回原因。' });
        }, showEntryError);
      });
    });
  }

  function onArchive() {
    if (!state.entry) return;
    var entryId = state.entryId;
    var s = state.entry.state;
    var text = s.published_version
      ? '归档后，机器人将不再用「' + s.title + '」答复市民（当前发布的第 ' + s.published_version + ' 版会下线）。编辑人保存新版本后可重新提交审核。'
      : '归档「' + s.title + '」。编辑人保存新版本后可重新提交审核。';
    confirmDialog('归档条目', text, '确认归档', true).then(function (ok) {
      if (!ok) return;
      withBusy($('entry-archive'), function () {
        return api('POST', '/kb/entries/' + encodeURIComponent(entryId) + '/archive').then(function () {
          loadList();
          loadQueue({ quiet: true });
          return loadEntry(entryId, { keepForm: true, msg: '已归档。' });
        }, showEntryError);
      });
    });
  }

  function onRollback(version, btn) {
    if (!state.entry) return;
    var entryId = state.entryId;
    var s = state.entry.state;
    var text = '将以第 ' + version + ' 版的内容生成第 ' + (s.latest_version + 1) + ' 版，并直接提交审核；审核人发布后才会生效。' +
      (isDirty() ? '\n注意：当前页面上未保存的修改将被丢弃。' : '');
    confirmDialog('回滚到第 ' + version + ' 版', text, '确认回滚').then(function (ok) {
      if (!ok) return;
      withBusy(btn, function () {
        return api('POST', '/kb/entries/' + encodeURIComponent(entryId) + '/rollback', { to_version: version }).then(function (st) {
          state.pristine = formSnapshot();
          loadList();
          loadQueue({ quiet: true });
          return loadEntry(entryId, { msg: '已回滚：第 ' + st.latest_version + ' 版（内容同第 ' + version + ' 版）已提交审核。' });
        }, showEntryError);
      });
    });
  }

  // ---------------------------------------------------------------------
  // Versions
  // ---------------------------------------------------------------------

  function renderVersions() {
    var list = $('version-list');
    if (!state.entry) { list.replaceChildren(); return; }
    var s = state.entry.state;
    var versions = state.entry.versions.slice().sort(function (a, b) { return b.version - a.version; });
    var editor = isEditor();
    replaceKids(list, versions.map(function (v) {
      var isLatest = v.version === s.latest_version;
      var isPublished = v.version === s.published_version;
      var badges = [];
      if (isPublished) badges.push(h('span', { class: 'chip st-published' }, '当前发布'));
      if (isLatest && s.status === 'in_review') badges.push(h('span', { class: 'chip st-in_review' }, '待审核'));
      if (isLatest && s.status === 'draft') badges.push(h('span', { class: 'chip st-draft' }, '草稿'));
      if (!isPublished && v.reviewer) badges.push(h('span', { class: 'chip st-old' }, '曾发布'));
      return h('li', { class: 'version-item' + (isPublished ? ' is-published' : '') + (isLatest ? ' is-latest' : ''),
        'data-version': v.version },
        h('div', { class: 'v-line' }, h('strong', null, '第 ' + v.version + ' 版'), badges),
        h('div', { class: 'v-meta' }, '编辑 ', h('span', { class: 'v-who' }, actorLabel(v.author)), ' · ', timeEl(v.created_at)),
        v.reviewer ? h('div', { class: 'v-meta' }, '发布 ', h('span', { class: 'v-who' }, actorLabel(v.reviewer)), ' · ', timeEl(v.published_at)) : null,
        v.note ? h('div', { class: 'v-note' }, v.note) : null,
        h('div', { class: 'v-actions' },
          versions.length > 1 ? h('button', { type: 'button', class: 'btn btn--tiny v-compare', 'data-version': v.version,
            'aria-label': '对比第 ' + v.version + ' 版' }, '对比') : null,
          editor && !isLatest ? h('button', { type: 'button', class: 'btn btn--tiny v-rollback', 'data-version': v.version,
            'aria-label': '回滚到第 ' + v.version + ' 版' }, '回滚到此版本') : null));
    }));
  }

  function onVersionListClick(ev) {
    var b = ev.target.closest('button');
    if (!b) return;
    var v = Number(b.getAttribute('data-version'));
    if (b.classList.contains('v-compare')) openDiffDialog(v);
    else if (b.classList.contains('v-rollback')) onRollback(v, b);
  }

  // ---------------------------------------------------------------------
  // Diff (review tab and version dialog)
  // ---------------------------------------------------------------------

  // Python-style json.dumps of a link, as the server's diff text has it.
  function pyJson(o) {
    return '{' + Object.keys(o).map(function (k) { return JSON.stringify(k) + ': ' + JSON.stringify(o[k]); }).join(', ') + '}';
  }

  function asText(v) {
    if (Array.isArray(v)) return v.map(function (x) { return (x && typeof x === 'object') ? pyJson(x) : String(x); }).join('\n');
    if (v === null || v === undefined) return '';
    if (v === true) return 'True';
    if (v === false) return 'False';
    return String(v);
  }

  // A diff of a brand-new entry (no earlier version): everything is inserted.
  function syntheticDiff(version) {
    return {
      from: null, to: version,
      fields: FIELDS.map(function (f) {
        var right = asText(version[f]);
        var changed = f === 'sample' ? !!version.sample : right !== '';
        return { field: f, left: f === 'sample' ? 'False' : '', right: right, changed: changed,
          ops: changed ? [['insert', 0, 0, 0, right.length]] : [] };
      })
    };
  }

  function segments(text, ops, side) {
    var out = [];
    ops.forEach(function (op) {
      var tag = op[0];
      var part = side === 'left' ? text.slice(op[1], op[2]) : text.slice(op[3], op[4]);
      if (!part) return;
      if (tag === 'equal') out.push(part);
      else if (side === 'left' && (tag === 'delete' || tag === 'replace')) out.push(h('del', null, part));
      else if (side === 'right' && (tag === 'insert' || tag === 'replace')) out.push(h('ins', null, part));
    });
    return out;
  }

  function diffCell(f, side) {
    var text = side === 'left' ? f.left : f.right;
    var cls = 'diff-cell diff-' + side;
    if (f.field === 'sample') {
      var yes = text === 'True';
      var label = yes ? '是（示例内容）' : '否';
      if (f.changed) return h('div', { class: cls }, side === 'left' ? h('del', null, label) : h('ins', null, label));
      return h('div', { class: cls }, label);
    }
    if (text === '') return h('div', { class: cls + ' is-empty' }, h('span', { class: 'muted' }, '（空）'));
    if (f.field === 'links') return h('div', { class: cls }, linkLines(f, side));
    if (!f.changed || !f.ops || !f.ops.length) return h('div', { class: cls }, text);
    return h('div', { class: cls }, segments(text, f.ops, side));
  }

  // Links are JSON lines in the diff text: show them as "title url", whole lines marked.
  function linkLines(f, side) {
    var mine = (side === 'left' ? f.left : f.right).split('\n');
    var other = (side === 'left' ? f.right : f.left).split('\n');
    return mine.map(function (line) {
      var text = line;
      try {
        var o = JSON.parse(line);
        if (o && typeof o === 'object') text = o.title + '  ' + o.url;
      } catch (e) { /* show as is */ }
      var el = h('div', { class: 'diff-link' }, text);
      if (f.changed && other.indexOf(line) === -1) return h(side === 'left' ? 'del' : 'ins', { class: 'diff-link' }, text);
      return el;
    });
  }

  function versionCaption(v, role) {
    if (!v) return h('div', { class: 'diff-col-head' }, h('strong', null, '（无已发布版本）'), h('span', { class: 'muted' }, ' 新条目'));
    return h('div', { class: 'diff-col-head' },
      h('strong', null, '第 ' + v.version + ' 版'), role ? h('span', { class: 'chip ' + role.cls }, role.label) : null,
      h('span', { class: 'muted' }, ' 编辑 ' + actorLabel(v.author) + ' · ' + fmtDateTime(v.created_at)),
      v.note ? h('span', { class: 'muted' }, ' · ' + v.note) : null);
  }

  // roles: {from: {label, cls}, to: {label, cls}}
  function renderDiff(container, diff, roles) {
    roles = roles || {};
    var changed = diff.fields.filter(function (f) { return f.changed; });
    var toggleId = container.id + '-only-changed';
    var onlyChanged = container.getAttribute('data-only-changed') === '1';
    var summary = changed.length
      ? '共 ' + changed.length + ' 处字段有改动：' + changed.map(function (f) { return FIELD_LABELS[f.field] || f.field; }).join('、')
      : '两个版本的内容完全相同';
    var toggle = h('input', { type: 'checkbox', id: toggleId });
    toggle.checked = onlyChanged;
    toggle.addEventListener('change', function () {
      container.setAttribute('data-only-changed', toggle.checked ? '1' : '0');
      container.classList.toggle('only-changed', toggle.checked);
    });
    container.classList.toggle('only-changed', onlyChanged);
    replaceKids(container, [
      h('div', { class: 'diff-summary' },
        h('span', null, summary),
        h('label', { class: 'check', for: toggleId }, toggle, ' 只看有改动的字段')),
      h('div', { class: 'diff-grid', role: 'table', 'aria-label': '版本内容对比' },
        h('div', { class: 'diff-row diff-head', role: 'row' },
          h('div', { class: 'diff-label', role: 'columnheader' }, '字段'),
          h('div', { role: 'columnheader' }, versionCaption(diff.from, roles.from)),
          h('div', { role: 'columnheader' }, versionCaption(diff.to, roles.to))),
        diff.fields.map(function (f) {
          return h('div', { class: 'diff-row' + (f.changed ? ' is-changed' : ''), role: 'row', 'data-field': f.field },
            h('div', { class: 'diff-label', role: 'rowheader' }, FIELD_LABELS[f.field] || f.field,
              f.changed ? h('span', { class: 'diff-flag' }, '有改动') : null),
            h('div', { role: 'cell' }, diffCell(f, 'left')),
            h('div', { role: 'cell' }, diffCell(f, 'right')));
        }))
    ]);
  }

  function fetchDiff(entryId, from, to) {
    return api('GET', '/kb/entries/' + encodeURIComponent(entryId) + '/diff?from=' + from + '&to=' + to);
  }

  function roleOf(entryState, v) {
    if (!v) return null;
    if (v.version === entryState.published_version) return { label: '当前发布', cls: 'st-published' };
    if (v.version === entryState.latest_version) {
      if (entryState.status === 'in_review') return { label: '待审核', cls: 'st-in_review' };
      if (entryState.status === 'draft') return { label: '草稿', cls: 'st-draft' };
    }
    return null;
  }

  function openDiffDialog(toVersion) {
    if (!state.entry) return;
    state.diffTo = toVersion;
    var s = state.entry.state;
    var others = state.entry.versions.map(function (v) { return v.version; })
      .filter(function (n) { return n !== toVersion; }).sort(function (a, b) { return b - a; });
    var def = toVersion > 1 ? toVersion - 1 : others[others.length - 1];
    if (s.published_version && s.published_version !== toVersion && toVersion === s.latest_version) def = s.published_version;
    replaceKids($('diff-from'), others.map(function (n) {
      return h('option', { value: n }, '第 ' + n + ' 版' + (n === s.published_version ? '（当前发布）' : ''));
    }));
    $('diff-from').value = String(def);
    $('diff-to-label').textContent = '第 ' + toVersion + ' 版';
    $('diff-dialog-title').textContent = '版本对比 · ' + s.title;
    $('diff-dialog-view').replaceChildren();
    $('diff-dialog').showModal();
    $('diff-from').focus();
    loadDialogDiff();
  }

  function loadDialogDiff() {
    if (!state.entry) return;
    var s = state.entry.state;
    var from = Number($('diff-from').value);
    var to = state.diffTo;
    setMsg($('diff-dialog-msg'), '正在加载对比…');
    fetchDiff(s.id, from, to).then(function (diff) {
      setMsg($('diff-dialog-msg'), '');
      renderDiff($('diff-dialog-view'), diff, { from: roleOf(s, diff.from), to: roleOf(s, diff.to) });
    }, function (e) {
      if (e.status !== 401) setMsg($('diff-dialog-msg'), '对比加载失败：' + e.message, 'error');
    });
  }

  // ---------------------------------------------------------------------
  // Audit log
  // ---------------------------------------------------------------------

  function auditDetail(row) {
    var d = row.detail || {};
    switch (row.action) {
      case 'saved':
        return Array.isArray(d.changed) && d.changed.length
          ? '修改了' + d.changed.map(function (f) { return FIELD_LABELS[f] || f; }).join('、') : '';
      case 'rejected': return d.reason ? '原因：' + d.reason : '';
      case 'published': return d.superseded ? '替换第 ' + d.superseded + ' 版' : '首次发布';
      case 'archived': return d.was_published ? '第 ' + d.was_published + ' 版已下线' : '';
      case 'rolled_back': return d.from_version ? '恢复第 ' + d.from_version + ' 版的内容' : '';
      case 'created': return d.title ? '标题：' + d.title : '';
      case 'synonyms_changed': return typeof d.groups === 'number' ? '共 ' + d.groups + ' 组' : '';
      default: return '';
    }
  }

  function loadAudit() {
    if (!state.entryId) return Promise.resolve();
    var id = state.entryId;
    var box = $('audit-log');
    if (!box.firstChild) replaceKids(box, h('p', { class: 'muted small' }, '正在加载…'));
    return api('GET', '/kb/audit?entry=' + encodeURIComponent(id)).then(function (data) {
      if (id !== state.entryId) return;
      var items = data.items || [];
      if (!items.length) { replaceKids(box, h('p', { class: 'muted small' }, '暂无操作记录')); return; }
      replaceKids(box, h('ol', { class: 'audit-list' }, items.map(function (r) {
        var label = ACTION_LABELS[r.action];
        var detail = auditDetail(r);
        return h('li', { class: 'audit-item a-' + r.action },
          h('div', { class: 'a-line' },
            timeEl(r.at, 'a-at'),
            h('span', { class: 'a-who' }, actorLabel(r.actor)),
            label ? h('span', { class: 'a-action' }, label) : h('span', { class: 'a-action raw', title: '未识别的操作' }, r.action),
            r.version ? h('span', { class: 'a-ver muted' }, '第 ' + r.version + ' 版') : null),
          detail ? h('div', { class: 'a-detail' }, detail) : null);
      })));
    }, function (e) {
      if (e.status !== 401 && id === state.entryId) replaceKids(box, h('p', { class: 'msg msg--error' }, '操作记录加载失败：' + e.message));
    });
  }

  // ---------------------------------------------------------------------
  // Recall
  // ---------------------------------------------------------------------

  function onRecall() {
    if (!state.entryId) return;
    var id = state.entryId;
    var box = $('recall-result');
    withBusy($('recall'), function () {
      return api('GET', '/kb/entries/' + encodeURIComponent(id) + '/recall').then(function (data) {
        if (id !== state.entryId) return;
        var versions = data.versions || [];
        var total = versions.reduce(function (n, v) { return n + v.tickets.length; }, 0);
        var csv = h('a', { id: 'recall-csv', class: 'btn btn--tiny', download: true,
          href: API + '/kb/entries/' + encodeURIComponent(id) + '/recall?format=csv' }, '导出 CSV');
        if (!total) {
          replaceKids(box, [h('p', { class: 'msg msg--ok' }, '没有用旧版本答复过的工单。'), csv]);
          return;
        }
        replaceKids(box, [
          h('div', { class: 'recall-head' }, h('strong', null, '共 ' + total + ' 张工单'), csv),
          versions.map(function (v) {
            return h('div', { class: 'recall-version' },
              h('div', { class: 'small' }, '第 ' + v.version + ' 版答复 · ' + v.tickets.length + ' 张'),
              h('ul', { class: 'recall-tickets mono' }, v.tickets.map(function (t) { return h('li', null, t); })));
          })
        ]);
      }, function (e) {
        if (e.status !== 401) replaceKids(box, h('p', { class: 'msg msg--error' }, '查询失败：' + e.message));
      });
    });
  }

  // ---------------------------------------------------------------------
  // "How would the bot answer?"
  // ---------------------------------------------------------------------

  function onTry(ev) {
    if (ev) ev.preventDefault();
    var text = $('try-text').value.trim();
    var box = $('try-result');
    if (!text) {
      replaceKids(box, h('p', { class: 'msg msg--warn' }, '请输入一句市民的提问'));
      $('try-text').focus();
      return;
    }
    withBusy($('try-submit'), function () {
      return api('POST', '/kb/try', { text: text }).then(function (d) { renderTry(d, text); }, function (e) {
        if (e.status !== 401) replaceKids(box, h('p', { class: 'msg msg--error' }, '试答失败：' + e.message));
      });
    });
  }

  function entryLink(id, title) {
    return h('button', { type: 'button', class: 'linkish', 'data-open-entry': id, title: '打开条目 ' + id }, title || id);
  }

  function renderTry(d, question) {
    var label = DECISION_LABELS[d.type];
    var rows = [];
    if (d.entry_id) {
      rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '命中条目'),
        h('span', { class: 'v' }, entryLink(d.entry_id, d.entry_title),
          h('span', { class: 'muted small' }, ' ' + d.entry_id + ' · 第 ' + d.version + ' 版'))));
    }
    if (typeof d.confidence === 'number') {
      var pct = Math.round(d.confidence * 100);
      rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '置信度'),
        h('span', { class: 'v' }, h('meter', { min: '0', max: '1', low: '0.4', high: '0.7', optimum: '1',
          value: String(d.confidence), 'aria-label': '置信度' }), ' ' + pct + '%')));
    }
    if (d.options && d.options.length) {
      rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '候选条目'),
        h('ol', { class: 'v try-options' }, d.options.map(function (o) { return h('li', null, entryLink(o.entry_id, o.title)); }))));
    }
    if (d.line) rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '分流至'), h('span', { class: 'v' }, d.line)));
    if (d.kind) rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '诉求类型'), h('span', { class: 'v' }, KIND_LABELS[d.kind] || d.kind)));
    if (d.urgency) rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '办理时限'), h('span', { class: 'v' }, URGENCY_LABELS[d.urgency] || d.urgency)));
    if (d.location && (d.location.district || d.location.street)) {
      rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '识别地点'),
        h('span', { class: 'v' }, [d.location.district, d.location.street].filter(Boolean).join(' '))));
    }
    var reasons = (d.reasons || []).map(function (r) {
      var t = reasonText(r);
      return t ? h('li', null, t) : h('li', { class: 'raw', title: '未翻译的判断依据' }, r);
    });
    if (reasons.length) rows.push(h('div', { class: 'kv-row' }, h('span', { class: 'k' }, '判断依据'), h('ul', { class: 'v reasons' }, reasons)));

    replaceKids($('try-result'), [
      h('div', { class: 'try-head' },
        h('span', { class: 'chip d-' + d.type, 'data-decision': d.type }, label || d.type),
        h('span', { class: 'muted small try-q', title: question }, '“' + question + '”')),
      rows,
      h('div', { class: 'try-reply-label small muted' }, '机器人回复'),
      h('blockquote', { class: 'try-reply' }, d.reply || ''),
      typeof d.revision === 'number' ? h('p', { class: 'hint' }, '知识库修订号 ' + d.revision + '（已发布内容）') : null
    ]);
  }

  // ---------------------------------------------------------------------
  // Review queue
  // ---------------------------------------------------------------------

  function loadQueue(opts) {
    opts = opts || {};
    if (!isReviewer()) return Promise.resolve();
    if (!opts.quiet && !state.queue.length) setMsg($('queue-msg'), '正在加载…');
    return api('GET', '/kb/review-queue').then(function (data) {
      state.queue = data.items || [];
      renderQueue();
      setMsg($('queue-msg'), state.queue.length ? '' : '没有待审核的条目。');
    }, function (e) {
      if (e.status !== 401 && !opts.quiet) setMsg($('queue-msg'), '审核队列加载失败：' + e.message, 'error');
    });
  }

  function renderQueue() {
    var n = state.queue.length;
    $('review-count').textContent = n ? String(n) : '';
    $('queue-count').textContent = '共 ' + n + ' 条';
    var selected = state.review && state.review.entryId;
    var focusedId = document.activeElement && document.activeElement.classList &&
      document.activeElement.classList.contains('review-row') ? document.activeElement.getAttribute('data-entry-id') : null;
    var rovingId = focusedId || selected;
    if (!state.queue.some(function (s) { return s.id === rovingId; })) rovingId = n ? state.queue[0].id : null;
    replaceKids($('review-queue'), state.queue.map(function (s) {
      var on = s.id === selected;
      return h('li', { class: 'review-row' + (on ? ' is-selected' : ''), 'data-entry-id': s.id,
        tabindex: s.id === rovingId ? '0' : '-1',
        'aria-current': on ? 'true' : null },
        h('div', { class: 'r-title' }, s.title),
        h('div', { class: 'r-meta' },
          h('span', { class: 'mono' }, s.id),
          h('span', null, '第 ' + s.latest_version + ' 版'),
          s.published_version ? h('span', { class: 'chip st-published' }, '修改已发布第 ' + s.published_version + ' 版') : h('span', { class: 'chip st-new' }, '新条目'),
          h('span', null, dash(s.category))),
        h('div', { class: 'r-meta muted' }, '提交于 ', timeEl(s.updated_at)));
    }));
    if (focusedId) {
      var again = $('review-queue').querySelector('.review-row[data-entry-id="' + cssEscape(focusedId) + '"]');
      if (again) again.focus();
    }
  }

  function onQueueClick(ev) {
    var li = ev.target.closest('.review-row');
    if (li) openReview(li.getAttribute('data-entry-id'));
  }

  function onQueueKeydown(ev) {
    var li = ev.target.closest('.review-row');
    if (!li) return;
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      openReview(li.getAttribute('data-entry-id'), { focus: true });
    } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      var next = ev.key === 'ArrowDown' ? li.nextElementSibling : li.previousElementSibling;
      if (next) moveRoving(li, next);
    }
  }

  function openReview(id, opts) {
    opts = opts || {};
    var seq = ++state.reviewSeq;
    state.review = { entryId: id };
    renderQueue();
    $('review-empty').hidden = true;
    $('review-body').hidden = false;
    $('review-heading').textContent = '正在加载…';
    setMsg($('review-msg'), '');
    setMsg($('review-alert'), '', 'error');
    $('diff-view').replaceChildren();
    $('review-publish').disabled = true;
    $('review-reject').disabled = true;
    return api('GET', '/kb/entries/' + encodeURIComponent(id)).then(function (entry) {
      if (seq !== state.reviewSeq) return;
      var s = entry.state;
      var to = s.latest_version;
      var from = s.published_version && s.published_version !== to ? s.published_version : (to > 1 ? to - 1 : null);
      var toV = entry.versions.filter(function (v) { return v.version === to; })[0];
      state.review = { entryId: id, entry: entry, to: to, from: from };
      $('review-heading').textContent = s.title;
      var inReview = s.status === 'in_review';
      $('review-publish').disabled = !inReview;
      $('review-reject').disabled = !inReview;
      if (!inReview) setMsg($('review-msg'), '该条目当前状态为“' + (STATUS_LABELS[s.status] || s.status) + '”，不在审核中。', 'warn');
      else if (toV && toV.author === me()) setMsg($('review-msg'), '您是第 ' + to + ' 版的编辑人，按两人审核规则须由另一位审核人发布。', 'warn');
      var roles = function (d) { return { from: roleOf(s, d.from), to: roleOf(s, d.to) }; };
      if (from === null) {
        var d = syntheticDiff(toV);
        renderDiff($('diff-view'), d, roles(d));
      } else {
        return fetchDiff(id, from, to).then(function (diff) {
          if (seq !== state.reviewSeq) return;
          renderDiff($('diff-view'), diff, roles(diff));
        });
      }
    }).then(function () {
      if (opts.focus && seq === state.reviewSeq) $('review-heading').focus();
    }, function (e) {
      if (seq !== state.reviewSeq || e.status === 401) return;
      setMsg($('review-alert'), '加载失败：' + e.message, 'error');
    });
  }

  function onReviewPublish() {
    var r = state.review;
    if (!r || !r.entry) return;
    var btn = $('review-publish');
    setMsg($('review-alert'), '', 'error');
    withBusy(btn, function () {
      return publish(r.entryId, r.to).then(function () {
        if (state.entryId === r.entryId && !isDirty()) loadEntry(r.entryId, { keepForm: false });
        setMsg($('review-msg'), '已发布「' + r.entry.state.title + '」第 ' + r.to + ' 版，机器人已改用新内容答复。', 'ok');
        return true;
      }, function (e) {
        setMsg($('review-msg'), '');
        setMsg($('review-alert'), e.message, 'error');
        return false;
      });
    }).then(function (ok) {
      if (ok) { $('review-publish').disabled = true; $('review-reject').disabled = true; }
    });
  }

  function onReviewReject() {
    var r = state.review;
    if (!r || !r.entry) return;
    askRejectReason('「' + r.entry.state.title + '」第 ' + r.to + ' 版').then(function (reason) {
      if (reason === null) return;
      setMsg($('review-alert'), '', 'error');
      withBusy($('review-reject'), function () {
        return api('POST', '/kb/entries/' + encodeURIComponent(r.entryId) + '/reject', { reason: reason }).then(function () {
          loadQueue({ quiet: true });
          loadList();
          if (state.entryId === r.entryId) loadEntry(r.entryId, { keepForm: true });
          setMsg($('review-msg'), '已退回「' + r.entry.state.title + '」，条目恢复为草稿。', 'ok');
          return true;
        }, function (e) {
          setMsg($('review-alert'), e.message, 'error');
          return false;
        });
      }).then(function (ok) {
        if (ok) { $('review-publish').disabled = true; $('review-reject').disabled = true; }
      });
    });
  }

  // ---------------------------------------------------------------------
  // Synonyms
  // ---------------------------------------------------------------------

  function loadSynonyms() {
    setMsg($('synonyms-msg'), '正在加载…');
    return api('GET', '/kb/synonyms').then(function (data) {
      var text = (data.groups || []).map(function (g) { return g.join(' '); }).join('\n');
      $('synonyms-text').value = text;
      state.synonymsPristine = text;
      state.synonymsLoaded = true;
      $('synonyms-count').textContent = '共 ' + (data.groups || []).length + ' 组';
      setMsg($('synonyms-msg'), '');
    }, function (e) {
      if (e.status !== 401) setMsg($('synonyms-msg'), '同义词加载失败：' + e.message, 'error');
    });
  }

  function onSynonymsSave(ev) {
    ev.preventDefault();
    if (!isEditor()) return;
    var groups = [];
    var bad = [];
    $('synonyms-text').value.split(/\r?\n/).forEach(function (line, i) {
      var terms = [];
      line.split(/[\s,，、;；]+/).map(function (t) { return t.trim(); }).filter(Boolean)
        .forEach(function (t) { if (terms.indexOf(t) === -1) terms.push(t); });
      if (!terms.length) return;
      if (terms.length < 2) bad.push(i + 1);
      groups.push(terms);
    });
    var err = $('synonyms-error');
    if (bad.length) {
      err.textContent = '第 ' + bad.join('、') + ' 行只有一个词：每组至少需要两个词';
      $('synonyms-text').setAttribute('aria-invalid', 'true');
      $('synonyms-text').focus();
      return;
    }
    err.textContent = '';
    $('synonyms-text').removeAttribute('aria-invalid');
    withBusy($('synonyms-save'), function () {
      return api('PUT', '/kb/synonyms', { groups: groups }).then(function (data) {
        var text = (data.groups || []).map(function (g) { return g.join(' '); }).join('\n');
        $('synonyms-text').value = text;
        state.synonymsPristine = text;
        $('synonyms-count').textContent = '共 ' + (data.groups || []).length + ' 组';
        setMsg($('synonyms-msg'), '已保存 ' + (data.groups || []).length + ' 组同义词，机器人已按新同义词检索。', 'ok');
      }, function (e) {
        if (e.status === 401) return;
        if (e.fields.length) err.textContent = e.fields.map(function (f) { return f.message; }).join('；');
        setMsg($('synonyms-msg'), '保存失败：' + e.message, 'error');
      });
    });
  }

  // ---------------------------------------------------------------------
  // Import
  // ---------------------------------------------------------------------

  function stopImportPolling() {
    clearTimeout(state.importTimer);
    state.importTimer = null;
    state.importJob = null;
  }

  function onImportFileChange() {
    var f = $('import-file').files[0];
    $('import-file-name').textContent = f ? f.name : '未选择文件';
    if (!f) return;
    if (/\.csv$/i.test(f.name)) $('import-format').value = 'csv';
    else if (/\.ya?ml$/i.test(f.name)) $('import-format').value = 'yaml';
  }

  function onImportStart(ev) {
    ev.preventDefault();
    if (!isEditor() || state.importJob) return;
    var file = $('import-file').files[0];
    var fmt = $('import-format').value;
    $('import-result').replaceChildren();
    $('import-errors-block').hidden = true;
    $('import-status').hidden = true;
    if (!file) {
      setMsg($('import-msg'), '请先选择要导入的文件', 'error');
      $('import-file').focus();
      return;
    }
    if (file.size > 20 * 1024 * 1024) {
      setMsg($('import-msg'), '导入文件不能超过20MB', 'error');
      return;
    }
    setMsg($('import-msg'), '正在上传「' + file.name + '」…');
    var btn = $('import-start');
    btn.disabled = true;
    btn.setAttribute('aria-busy', 'true');
    api('POST', '/kb/import?format=' + fmt, file, { raw: true, contentType: fmt === 'csv' ? 'text/csv' : 'application/yaml' })
      .then(function (job) {
        state.importJob = job.id;
        setMsg($('import-msg'), '正在校验「' + file.name + '」…');
        renderImport(job);
      }, function (e) {
        importFinished();
        if (e.status !== 401) setMsg($('import-msg'), '导入失败：' + e.message, 'error');
      });
  }

  function importFinished() {
    var btn = $('import-start');
    btn.disabled = false;
    btn.removeAttribute('aria-busy');
    stopImportPolling();
  }

  function pollImport() {
    var job = state.importJob;
    if (!job) return;
    api('GET', '/kb/import/' + encodeURIComponent(job)).then(function (data) {
      if (state.importJob !== job) return;
      renderImport(data);
    }, function (e) {
      if (state.importJob !== job) return;
      importFinished();
      if (e.status !== 401) setMsg($('import-msg'), '无法获取导入进度：' + e.message, 'error');
    });
  }

  function renderImport(job) {
    var total = job.total || 0;
    var done = Math.min(job.done || 0, total);
    var bar = $('import-progress');
    $('import-status').hidden = false;
    bar.max = Math.max(total, 1);
    bar.value = total ? done : (job.phase === 'validating' ? 0 : 1);
    $('import-progress-text').textContent = '已校验 ' + done + ' / ' + total + ' 行';

    if (job.phase === 'validating' || job.phase === 'applying') {
      if (job.phase === 'applying') setMsg($('import-msg'), '校验通过，正在写入…');
      state.importTimer = setTimeout(pollImport, IMPORT_POLL_MS);
      return;
    }
    importFinished();
    if (job.phase === 'done') {
      var r = job.result || {};
      setMsg($('import-msg'), '导入完成。', 'ok');
      replaceKids($('import-result'), [
        h('dl', { class: 'import-counts' },
          h('div', null, h('dt', null, '新建'), h('dd', { id: 'import-created' }, String(r.created || 0))),
          h('div', null, h('dt', null, '更新'), h('dd', { id: 'import-updated' }, String(r.updated || 0))),
          h('div', null, h('dt', null, '未变化'), h('dd', { id: 'import-unchanged' }, String(r.unchanged || 0)))),
        (r.created || r.updated) ? h('p', { class: 'hint' }, '新建和更新的条目均为草稿，需提交审核、发布后才会对市民生效。') : null
      ]);
      loadList();
      if (state.entryId && !isDirty()) loadEntry(state.entryId);
      return;
    }
    // failed
    setMsg($('import-msg'), '');
    var errors = job.errors || [];
    var tbody = $('import-errors').tBodies[0];
    replaceKids(tbody, errors.map(function (e) {
      return h('tr', null,
        h('td', { class: 'num' }, e.row ? String(e.row) : '—'),
        h('td', { class: 'mono' }, dash(e.entry_id)),
        h('td', null, fieldLabel(e.field)),
        h('td', { class: 'err' }, withRule(e.field, e.message)));
    }));
    $('import-errors-note').textContent = '文件有错误，未导入任何条目' +
      (errors.length ? '（共 ' + errors.length + (errors.length >= 1000 ? ' 条以上，仅显示前 1000 条' : ' 处') + '）' : '');
    $('import-errors-block').hidden = false;
  }

  // ---------------------------------------------------------------------
  // Wiring
  // ---------------------------------------------------------------------

  function bindEvents() {
    Object.keys(TABS).forEach(function (k) {
      $(TABS[k].tab).addEventListener('click', function () { switchTab(k); });
      $(TABS[k].tab).addEventListener('keydown', onTabKeydown);
    });

    // List
    $('entry-list').addEventListener('click', onListClick);
    $('entry-list').addEventListener('keydown', onListKeydown);
    $('entry-search').addEventListener('input', scheduleListReload);
    $('entry-search').addEventListener('keydown', function (ev) {
      if (ev.key === 'ArrowDown') {
        var first = $('entry-list').querySelector('tr.entry-row[tabindex="0"]') || $('entry-list').querySelector('tr.entry-row');
        if (first) { ev.preventDefault(); first.focus(); }
      } else if (ev.key === 'Enter') {
        ev.preventDefault();
        clearTimeout(state.searchTimer);
        loadList();
      }
    });
    ['filter-status', 'filter-category', 'filter-expiring', 'filter-review-overdue'].forEach(function (id) {
      $(id).addEventListener('change', loadList);
    });
    $('entry-reload').addEventListener('click', function () { withBusy($('entry-reload'), loadList); });
    $('entry-new').addEventListener('click', newEntry);

    // Editor
    $('entry-editor').addEventListener('submit', onSave);
    $('entry-editor').addEventListener('input', function (ev) {
      if (ev.target.id === 'field-answer') updateAnswerCount();
      if (ev.target.getAttribute('aria-invalid') === 'true') {
        ev.target.removeAttribute('aria-invalid');
        setFieldError(ev.target.id + '-error', '');
      }
      updateDirty();
    });
    $('entry-editor').addEventListener('change', updateDirty);
    $('entry-submit').addEventListener('click', onSubmitForReview);
    $('entry-publish').addEventListener('click', onPublish);
    $('entry-reject').addEventListener('click', onReject);
    $('entry-archive').addEventListener('click', onArchive);
    $('entry-close').addEventListener('click', function () { closeEditor(false); });
    $('entry-alert').addEventListener('click', function (ev) {
      if (ev.target.id === 'entry-load-latest' && state.entryId) {
        state.pristine = formSnapshot();
        loadEntry(state.entryId, { msg: '已载入最新版本。', msgKind: 'ok' });
      }
    });
    $('version-list').addEventListener('click', onVersionListClick);
    $('audit-refresh').addEventListener('click', function () { withBusy($('audit-refresh'), loadAudit); });
    $('recall').addEventListener('click', onRecall);

    // Ctrl+S saves, anywhere on the entries tab.
    document.addEventListener('keydown', function (ev) {
      if ((ev.ctrlKey || ev.metaKey) && (ev.key === 's' || ev.key === 'S') && state.tab === 'entries' &&
          !$('entry-editor').hidden && isEditor()) {
        ev.preventDefault();
        if (!$('entry-save').disabled) onSave();
      }
    });

    // Try
    $('try-form').addEventListener('submit', onTry);
    $('try-text').addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); onTry(); }
    });

    // Entry links anywhere (try results).
    document.addEventListener('click', function (ev) {
      var t = ev.target.closest && ev.target.closest('[data-open-entry]');
      if (t) openEntry(t.getAttribute('data-open-entry'), { focus: true });
    });

    // Diff dialog
    $('diff-from').addEventListener('change', loadDialogDiff);
    $('diff-close').addEventListener('click', function () { $('diff-dialog').close(); });

    // Review
    $('review-queue').addEventListener('click', onQueueClick);
    $('review-queue').addEventListener('keydown', onQueueKeydown);
    $('review-reload').addEventListener('click', function () { withBusy($('review-reload'), loadQueue); });
    $('review-publish').addEventListener('click', onReviewPublish);
    $('review-reject').addEventListener('click', onReviewReject);
    $('review-open').addEventListener('click', function () {
      if (state.review) openEntry(state.review.entryId, { focus: true });
    });

    // Synonyms
    $('synonyms-form').addEventListener('submit', onSynonymsSave);
    $('synonyms-revert').addEventListener('click', function () {
      $('synonyms-text').value = state.synonymsPristine;
      $('synonyms-error').textContent = '';
      $('synonyms-text').removeAttribute('aria-invalid');
      setMsg($('synonyms-msg'), '');
    });

    // Import
    $('import-file').addEventListener('change', onImportFileChange);
    $('import-form').addEventListener('submit', onImportStart);

    window.addEventListener('beforeunload', function (ev) {
      var synonymsDirty = state.synonymsLoaded && $('synonyms-text').value !== state.synonymsPristine;
      if (Staff.user() && (isDirty() || synonymsDirty)) { ev.preventDefault(); ev.returnValue = ''; }
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
