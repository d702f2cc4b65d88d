/*
 * Beijing 12345 hotline - agent desktop: the ticket detail pane.
 *
 * Opens a ticket (keeping the unsent note of the one left), loads it and loads it again after a
 * live update, and renders it: badges, basic facts, requester (保密), place, content,
 * disposition, the case system's progress, links and 疑似重复 (duplicates.js), 回访, messages,
 * the call transcript, attachments, the history (history.js) and the delivery ledger. Then it
 * refreshes the forms beside it (actions.js, dispatch.js), the ticket's row, and the panels.
 */
import { $, API, dash, h, isBlank, replaceKids, setMsg, api } from '/static/common/staff.js';
import { AgentDesk, panelHooks } from './desk.js';
import { showDuplicates } from './duplicates.js';
import { state } from './state.js';
import {
  CASE_STATUS_LABELS, DISPOSITION_FIELDS, DISPOSITION_FIELD_LABELS, DISPOSITION_LABELS, DIVERT_LABELS, LEG_LABELS,
  LINK_LABELS, OUTCOME_BAD, OUTCOME_GOOD, OUTCOME_LABELS, PARTNER_STATUS_LABELS, SOURCE_LABELS, URGENCY_LABELS,
  WHO_LABELS, actorText, attKind, channelLabel, errorText, hopLabel, kindLabel, labelled, partnerName, statusLabel,
  targetLabel
} from './labels.js';
import { dueEl, fmtBytes, fmtDuration, fmtPhone, fmtSpan, timeEl } from './format.js';
import { channelChip, empty, kindChip, kv, secretBadge, section, statusChip, ticketLink } from './parts.js';
import { fmtValue, historyItem } from './history.js';
import { markSeen, syncRowFromTicket, updateRow } from './list.js';
import { fillCorrectForm, updateForwardButton } from './actions.js';
import { renderDispatch, syncPartnerButton } from './dispatch.js';

export function closeDetail() {
  state.selectedId = null;
  state.detail = null;
  state.detailSeq++;
  state.correctDirty = false;
  state.dispatchDirty = false;
  $('dispatch-view').replaceChildren();
  $('dispatch-units').replaceChildren();
  $('dispatch-unit').value = '';
  $('dispatch-category').value = '';
  $('detail-body').hidden = true;
  $('detail-empty').hidden = false;
  $('detail-content').replaceChildren();
  $('detail-ledger').replaceChildren();
  $('detail-badges').replaceChildren();
  $('detail-heading').textContent = '';
  $('note-text').value = '';
  setMsg($('action-msg'), '');
  setMsg($('detail-loading'), '');
  updateForwardButton();
  panelHooks.ticketClosed();
}

function setSelected(id) {
  var prev = state.selectedId;
  state.selectedId = id;
  if (prev && prev !== id) updateRow(prev);
  updateRow(id);
}

export function openTicket(id, opts) {
  if (!id) return;
  opts = opts || {};
  var switching = state.selectedId !== id;
  if (switching && state.selectedId) state.drafts.set(state.selectedId, $('note-text').value);
  setSelected(id);
  markSeen(id);

  $('detail-empty').hidden = true;
  $('detail-body').hidden = false;
  $('detail-heading').textContent = '工单 ' + id;
  if (switching) {
    state.detail = null;
    state.correctDirty = false;
    state.dispatchDirty = false;
    $('dispatch-view').replaceChildren();
    $('detail-content').replaceChildren();
    $('detail-ledger').replaceChildren();
    $('detail-badges').replaceChildren();
    $('note-text').value = state.drafts.get(id) || '';
    setMsg($('action-msg'), '');
    updateForwardButton();
  }
  if (opts.focus) $('detail-heading').focus();
  return loadDetail(id, { resetForm: switching });
}

export function loadDetail(id, opts) {
  var seq = ++state.detailSeq;
  setMsg($('detail-loading'), state.detail ? '' : '正在加载工单详情…');
  return api('GET', '/agent/tickets/' + encodeURIComponent(id)).then(function (t) {
    if (seq !== state.detailSeq || state.selectedId !== id) return;
    setMsg($('detail-loading'), '');
    renderDetail(t, opts);
  }, function (e) {
    if (seq !== state.detailSeq || e.status === 401) return;
    setMsg($('detail-loading'), '工单详情加载失败：' + e.message, 'error');
  });
}

var partnerNamesTimer = null;
export function schedulePartnerNamesRender() {
  clearTimeout(partnerNamesTimer);
  partnerNamesTimer = setTimeout(function () {
    if (state.detail && state.detail.id === state.selectedId) renderDetail(state.detail, { resetForm: false });
  }, 50);
}

export function scheduleDetailRefresh() {
  clearTimeout(state.detailRefreshTimer);
  state.detailRefreshTimer = setTimeout(function () {
    if (state.selectedId) loadDetail(state.selectedId, { resetForm: false });
  }, 400);
}

export function renderDetail(t, opts) {
  opts = opts || {};
  state.detail = t;
  var req = t.requester || {};
  var loc = t.location || null;

  $('detail-heading').textContent = '工单 ' + t.id;
  replaceKids($('detail-badges'), [
    statusChip(t.status),
    kindChip(t.kind),
    channelChip(t.channel),
    t.urgency && t.urgency !== 'normal' && URGENCY_LABELS[t.urgency]
      ? h('span', { class: 'chip chip--urgent' }, URGENCY_LABELS[t.urgency]) : null,
    req.confidential ? secretBadge(false) : null
  ]);

  var parts = [];

  // Basic facts
  parts.push(section('基本信息', kv([
    ['受理时间', timeEl(t.received_at)],
    ['办理时限', dueEl(t.due_at, t.status)],
    ['最近更新', timeEl(t.updated_at)],
    ['受理渠道', channelLabel(t.channel)],
    ['诉求类型', kindLabel(t.kind)],
    ['办理状态', statusLabel(t.status)],
    ['紧急程度', labelled(URGENCY_LABELS[t.urgency], t.urgency)],
    t.source && t.source.channel_id
      ? ['来源编号', h('span', { class: 'mono source-id', title: '受理渠道内的原始编号' }, String(t.source.channel_id))] : null
  ]), 'd-basic'));

  // Requester
  var reqBody = [];
  if (req.confidential) {
    reqBody.push(h('p', { class: 'secret-note' }, secretBadge(true),
      ' 诉求人要求对个人信息保密，转派和答复时不得透露其姓名、电话。'));
  }
  reqBody.push(kv([
    ['电话', req.phone ? h('span', { class: 'phone', title: String(req.phone) }, fmtPhone(req.phone)) : '—'],
    ['姓名', dash(req.name)],
    req.wechat_openid ? ['微信 OpenID', String(req.wechat_openid)] : null,
    req.consent_share_partner !== undefined && req.consent_share_partner !== null
      ? ['同意向外省市共享', req.consent_share_partner ? '是' : '否'] : null
  ]));
  parts.push(section('诉求人', reqBody, 'd-requester' + (req.confidential ? ' is-confidential' : '')));

  // Location
  parts.push(section('地点', loc && (loc.district || loc.street || loc.text) ? kv([
    ['所在区', dash(loc.district)],
    loc.street ? ['街道（乡镇）', String(loc.street)] : null,
    ['详细地址', dash(addressText(loc))]
  ]) : empty('未提供地点'), 'd-location'));

  // Content
  parts.push(section('诉求内容', t.content
    ? h('p', { class: 'content-text' }, String(t.content)) : empty('（无内容）'), 'd-content'));

  // Disposition
  if (t.disposition) parts.push(section('处理结果', kv(dispositionPairs(t.disposition)), 'd-disposition'));

  // The case system's progress (受理, 办理中, 延期, 办结)
  if (t.case) parts.push(section('办理进展', kv(casePairs(t.case)), 'd-case'));

  // Links
  var links = t.links || {};
  var linkPairs = [];
  Object.keys(links).forEach(function (k) {
    var v = links[k];
    if (isBlank(v) || v === false || (Array.isArray(v) && !v.length)) return;
    var val;
    if (Array.isArray(v)) {
      val = h('span', { class: 'link-list' }, v.map(function (x) {
        if (x && typeof x === 'object' && x.ticket_id) {  // a duplicate candidate: id and similarity
          return h('span', null, ticketLink(x.ticket_id), ' 相似度 ' + Math.round((Number(x.score) || 0) * 100) + '%');
        }
        return typeof x === 'string' ? ticketLink(x) : h('span', null, fmtValue(x));
      }));
    } else if (typeof v === 'string' && /^[A-Z]{1,4}-/.test(v)) {
      val = ticketLink(v);
    } else {
      val = fmtValue(v);
    }
    linkPairs.push([LINK_LABELS[k] || k, val]);
  });
  if (linkPairs.length) parts.push(section('关联', kv(linkPairs), 'd-links'));
  // 疑似重复: side by side with 合并 (duplicates.js fills it once the detail is on screen).
  if (links.duplicates && links.duplicates.length) parts.push(h('section', { id: 'dup-compare', class: 'd-section d-duplicates' }));
  // 回访: the citizen's answer, once.
  if (t.followup) {
    var fu = t.followup;
    parts.push(section('回访', kv([
      ['是否解决', fu.resolved ? '已解决' : '未解决'],
      ['满意度', { satisfied: '满意', basically_satisfied: '基本满意', unsatisfied: '不满意' }[fu.satisfaction] || fu.satisfaction],
      ['原因', fu.reason || '—'], ['时间', timeEl(fu.at)], ['方式', { 'web-chat': '网站咨询', 'web-track': '进度查询页', wechat: '微信', phone: '电话回访' }[fu.channel] || fu.channel],
      ['记录人', actorText(fu.by)]
    ]), 'd-followup'));
  }

  // Messages
  var msgs = Array.isArray(t.messages) ? t.messages : [];
  parts.push(section('沟通记录（' + msgs.length + '）', msgs.length
    ? h('ol', { class: 'messages' }, msgs.map(function (m) {
      return h('li', { class: 'message who-' + (m.who || 'unknown') },
        h('div', { class: 'message-meta' },
          labelled(WHO_LABELS[m.who], m.who, 'message-who'),
          m.who === 'agent' && m.author ? h('span', { class: 'message-author' }, m.author) : null,
          timeEl(m.at),
          m.source ? labelled(SOURCE_LABELS[m.source], m.source, 'message-source') : null),
        h('p', { class: 'message-text' }, dash(m.text)));
    }))
    : empty('暂无沟通记录'), 'd-messages'));

  // Transcript (collapsed, can be long)
  var tr = Array.isArray(t.transcript) ? t.transcript : [];
  if (tr.length) {
    parts.push(h('section', { class: 'd-section d-transcript' },
      h('details', null,
        h('summary', { class: 'd-title' }, '通话转写（' + tr.length + ' 段）'),
        h('ol', { class: 'transcript' }, tr.map(function (s) {
          var low = typeof s.confidence === 'number' && s.confidence < 0.6;
          return h('li', { class: low ? 'low-confidence' : null },
            h('span', { class: 'leg' }, LEG_LABELS[s.leg] || dash(s.leg)),
            h('span', { class: 'muted' }, fmtSpan(s.start, s.end)),
            h('span', { class: 'transcript-text' }, dash(s.text)),
            low ? h('span', { class: 'muted' }, '（识别置信度低）') : null);
        })))));
  }

  // Attachments
  var atts = Array.isArray(t.attachments) ? t.attachments : [];
  parts.push(section('附件（' + atts.length + '）', atts.length
    ? h('ul', { class: 'attachments' }, atts.map(function (a) {
      var name = a.filename || (a.sha256 ? String(a.sha256).slice(0, 12) : '附件');
      return h('li', null,
        a.sha256
          ? h('a', { href: API + '/agent/blobs/' + encodeURIComponent(a.sha256), target: '_blank',
            rel: 'noopener', title: 'SHA-256 ' + a.sha256 }, name)
          : h('span', null, name),
        h('span', { class: 'muted' }, ' ' + [a.kind ? attKind(a.kind) : null, a.mime, fmtBytes(a.size)]
          .filter(Boolean).join(' · ')));
    }))
    : empty('无附件'), 'd-attachments'));

  // History timeline
  var hist = Array.isArray(t.history) ? t.history : [];
  parts.push(section('处理记录（' + hist.length + '）', hist.length
    ? h('ol', { class: 'timeline' }, hist.map(historyItem))
    : empty('暂无处理记录'), 'd-history'));

  // Delivery ledger: rendered full width below the two columns (wide table).
  var dels = Array.isArray(t.deliveries) ? t.deliveries : [];
  var ledger = section('投递记录（' + dels.length + '）', dels.length
    ? h('div', { class: 'table-wrap' }, h('table', { class: 'table deliveries' },
      h('thead', null, h('tr', null,
        ['环节', '次数', '时间', '结果', '接收方', '状态码', '案件编号', '错误或说明', '下次重试', '耗时']
          .map(function (c) { return h('th', { scope: 'col' }, c); }))),
      h('tbody', null, dels.map(function (d) {
        var oc = String(d.outcome || '');
        return h('tr', { class: 'delivery-row' },
          h('td', { class: 'nowrap' }, labelled(hopLabel(d.hop), d.hop)),
          h('td', { class: 'num' }, dash(d.attempt)),
          h('td', null, timeEl(d.at)),
          h('td', { class: 'nowrap' }, labelled(OUTCOME_LABELS[oc], d.outcome,
            'outcome ' + (OUTCOME_GOOD[oc] ? 'outcome--ok' : OUTCOME_BAD[oc] ? 'outcome--bad' : 'outcome--other'))),
          h('td', { class: 'nowrap' }, labelled(targetLabel(d.target), d.target)),
          h('td', { class: 'num' }, dash(d.status_code)),
          h('td', { class: 'mono case-id' }, dash(d.case_id)),
          h('td', { class: d.error ? 'err' : null }, d.error ? errorText(d.error) : (d.note ? String(d.note) : '—')),
          h('td', null, d.next_attempt_at ? timeEl(d.next_attempt_at) : '—'),
          h('td', { class: 'num' }, fmtDuration(d.duration_ms)));
      }))))
    : empty('尚未投递'), 'd-deliveries');

  replaceKids($('detail-content'), parts);
  replaceKids($('detail-ledger'), ledger);

  if (opts.resetForm || !state.correctDirty) fillCorrectForm(t);
  renderDispatch(t, opts.resetForm || !state.dispatchDirty);
  updateForwardButton();
  syncRowFromTicket(t);
  panelHooks.ticketRendered(t);
  if (document.getElementById('dup-compare')) showDuplicates(document.getElementById('dup-compare'), t, AgentDesk.reloadDetail);
  syncPartnerButton();
}

// The free-text address. Older tickets stored "朝阳区 望京…": drop that district prefix.
function addressText(loc) {
  var text = isBlank(loc.text) ? '' : String(loc.text).trim();
  if (loc.district && text.indexOf(loc.district + ' ') === 0) {
    var rest = text.slice(loc.district.length).trim();
    if (rest) text = rest;
  }
  return text;
}

function dispositionPairs(disp) {
  var pairs = [['处理方式', labelled(DISPOSITION_LABELS[disp.type], disp.type)]];
  var keys = DISPOSITION_FIELDS.filter(function (k) { return k in disp; });
  Object.keys(disp).forEach(function (k) {
    if (k !== 'type' && keys.indexOf(k) === -1) keys.push(k);
  });
  keys.forEach(function (k) {
    var v = disp[k];
    var val;
    if (isBlank(v)) val = '—';
    else if (k === 'at') val = timeEl(v);
    else if (k === 'target') val = labelled(targetLabel(v), v);
    else if (k === 'case_id' || k === 'receipt' || k === 'kb_entry_id') val = h('span', { class: 'mono' }, String(v));
    else if (k === 'kb_version') val = '第 ' + v + ' 版';
    else if (k === 'to') val = DIVERT_LABELS[String(v)] || String(v);
    else if (k === 'partner') val = partnerName(v);
    else if (k === 'partner_status') val = labelled(PARTNER_STATUS_LABELS[v], v);
    else if (k === 'status_at') val = timeEl(v);
    else if (k === 'transfer_id') val = h('span', { class: 'mono' }, String(v));
    else val = fmtValue(v);
    var label = DISPOSITION_FIELD_LABELS[k];
    pairs.push([label ? label : h('span', { class: 'raw' }, k), val]);
  });
  return pairs;
}

function casePairs(c) {
  return [
    ['案件编号', h('span', { class: 'mono' }, String(c.case_id))],
    ['办理状态', h('span', { class: 'case-status', 'data-status': c.status }, labelled(CASE_STATUS_LABELS[c.status], c.status))],
    ['状态时间', timeEl(c.status_at)],
    ['承办单位', dash(c.unit)],
    c.due_at ? ['延期至', timeEl(c.due_at)] : null,
    c.postponed_reason ? ['延期原因', String(c.postponed_reason)] : null,
    c.result ? ['办理结果', h('p', { class: 'content-text case-result' }, String(c.result))] : null,
    c.closed_at ? ['办结时间', timeEl(c.closed_at)] : null
  ];
}
