/*
 * The knowledge-base workspace (/kb): constants, labels, the shared state and small helpers.
 */
import * as Staff from '/static/common/staff.js';
import { dash, h, hasRole, isBlank } from '/static/common/staff.js';

// ---------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------

export const API = Staff.API;
export const IMPORT_POLL_MS = 300;
export const REVIEW_POLL_MS = 60000;
export const ENTRY_ID_RE = /^[a-z0-9][a-z0-9-]{2,63}$/;

export const ROLE_ORDER = ['admin', 'kb_editor', 'kb_reviewer', 'supervisor', 'agent'];
export const READ_ROLES = ['kb_editor', 'kb_reviewer', 'admin'];
const EDIT_ROLES = ['kb_editor', 'admin'];
const REVIEW_ROLES = ['kb_reviewer', 'admin'];

export const STATUS_LABELS = { draft: '草稿', in_review: '待审核', published: '已发布', archived: '已归档' };

export const DECISION_LABELS = {
  answer: '直接答复', clarify: '追问澄清', emergency: '紧急分流',
  legal_channel: '法定途径', handoff: '转人工', forward: '转办'
};
export const KIND_LABELS = Staff.KIND_LABELS;
export const URGENCY_LABELS = Staff.URGENCY_LABELS;

export const ACTION_LABELS = {
  created: '新建', saved: '保存', submitted: '提交审核', published: '发布', rejected: '退回',
  archived: '归档', rolled_back: '回滚', imported: '导入', synonyms_changed: '修改同义词',
  notice_published: '热点公告发布（免审）'
};
// Accounts the system itself uses.
const ACTOR_LABELS = { 'sample-import': '示例导入', 'system-seed': '系统初始化' };

// EntryContent fields, in form order.
export const FIELDS = ['title', 'phrasings', 'answer', 'links', 'category', 'department', 'policy_ref',
  'effective_from', 'expires_at', 'review_due', 'tags', 'sample'];
export const FIELD_LABELS = {
  id: '条目编号', title: '标题', phrasings: '其他问法', answer: '答复内容', links: '相关链接',
  category: '分类', department: '发布部门', policy_ref: '政策依据', effective_from: '生效日期',
  expires_at: '失效日期', review_due: '复核日期', tags: '标签', sample: '示例内容',
  entry: '整行', import: '写入', content: '内容'
};
export const FIELD_INPUTS = {
  id: 'field-id', title: 'field-title', phrasings: 'field-phrasings', answer: 'field-answer',
  links: 'field-links', category: 'field-category', department: 'field-department',
  policy_ref: 'field-policy-ref', effective_from: 'field-effective-from', expires_at: 'field-expires-at',
  review_due: 'field-review-due', tags: 'field-tags', sample: 'field-sample'
};
// Inputs whose value makes up the form's "dirty" state.
export const FORM_INPUT_IDS = ['field-id', 'field-title', 'field-phrasings', 'field-answer', 'field-category',
  'field-department', 'field-policy-ref', 'field-effective-from', 'field-expires-at', 'field-review-due',
  'field-tags', 'field-sample', 'field-links'];

// ---------------------------------------------------------------------
// State
// ---------------------------------------------------------------------

export const state = {
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

export function isEditor() { return hasRole(EDIT_ROLES); }
export function isReviewer() { return hasRole(REVIEW_ROLES); }
export function me() { var u = Staff.user(); return u ? u.username : ''; }

// 2025-11-23 09:05 (Beijing time), the full time on hover.
export function fmtDateTime(v) { return Staff.formatTime(v, 'long'); }
export function timeEl(v, cls) { return Staff.timeEl(v, cls, 'long'); }

// ---------------------------------------------------------------------
// Labels
// ---------------------------------------------------------------------

export function statusChip(status, label) {
  return h('span', { class: 'chip st-' + (status || 'none') }, STATUS_LABELS[status] || label || dash(status));
}

export function actorLabel(a) {
  if (isBlank(a)) return '—';
  return ACTOR_LABELS[a] || String(a);
}

export function fieldLabel(path) {
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
const LENGTH_RULES = {
  id: '3至64位', title: '2至200字', answer: '5至4000字', category: '1至40字', department: '不超过100字',
  policy_ref: '不超过200字', phrasings: '每项不超过200字，最多100项', tags: '每项不超过200字，最多30项',
  links: '最多10个，标题1至100字'
};

export function withRule(path, message) {
  var name = String(path || '').split('.');
  if (name[0] === 'content') name = name.slice(1);
  var rule = LENGTH_RULES[name[0]];
  if (rule && message === '长度不符合要求') return message + '（' + rule + '）';
  return message;
}

// The bot's reasons are short English notes for engineers: translate the known ones.
export function reasonText(r) {
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
