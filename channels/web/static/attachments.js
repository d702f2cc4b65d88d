/*
 * Request form: the attachment picker (#attachments) - the list of chosen files with their
 * sizes and problems, a 移除 button per file where the browser allows editing the list, and the
 * running total.
 */
import { MAX_FILES, MAX_TOTAL_BYTES, fileProblem } from './form-rules.js';
import { formatSize } from './util.js';

let fileInput = null;
let onChange = function () {};

const canEditFileList = (function () {
  try {
    return typeof DataTransfer !== 'undefined' && !!new DataTransfer().items;
  } catch (e) {
    return false;
  }
})();

/** The files currently chosen, as an array. */
export function selectedFiles() {
  return fileInput && fileInput.files ? Array.prototype.slice.call(fileInput.files) : [];
}

function removeFile(index) {
  const dt = new DataTransfer();
  selectedFiles().forEach(function (f, i) {
    if (i !== index) {
      dt.items.add(f);
    }
  });
  fileInput.files = dt.files;
  renderFiles();
  onChange();
  fileInput.focus();
}

function fileItem(file, i) {
  const li = document.createElement('li');
  const problem = fileProblem(file);
  if (problem) {
    li.className = 'file-list__bad';
  }
  const info = document.createElement('span');
  const nameEl = document.createElement('span');
  nameEl.className = 'file-list__name';
  nameEl.textContent = file.name;
  const sizeEl = document.createElement('span');
  sizeEl.className = 'file-list__size';
  sizeEl.textContent = formatSize(file.size) + (problem ? '（' + problem + '）' : '');
  info.appendChild(nameEl);
  info.appendChild(sizeEl);
  li.appendChild(info);
  if (canEditFileList) {
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'btn btn--link';
    btn.textContent = '移除';
    btn.setAttribute('aria-label', '移除文件 ' + file.name);
    btn.addEventListener('click', function () {
      removeFile(i);
    });
    li.appendChild(btn);
  }
  return li;
}

/** Draws the list of chosen files and the summary line under it. */
export function renderFiles() {
  const fileList = document.getElementById('attachments-list');
  const fileSummary = document.getElementById('attachments-summary');
  const files = selectedFiles();
  fileList.textContent = '';
  const none = document.getElementById('attachments-none');
  if (none) {
    none.textContent = files.length ? '已选择' + files.length + '个文件' : '未选择文件';
  }
  if (!files.length) {
    fileList.hidden = true;
    fileSummary.textContent = '';
    return;
  }
  let total = 0;
  files.forEach(function (file, i) {
    total += file.size;
    fileList.appendChild(fileItem(file, i));
  });
  fileList.hidden = false;
  let text = '已选择 ' + files.length + ' 个文件，合计 ' + formatSize(total) + '。';
  if (files.length > MAX_FILES) {
    text += '最多只能上传' + MAX_FILES + '个。';
  } else if (total > MAX_TOTAL_BYTES) {
    text += '合计超过50MB。';
  }
  fileSummary.textContent = text;
}

/** Wires the file input of `form`; `changed()` runs after every change of the selection. */
export function initAttachments(form, changed) {
  fileInput = form.elements.namedItem('attachments');
  onChange = changed;
  if (fileInput) {
    fileInput.addEventListener('change', function () {
      renderFiles();
      onChange();
    });
    renderFiles(); // files kept by the browser after a reload
  }
}
