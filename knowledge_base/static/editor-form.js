/*
 * The knowledge-base workspace (/kb), entry editor: the form and the entry content (reading,
 * checks, field errors).
 */
import { $ } from '/static/common/staff.js';
import { ENTRY_ID_RE, FIELDS, FIELD_INPUTS, FIELD_LABELS, FORM_INPUT_IDS, state, withRule } from './common.js';
import { updateEditorButtons } from './editor.js';

// ---------------------------------------------------------------------
// Editor: form <-> content
// ---------------------------------------------------------------------

export function formSnapshot() {
  return JSON.stringify(FORM_INPUT_IDS.map(function (id) {
    var el = $(id);
    return el.type === 'checkbox' ? el.checked : el.value;
  }));
}

export function isDirty() {
  if (!state.isNew && !state.entry) return false;
  return formSnapshot() !== state.pristine;
}

export function fillForm(v) {
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
export function readForm() {
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

export function setFieldError(errId, text) {
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
export function showFieldErrors(errors) {
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
export function serverFieldErrors(fields) {
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

export function updateAnswerCount() {
  var n = $('field-answer').value.trim().length;
  var el = $('field-answer-count');
  el.textContent = n + ' / 4000 字';
  el.classList.toggle('over', n > 4000);
}

export function updateDirty() {
  var dirty = isDirty();
  $('entry-dirty').hidden = !dirty;
  updateEditorButtons();
}
