'use strict';
/**
 * A fake of the mini-program's `wx` that behaves as the base library does (developers.weixin.qq.com,
 * wx.request / wx.uploadFile / wx.login / wx.*StorageSync):
 *  - callbacks success / fail / complete, always asynchronous; success for ANY HTTP status, fail only
 *    when no answer came, with {errMsg: "request:fail ..."} ("uploadFile:fail ...", "login:fail ...");
 *  - the answer's `statusCode`, `header` and `data`: parsed with JSON.parse when dataType is json (the
 *    default), left a string when it does not parse or dataType is anything else;
 *  - request data: an object is a query string for GET and JSON for a JSON content-type (the default
 *    header), a string is sent as it is; only the documented methods (no PATCH);
 *  - wx.uploadFile sends multipart/form-data with the file in the part `name` and answers data as a string;
 *  - storage keeps values as JSON strings (a copy comes back; a missing key reads as "");
 *  - wx.login answers {code, errMsg: "login:ok"}.
 *  - wx.request({enableChunked: true}) (base library 2.20.2+) returns a RequestTask whose
 *    onChunkReceived(cb) hands {data: ArrayBuffer} pieces of the body as they arrive, cut anywhere (here by
 *    the `chunking` option, default pseudo-random cuts of 1 to 16 bytes, inside UTF-8 characters too); the
 *    body ends with success (statusCode, header; its data is not read by the client: an empty
 *    ArrayBuffer here), a broken stream with fail "request:fail ...", task.abort() with fail
 *    "request:fail abort"; the request's timeout counts from the start to the end of the body.
 *  - wx.requestSubscribeMessage({tmplIds}) answers success {errMsg: "requestSubscribeMessage:ok", <id>: result}
 *    with result 'accept' | 'reject' | 'ban' | 'filter' per id (the `subscribe` option: (tmplIds) -> {id:
 *    result}, default every one 'accept'), and fail {errMsg, errCode} for an empty or non-array tmplIds
 *    (10001), more than 5 ids (20003) or the `subscribeError` option ({errCode, errMsg}).
 * Where the requests go is the `send` option: (req) => Promise<{status, headers, body}>, req being
 * {method, url, headers, body: Buffer}; a rejection is a network failure (its message ends the errMsg).
 * For a chunked request (req.chunked is true) the answer may instead hold `stream` (an async iterable of Buffers or strings,
 * e.g. node's IncomingMessage) and `cancel()` (called when the task is aborted or times out).
 */

const METHODS = ['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT'];
const DEFAULT_TIMEOUT = 60000;
const MIME = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', pdf: 'application/pdf' };

function later(fn, arg) {
  if (typeof fn === 'function') setTimeout(() => fn(arg), 0);
}

function queryString(data) {
  return Object.keys(data).map((k) => encodeURIComponent(k) + '=' + encodeURIComponent(data[k])).join('&');
}

function headerValue(headers, name) {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** Runs one exchange with wx's callback and timeout rules; `answer(res)` maps the reply to success's res. */
function exchange(api, options, req, answer) {
  let settled = false;
  const finish = (callback, res) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    later(callback, res);
    later(options.complete, res);
  };
  const timer = setTimeout(() => finish(options.fail, { errMsg: api + ':fail timeout' }),
    options.timeout || DEFAULT_TIMEOUT);
  Promise.resolve().then(() => req()).then(
    (res) => finish(options.success, answer(res)),
    (err) => finish(options.fail, { errMsg: api + ':fail ' + (err && err.message ? err.message : String(err)) }));
  return { abort: () => finish(options.fail, { errMsg: api + ':fail abort' }) };
}

/** Pseudo-random cuts of 1..16 bytes (a fixed seed: a failing cut can be replayed). */
function randomCuts(seed = 7) {
  let state = seed;
  return (buffer) => {
    const pieces = [];
    for (let at = 0; at < buffer.length;) {
      state = (state * 1103515245 + 12345) % 2147483648;
      const size = 1 + ((state >>> 16) % 16); // the LCG's high bits: its low ones cycle
      pieces.push(buffer.subarray(at, at + size));
      at += size;
    }
    return pieces;
  };
}

function arrayBuffer(buffer) {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.length);
}

/** wx.request with enableChunked: the RequestTask, chunks delivered in order before success or fail. */
function chunkedExchange(options, req, send, chunking) {
  const listeners = [];
  let settled = false;
  let stopped = false; // aborted or timed out: chunks not yet handed over are dropped
  let cancel = () => {};
  // One queue of callbacks, so that every chunk comes before the end, each after the call returned.
  let queue = Promise.resolve();
  const enqueue = (fn) => { queue = queue.then(() => new Promise((resolve) => setTimeout(() => { try { fn(); } finally { resolve(); } }, 0))); };
  const finish = (callback, res, stop) => {
    if (settled) return;
    settled = true;
    stopped = Boolean(stop);
    clearTimeout(timer);
    cancel();
    enqueue(() => { if (typeof callback === 'function') callback(res); });
    enqueue(() => { if (typeof options.complete === 'function') options.complete(res); });
  };
  const timer = setTimeout(() => finish(options.fail, { errMsg: 'request:fail timeout' }, true), options.timeout || DEFAULT_TIMEOUT);
  const deliver = (piece) => {
    for (const cut of chunking(Buffer.from(piece))) {
      const data = arrayBuffer(cut);
      enqueue(() => { if (!stopped) listeners.slice().forEach((cb) => cb({ data })); });
    }
  };
  (async () => {
    const res = await send(req);
    if (settled) { if (res.cancel) res.cancel(); return; }
    if (res.cancel) cancel = res.cancel;
    const end = { data: new ArrayBuffer(0), statusCode: res.status, header: res.headers, errMsg: 'request:ok' };
    if (!res.stream) {
      deliver(res.body === undefined ? '' : res.body);
      finish(options.success, end);
      return;
    }
    for await (const piece of res.stream) {
      if (settled) return;
      deliver(piece);
    }
    finish(options.success, end);
  })().catch((err) => finish(options.fail, { errMsg: 'request:fail ' + (err && err.message ? err.message : String(err)) }));
  return {
    abort: () => finish(options.fail, { errMsg: 'request:fail abort' }, true),
    onChunkReceived: (cb) => listeners.push(cb),
    offChunkReceived: (cb) => { const i = listeners.indexOf(cb); if (i >= 0) listeners.splice(i, 1); },
    onHeadersReceived: () => {},
  };
}

function createFakeWx({ send, readFile, codes, loginError, chunking = randomCuts(), subscribe, subscribeError } = {}) {
  const storage = new Map();
  const calls = [];
  let logins = 0;
  const nextCode = typeof codes === 'function' ? codes : (n) => (codes || 'alice') + '.' + n;

  const wx = {
    calls,
    get logins() { return logins; },
    storage,

    request(options) {
      const method = String(options.method || 'GET').toUpperCase();
      const headers = Object.assign({}, options.header || {});
      if (headerValue(headers, 'content-type') === undefined) headers['content-type'] = 'application/json';
      let url = options.url;
      let body = '';
      const data = options.data;
      if (data !== undefined && data !== null) {
        if (method === 'GET') {
          const query = typeof data === 'string' ? data : queryString(data);
          if (query) url += (url.includes('?') ? '&' : '?') + query;
        } else if (typeof data === 'string') {
          body = data;
        } else if (/application\/x-www-form-urlencoded/i.test(headerValue(headers, 'content-type'))) {
          body = queryString(data);
        } else {
          body = JSON.stringify(data);
        }
      }
      const req = { method, url, headers, body: Buffer.from(body) };
      calls.push(req);
      if (!METHODS.includes(method)) {
        return exchange('request', options, () => Promise.reject(new Error('invalid method ' + method)));
      }
      if (options.enableChunked) return chunkedExchange(options, Object.assign(req, { chunked: true }), send, chunking);
      const json = options.dataType === undefined || options.dataType === 'json';
      return exchange('request', options, () => send(req), (res) => {
        let parsed = res.body;
        if (json) {
          try { parsed = JSON.parse(res.body); } catch (err) { parsed = res.body; }
        }
        return { data: parsed, statusCode: res.status, header: res.headers, cookies: [], errMsg: 'request:ok' };
      });
    },

    uploadFile(options) {
      const boundary = '----WxFakeBoundary' + Math.random().toString(16).slice(2);
      const headers = Object.assign({}, options.header || {},
        { 'content-type': 'multipart/form-data; boundary=' + boundary });
      const filename = String(options.filePath).split('/').pop();
      const type = MIME[filename.split('.').pop().toLowerCase()] || 'application/octet-stream';
      let content;
      try {
        content = (readFile || (() => { throw new Error('no such file'); }))(options.filePath);
      } catch (err) {
        return exchange('uploadFile', options, () => Promise.reject(new Error('file not found')));
      }
      const fields = Object.keys(options.formData || {}).map((k) => '--' + boundary +
        '\r\nContent-Disposition: form-data; name="' + k + '"\r\n\r\n' + options.formData[k] + '\r\n').join('');
      const body = Buffer.concat([
        Buffer.from(fields + '--' + boundary + '\r\nContent-Disposition: form-data; name="' + options.name +
          '"; filename="' + filename + '"\r\nContent-Type: ' + type + '\r\n\r\n'),
        Buffer.from(content),
        Buffer.from('\r\n--' + boundary + '--\r\n')]);
      const req = { method: 'POST', url: options.url, headers, body, file: { name: options.name, filename, content } };
      calls.push(req);
      // data is always the answer's text, whatever its content type.
      return exchange('uploadFile', options, () => send(req),
        (res) => ({ data: String(res.body), statusCode: res.status, header: res.headers, errMsg: 'uploadFile:ok' }));
    },

    login(options = {}) {
      logins += 1;
      const n = logins;
      return exchange('login', options, () => (loginError ? Promise.reject(new Error(loginError)) : null),
        () => ({ code: nextCode(n), errMsg: 'login:ok' }));
    },

    requestSubscribeMessage(options = {}) {
      const ids = options.tmplIds;
      calls.push({ method: 'requestSubscribeMessage', tmplIds: ids });
      let failure = null;
      if (!Array.isArray(ids) || !ids.length) failure = { errCode: 10001, errMsg: "TmplIds can't be empty" };
      else if (ids.length > 5) failure = { errCode: 20003, errMsg: 'Templates count out of max bounds' };
      else if (subscribeError) failure = subscribeError;
      if (failure) {
        const res = { errMsg: 'requestSubscribeMessage:fail ' + failure.errMsg, errCode: failure.errCode };
        later(options.fail, res);
        later(options.complete, res);
        return;
      }
      const results = subscribe ? subscribe(ids) : {};
      const res = { errMsg: 'requestSubscribeMessage:ok' };
      ids.forEach((id) => { res[id] = results[id] || 'accept'; });
      later(options.success, res);
      later(options.complete, res);
    },

    setStorageSync(key, value) {
      storage.set(key, JSON.stringify(value));
    },
    getStorageSync(key) {
      return storage.has(key) ? JSON.parse(storage.get(key)) : '';
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
  };
  return wx;
}

module.exports = { createFakeWx, randomCuts, METHODS };
