/*
 * The "大字模式" (large text) preference of the citizen pages: applied when this module is
 * loaded, kept in localStorage and in step across open tabs.
 */

var LARGE_TEXT_KEY = 'bj12345.portal.largeText';
var LARGE_TEXT_CLASS = 'large-text';

// ---------------------------------------------------------------------------
// Large-text preference

function readLargeTextPref() {
  try {
    return window.localStorage.getItem(LARGE_TEXT_KEY) === '1';
  } catch (e) {
    return false; // storage blocked (private mode, policy)
  }
}

function writeLargeTextPref(on) {
  try {
    if (on) {
      window.localStorage.setItem(LARGE_TEXT_KEY, '1');
    } else {
      window.localStorage.removeItem(LARGE_TEXT_KEY);
    }
  } catch (e) {
    /* ignore: the mode still applies to this page view */
  }
}

function applyLargeText(on) {
  var root = document.documentElement;
  if (on) {
    root.classList.add(LARGE_TEXT_CLASS);
  } else {
    root.classList.remove(LARGE_TEXT_CLASS);
  }
}

// Applied as soon as this module runs (before DOMContentLoaded).
applyLargeText(readLargeTextPref());

export function initTextSizeToggle() {
  var btn = document.getElementById('text-size-toggle');
  if (!btn) {
    return;
  }
  var sync = function () {
    var on = document.documentElement.classList.contains(LARGE_TEXT_CLASS);
    btn.setAttribute('aria-pressed', on ? 'true' : 'false');
  };
  btn.hidden = false; // only useful with JS, so hidden in the markup
  sync();
  btn.addEventListener('click', function () {
    var on = !document.documentElement.classList.contains(LARGE_TEXT_CLASS);
    applyLargeText(on);
    writeLargeTextPref(on);
    sync();
  });
  // Keep several open tabs in step.
  window.addEventListener('storage', function (ev) {
    if (ev.key === LARGE_TEXT_KEY) {
      applyLargeText(ev.newValue === '1');
      sync();
    }
  });
}
