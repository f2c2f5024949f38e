/**
 * The one error every call rejects with (ApiError), and how an answer becomes a body or an ApiError.
 */
'use strict';

/**
 * The one error every call rejects with.
 * status: the HTTP status (0: network failure or timeout); code: our envelope's code or PocketBase's
 * status; msg: our envelope's msg or PocketBase's message; data: their data ({} when none).
 */
class ApiError extends Error {
  constructor(status, code, msg, data) {
    super(msg);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.msg = msg;
    this.data = data && typeof data === 'object' ? data : {};
  }
}

// ------------------------------------------------------------------ helpers

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// PocketBase's own errors in words a user can read; its English message and data stay in ApiError.data.
var STATUS_MESSAGES = {
  401: '登录已失效,请重新登录',
  403: '无权访问',
  404: '记录不存在',
  413: '文件过大',
  429: '请求过于频繁,请稍后再试'
};

/**
 * The msg of an answer that is not our envelope, by status and the kind of call: a 400 to a read is its
 * filter (or sort) that PocketBase could not use, to a write the fields it refused. null: none fits.
 */
function statusMessage(status, kind) {
  if (status === 400) return kind === 'read' ? '筛选条件有误' : '提交的内容有误';
  if (STATUS_MESSAGES[status]) return STATUS_MESSAGES[status];
  if (status >= 500 && status < 600) return '服务暂不可用,请稍后再试';
  return null;
}

/**
 * An ApiError from an HTTP answer: our envelope {code, msg, data} as it is; PocketBase's {status,
 * message, data} with a Chinese msg and its whole body in data (data.message, data.data: the fields it
 * refused); anything else (nginx's HTML pages) by its status. kind: 'read' or 'write'.
 */
function answerError(status, body, kind) {
  if (isObject(body) && typeof body.msg === 'string') {
    return new ApiError(status, body.code !== undefined ? body.code : status, body.msg, body.data);
  }
  if (isObject(body) && typeof body.message === 'string') {
    var code = body.status !== undefined ? body.status : (body.code !== undefined ? body.code : status);
    var original = { status: code, message: body.message, data: isObject(body.data) ? body.data : {} };
    return new ApiError(status, code, statusMessage(status, kind) || '请求失败(HTTP ' + status + ')', original);
  }
  return new ApiError(status, status, statusMessage(status, kind) || '服务响应异常(HTTP ' + status + ')', {});
}

/**
 * An ApiError for a wx API whose fail callback ran: status 0, the errMsg kept in data. A temp file that
 * is gone (wx.uploadFile's "file not found", "no such file") is said so, not blamed on the network.
 */
function networkError(errMsg) {
  var text = String(errMsg || '');
  var msg = /file not (found|exist)|no such file/i.test(text) ? '文件不存在,请重新选择'
    : /timeout|timed out|超时/i.test(text) ? '请求超时,请稍后再试' : '网络请求失败,请检查网络';
  return new ApiError(0, 0, msg, { errMsg: text });
}

/** The body of a 2xx answer, or the ApiError of any other (kind: 'read' or 'write', see answerError). */
function ok(answer, kind) {
  if (answer.status >= 200 && answer.status < 300 && (isObject(answer.body) || Array.isArray(answer.body))) {
    return answer.body;
  }
  throw answerError(answer.status, answer.body, kind);
}

function okRead(answer) {
  return ok(answer, 'read');
}

function okWrite(answer) {
  return ok(answer, 'write');
}

module.exports = {
  ApiError: ApiError,
  isObject: isObject,
  answerError: answerError,
  networkError: networkError,
  ok: ok,
  okRead: okRead,
  okWrite: okWrite
};
