/*
 * Consultation chat: handing a forwarded conversation over to the request form (#request-form,
 * request-form.js) - its kind, description, place, phone and the related ticket are filled in and
 * the usual change events fired, so the form's own checks and counter follow.
 */
import { focusElement } from './util.js';

const TEXT_MAX = 2000;
const KINDS = ['consultation', 'help', 'complaint', 'report', 'suggestion', 'unsure'];

function displayPhone(phone) {
  const p = String(phone || '').replace(/\s+/g, '');
  if (/^\+861[3-9]\d{9}$/.test(p)) {
    return p.slice(3);
  }
  if (/^\+86[2-9]\d{6,}$/.test(p)) {
    return '0' + p.slice(3); // landline: back to the national format
  }
  return p;
}

function fire(node, type) {
  node.dispatchEvent(new Event(type, { bubbles: true }));
}

function fillPlace(prefill) {
  const district = document.getElementById('district');
  if (prefill.district && district) {
    const known = Array.prototype.some.call(district.options, function (o) {
      return o.value === prefill.district;
    });
    if (known) {
      district.value = prefill.district;
      fire(district, 'change');
    }
  }
  const address = document.getElementById('address');
  if (prefill.address && address) {
    address.value = String(prefill.address).slice(0, 200);
    fire(address, 'change');
  }
}

export function useForm(prefill) {
  const reqForm = document.getElementById('request-form');
  if (!reqForm) {
    return;
  }
  prefill = prefill || {};
  // After an earlier submission the form is replaced by the success panel.
  const result = document.getElementById('result');
  if (result && !result.hidden) {
    result.hidden = true;
  }
  reqForm.hidden = false;

  const kind = KINDS.indexOf(prefill.kind) !== -1 ? prefill.kind : 'unsure';
  const radio = reqForm.querySelector('input[name="kind"][value="' + kind + '"]');
  if (radio) {
    radio.checked = true;
    fire(radio, 'change');
  }
  const description = document.getElementById('description');
  if (prefill.description) {
    description.value = String(prefill.description).slice(0, TEXT_MAX);
    fire(description, 'input');
    fire(description, 'change');
  }
  fillPlace(prefill);
  const related = document.getElementById('related_ticket');
  if (related) {
    related.value = prefill.related_ticket || '';
  }
  const phone = document.getElementById('phone');
  if (prefill.phone && phone) {
    phone.value = displayPhone(prefill.phone);
    fire(phone, 'change');
  }
  focusElement(description);
}
