/*
 * Request form (index.html #request-form): the limits and the client-side checks. The server
 * remains authoritative; these only give earlier, Chinese messages.
 */
import { charCount, formatSize } from './util.js';

export const DESC_MIN = 5;
export const DESC_MAX = 2000;
const ADDRESS_MAX = 200;
const NAME_MAX = 50;
export const MAX_FILES = 5;
const MAX_FILE_BYTES = 20 * 1024 * 1024;
export const MAX_TOTAL_BYTES = 50 * 1024 * 1024;
const ALLOWED_TYPES = [
  'image/jpeg', 'image/jpg', 'image/pjpeg', 'image/png', 'image/gif', 'image/webp',
  'video/mp4', 'video/quicktime', 'video/webm'
];

// Field names exactly as in the API, with their Chinese labels (for the summary), in page order.
export const FIELD_LABELS = {
  kind: '诉求类型',
  description: '诉求描述',
  district: '所在区',
  address: '详细地址',
  phone: '联系电话',
  name: '姓名或称呼',
  confidential: '保密诉求',
  attachments: '附件'
};

// The fields checked here (the others only show the server's messages).
export const CHECKED_FIELDS = ['description', 'phone', 'address', 'name', 'attachments'];

/** Short note shown next to a selected file that will be refused, or ''. */
export function fileProblem(file) {
  if (file.size > MAX_FILE_BYTES) {
    return '超过20MB';
  }
  if (file.type && ALLOWED_TYPES.indexOf(file.type.toLowerCase()) === -1) {
    return '格式不支持';
  }
  return '';
}

function normalizedPhone(v) {
  return v.replace(/[\s\-()（）—－]/g, '').replace(/^(\+86|0086)(?=1\d{10}$)/, '');
}

function checkFiles(files) {
  if (files.length > MAX_FILES) {
    return '最多上传' + MAX_FILES + '个附件，您选择了' + files.length + '个';
  }
  let total = 0;
  for (const f of files) {
    total += f.size;
    if (f.size > MAX_FILE_BYTES) {
      return '文件“' + f.name + '”超过20MB，请压缩或更换后再上传';
    }
    if (f.type && ALLOWED_TYPES.indexOf(f.type.toLowerCase()) === -1) {
      return '文件“' + f.name + '”格式不支持，请上传 JPG、PNG、GIF、WEBP 图片或 MP4、MOV、WEBM 视频';
    }
  }
  if (total > MAX_TOTAL_BYTES) {
    return '附件合计不能超过50MB，当前为' + formatSize(total);
  }
  return '';
}

/** The message for one field of `form` ('' when fine); `files` are the selected attachments. */
export function checkField(form, name, files) {
  const value = function (field) {
    return form.elements.namedItem(field).value;
  };
  let v;
  switch (name) {
    case 'description':
      v = value('description').trim();
      if (!v) {
        return '请填写诉求描述';
      }
      if (charCount(v) < DESC_MIN) {
        return '诉求描述至少需要' + DESC_MIN + '个字';
      }
      if (charCount(value('description')) > DESC_MAX) {
        return '诉求描述不能超过' + DESC_MAX + '字';
      }
      return '';
    case 'phone':
      v = normalizedPhone(value('phone').trim());
      if (!v) {
        return '请填写联系电话';
      }
      if (!/^\+?\d{7,16}$/.test(v) || (/^1/.test(v) && !/^1[3-9]\d{9}$/.test(v))) {
        return '请输入有效的手机号码或固定电话';
      }
      return '';
    case 'address':
      return charCount(value('address')) > ADDRESS_MAX ?
        '详细地址不能超过' + ADDRESS_MAX + '字' : '';
    case 'name':
      return charCount(value('name')) > NAME_MAX ?
        '姓名或称呼不能超过' + NAME_MAX + '字' : '';
    case 'attachments':
      return checkFiles(files);
    default:
      return '';
  }
}

/** Every problem of the form as [{field, message}], in page order. */
export function validate(form, files) {
  const errors = [];
  CHECKED_FIELDS.forEach(function (name) {
    const msg = checkField(form, name, files);
    if (msg) {
      errors.push({ field: name, message: msg });
    }
  });
  return errors;
}
