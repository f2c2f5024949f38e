/**
 * The BAI backend client for a WeChat mini-program: one CommonJS file, no dependencies, ES2017 only.
 *
 * A mini-program has no fetch, AbortController or EventSource (PocketBase's JS SDK needs them), only
 * wx.request, wx.uploadFile and wx.login; this module is built on those alone. Three layers:
 *   transport - wx.request / wx.uploadFile as Promises; every failure becomes an ApiError.
 *   session   - the token (kept in wx storage), its renewal within a day of expiry, and ONE shared
 *               silent re-login (fresh wx.login code -> POST /api/system/refresh-token) for a 401;
 *               never after an explicit logout or closeAccount (a marker in wx storage) until login().
 *   calls     - our routes ({code, msg, data} envelope) and PocketBase's records API (answers as is).
 *
 * The routes and shapes are those of spec/openapi-wx.yaml; the filter convention is PocketBase JS SDK's
 * pb.filter(). Types: index.d.ts.
 */
'use strict';

var DEFAULT_STORAGE_KEY = 'bai_auth_token';
var DEFAULT_TIMEOUT_MS = 10000;
// A picture over a mobile network takes longer than a JSON call.
var DEFAULT_UPLOAD_TIMEOUT_MS = 60000;
// A token that expires within a day is renewed before it is used (issue #18; tokens last 7 days).
var RENEW_WITHIN_MS = 24 * 3600 * 1000;
// wx.request knows no PATCH (its documented methods: OPTIONS GET HEAD POST PUT DELETE TRACE CONNECT),
// so a record update goes through PocketBase's batch API, which runs the same PATCH with the same rules.
var BATCH_PATH = '/api/batch';
// The collections the client reads: the contract's three, and the user's own record and row
// (tbl_auth_users' and view_user_info's rules admit their owner); any other name is a mistake. The names
// are vocabulary.yaml's (this file stands alone in a mini-program: a test checks them against it).
var COLLECTIONS = ['tbl_company', 'tbl_attachments', 'tbl_document', 'tbl_auth_users', 'view_user_info'];

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

/** name, or a TypeError at once naming the collections the client knows (COLLECTIONS). */
function knownCollection(name) {
  if (COLLECTIONS.indexOf(name) < 0) {
    throw new TypeError('collection: unknown collection ' + JSON.stringify(name) + '; the client knows ' +
      COLLECTIONS.join(', '));
  }
  return name;
}

function queryString(params) {
  var parts = [];
  Object.keys(params || {}).forEach(function (key) {
    var value = params[key];
    if (value === undefined || value === null) return;
    parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(String(value)));
  });
  return parts.length ? '?' + parts.join('&') : '';
}

var BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The JSON payload of a JWT, or null (no atob in a mini-program: decoded here). */
function jwtPayload(token) {
  var part = String(token).split('.')[1];
  if (!part) return null;
  var bits = 0;
  var value = 0;
  var escaped = '';
  for (var i = 0; i < part.length; i++) {
    var index = BASE64URL.indexOf(part.charAt(i));
    if (index < 0) return null;
    value = (value << 6) | index;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      escaped += '%' + ('0' + ((value >> bits) & 0xff).toString(16)).slice(-2);
    }
  }
  try {
    var payload = JSON.parse(decodeURIComponent(escaped));
    return isObject(payload) ? payload : null;
  } catch (err) {
    return null;
  }
}

/** When the token expires, in ms since the epoch; Infinity when it says nothing. */
function tokenExpiry(token) {
  var payload = jwtPayload(token);
  return payload && typeof payload.exp === 'number' ? payload.exp * 1000 : Infinity;
}

/** A filter literal: strings (Dates, objects as JSON) single-quoted and escaped, numbers and booleans bare. */
function filterLiteral(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  var text = typeof value === 'string' ? value
    : Object.prototype.toString.call(value) === '[object Date]' ? value.toISOString().replace('T', ' ')
      : JSON.stringify(value);
  return "'" + text.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

/**
 * PocketBase's filter with {:name} placeholders replaced by safely quoted values, as the JS SDK's
 * pb.filter() does, with two differences that make it safe for any string: a backslash is escaped too
 * (PocketBase 0.40 reads \\ as one backslash, so a value ending in one would escape its closing quote),
 * and the expression is read once, so a value that contains "{:other}" is never substituted again.
 */
function filter(expr, params) {
  var values = params || {};
  return String(expr).replace(/\{:([^{}]+)\}/g, function (placeholder, name) {
    return Object.prototype.hasOwnProperty.call(values, name) ? filterLiteral(values[name]) : placeholder;
  });
}

// ------------------------------------------------------------------ transport

/** wx.request and wx.uploadFile as Promises of {status, body, header}; a fail callback rejects (status 0). */
function createTransport(wx, baseUrl, timeout, uploadTimeout) {
  function request(method, path, body, token) {
    return new Promise(function (resolve, reject) {
      var header = { 'content-type': 'application/json' };
      if (token) header.Authorization = 'Bearer ' + token;
      wx.request({
        url: baseUrl + path,
        method: method,
        data: body === undefined ? undefined : JSON.stringify(body),
        header: header,
        dataType: 'json',
        timeout: timeout,
        success: function (res) {
          resolve({ status: res.statusCode, body: res.data, header: res.header || {} });
        },
        fail: function (res) {
          reject(networkError(res && res.errMsg));
        }
      });
    });
  }

  function upload(path, filePath, token) {
    return new Promise(function (resolve, reject) {
      wx.uploadFile({
        url: baseUrl + path,
        filePath: filePath,
        name: 'file',
        header: token ? { Authorization: 'Bearer ' + token } : {},
        timeout: uploadTimeout,
        success: function (res) {
          // wx.uploadFile answers data as a string whatever the server sent.
          var body = res.data;
          try {
            body = JSON.parse(res.data);
          } catch (err) {
            // left as the string: answerError words it
          }
          resolve({ status: res.statusCode, body: body, header: res.header || {} });
        },
        fail: function (res) {
          reject(networkError(res && res.errMsg));
        }
      });
    });
  }

  function wxCode() {
    return new Promise(function (resolve, reject) {
      wx.login({
        timeout: timeout,
        success: function (res) {
          if (res && res.code) resolve(res.code);
          else reject(new ApiError(0, 0, '微信登录失败', { errMsg: String(res && res.errMsg) }));
        },
        fail: function (res) {
          reject(new ApiError(0, 0, '微信登录失败', { errMsg: String(res && res.errMsg) }));
        }
      });
    });
  }

  return { request: request, upload: upload, wxCode: wxCode };
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

// ------------------------------------------------------------------ session

// Next to the token in wx storage: the user signed out (logout or closeAccount) and must login() again.
var SIGNED_OUT_SUFFIX = ':signed_out';

/** What a call that needs a token rejects with after an explicit logout or closeAccount. */
function signedOutError() {
  return new ApiError(401, 401, '已退出登录,请重新登录', {});
}

/** The id of the user a token is for ('' for none): PocketBase's auth tokens carry it as `id`. */
function tokenUser(token) {
  var payload = token ? jwtPayload(token) : null;
  return payload && typeof payload.id === 'string' ? payload.id : '';
}

/**
 * The token and its lifecycle. pending is the one renewal or re-login in flight: every call that needs
 * a new token meanwhile waits for it, so a burst of 401s costs one wx.login, never one per call.
 * signedOut: the user logged out or closed the account here; no silent re-login until login() (the
 * marker storageKey + ':signed_out' keeps it for the next createClient). onUser() is called when the
 * token saved is another user's, or none after one's (a login, a logout): the realtime stream follows.
 */
function createSession(wx, transport, storageKey, onUser) {
  var markerKey = storageKey + SIGNED_OUT_SUFFIX;
  var state = { token: '', user: null, pending: null, signedOut: false };
  try {
    state.signedOut = Boolean(wx.getStorageSync(markerKey));
    var stored = wx.getStorageSync(storageKey);
    state.token = typeof stored === 'string' && !state.signedOut ? stored : '';
  } catch (err) {
    state.token = '';
  }

  function save(token) {
    var changed = tokenUser(token) !== tokenUser(state.token);
    state.token = token;
    if (changed && onUser) onUser();
    try {
      if (token) wx.setStorageSync(storageKey, token);
      else wx.removeStorageSync(storageKey);
    } catch (err) {
      // storage full or unavailable: the token still works for this run
    }
  }

  function forget() {
    save('');
    state.user = null;
  }

  /** An explicit logout or closeAccount: the token forgotten, no silent re-login until signIn. */
  function signOut() {
    forget();
    state.signedOut = true;
    try {
      wx.setStorageSync(markerKey, true);
    } catch (err) {
      // storage unavailable: signed out for this run still
    }
  }

  /** login() succeeded: its token stored, the signed-out marker removed. */
  function signIn(token) {
    state.signedOut = false;
    try {
      wx.removeStorageSync(markerKey);
    } catch (err) {
      // storage unavailable: the marker is read again by the next createClient only
    }
    save(token);
  }

  /** A token a renewal or re-login got: kept, unless the user signed out while it was in flight. */
  function adopt(token) {
    if (state.signedOut) throw signedOutError();
    save(token);
    return token;
  }

  function shared(start) {
    if (!state.pending) {
      var run = start();
      state.pending = run;
      var done = function () {
        if (state.pending === run) state.pending = null;
      };
      run.then(done, done);
    }
    return state.pending;
  }

  /** A fresh wx.login code to refresh-token; the unusable token is forgotten if that fails. */
  function reloginNow() {
    return transport.wxCode()
      .then(function (code) {
        return transport.request('POST', '/api/system/refresh-token', { users_wx_code: code }, '');
      })
      .then(function (answer) {
        return adopt(ok(answer).token);
      })
      .catch(function (err) {
        save('');
        throw err;
      });
  }

  function relogin() {
    return shared(reloginNow);
  }

  /** refresh-token with the bearer; a refused bearer falls back to a re-login (in the same shared run). */
  function renew(force) {
    return shared(function () {
      var token = state.token;
      return transport.request('POST', '/api/system/refresh-token', {}, token).then(function (answer) {
        if (answer.status === 401) return reloginNow();
        return adopt(ok(answer).token);
      }, function (err) {
        // Network trouble: a token that has not expired yet still serves, unless renewal was asked for.
        if (!force && Date.now() < tokenExpiry(token)) return token;
        throw err;
      });
    });
  }

  /** Whether a token is stored and has not expired. */
  function live() {
    return !state.signedOut && Boolean(state.token) && Date.now() < tokenExpiry(state.token);
  }

  /**
   * A token to send: the stored one, renewed within a day of expiry, or a new one when none is usable;
   * after an explicit sign-out, the 401 of signedOutError (no wx.login) until login().
   */
  function usable() {
    if (state.signedOut) return Promise.reject(signedOutError());
    if (state.pending) return state.pending;
    if (!state.token || Date.now() >= tokenExpiry(state.token)) return relogin();
    if (tokenExpiry(state.token) - Date.now() < RENEW_WITHIN_MS) return renew(false);
    return Promise.resolve(state.token);
  }

  /** After a 401 for `rejected`: the token another call already got, else the shared re-login. */
  function replace(rejected) {
    if (state.signedOut) return Promise.reject(signedOutError());
    if (state.pending) return state.pending;
    if (state.token && state.token !== rejected) return Promise.resolve(state.token);
    return relogin();
  }

  return {
    state: state, save: save, forget: forget, signOut: signOut, signIn: signIn,
    live: live, usable: usable, replace: replace, renew: renew
  };
}

// ------------------------------------------------------------------ realtime

// PocketBase's realtime API (pocketbase.io/docs/api-realtime): server-sent events on GET /api/realtime,
// whose first event PB_CONNECT carries the client id; the topics go to POST /api/realtime with the
// user's token, and PocketBase's rules decide what each event reaches (<collection>/* the list rule,
// <collection>/<id> the view rule). A mini-program has no EventSource: the stream is read with
// wx.request({enableChunked}) (base library 2.20.2+), whose onChunkReceived hands ArrayBuffers cut anywhere.
var REALTIME_PATH = '/api/realtime';
// As PocketBase's JS SDK (RealtimeService): PB_CONNECT within 15 s, then reconnects after these pauses.
var REALTIME_CONNECT_TIMEOUT_MS = 15000;
var RECONNECT_INTERVALS_MS = [200, 300, 500, 1000, 1200, 1500, 2000];
// PocketBase ends a connection idle for 5 minutes (and nginx after an hour); the request outlives the
// first, and whichever ends it, the client connects again and sends its topics anew.
var REALTIME_REQUEST_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * An incremental UTF-8 decoder (no TextDecoder is guaranteed in the base library): push(bytes) returns the
 * text of the characters completed so far, a character cut between chunks waits for its last byte;
 * invalid bytes become U+FFFD as in the WHATWG decoder that EventSource uses (encoding.spec.whatwg.org).
 */
function createUtf8Decoder() {
  var codePoint = 0;
  var needed = 0;
  var seen = 0;
  var lower = 0x80;
  var upper = 0xbf;

  function push(bytes) {
    var out = '';
    for (var i = 0; i < bytes.length; i++) {
      var byte = bytes[i];
      if (needed === 0) {
        if (byte <= 0x7f) {
          out += String.fromCharCode(byte);
        } else if (byte >= 0xc2 && byte <= 0xdf) {
          needed = 1;
          codePoint = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) lower = 0xa0;
          if (byte === 0xed) upper = 0x9f;
          needed = 2;
          codePoint = byte & 0x0f;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) lower = 0x90;
          if (byte === 0xf4) upper = 0x8f;
          needed = 3;
          codePoint = byte & 0x07;
        } else {
          out += '\ufffd';
        }
        continue;
      }
      if (byte < lower || byte > upper) {
        // The sequence broke off: one U+FFFD for it, and this byte starts afresh.
        codePoint = needed = seen = 0;
        lower = 0x80;
        upper = 0xbf;
        out += '\ufffd';
        i -= 1;
        continue;
      }
      lower = 0x80;
      upper = 0xbf;
      codePoint = (codePoint << 6) | (byte & 0x3f);
      seen += 1;
      if (seen === needed) {
        out += String.fromCodePoint(codePoint);
        codePoint = needed = seen = 0;
      }
    }
    return out;
  }

  /** The end of the stream: a character left unfinished is one U+FFFD. */
  function end() {
    var out = needed ? '\ufffd' : '';
    codePoint = needed = seen = 0;
    return out;
  }

  return { push: push, end: end };
}

/**
 * The event-stream parser of the HTML standard (html.spec.whatwg.org, "Parsing an event stream"), fed
 * chunks as they come: push(chunk: ArrayBuffer | Uint8Array | string) returns the events completed by
 * it, each {type, data, lastEventId} as an EventSource's MessageEvent has them; how the stream was cut
 * never changes the events. end() drops an unfinished event, as an EventSource does.
 */
function createEventStreamParser() {
  var decoder = createUtf8Decoder();
  var line = '';
  var started = false;
  var afterCR = false;
  var type = '';
  var data = '';
  var lastEventId = '';

  function field(text) {
    if (text === '') {
      // A blank line dispatches the event; one without data is dropped.
      var event = data ? { type: type || 'message', data: data.slice(0, -1), lastEventId: lastEventId } : null;
      type = '';
      data = '';
      return event;
    }
    if (text.charAt(0) === ':') return null;
    var colon = text.indexOf(':');
    var name = colon < 0 ? text : text.slice(0, colon);
    var value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.charAt(0) === ' ') value = value.slice(1);
    if (name === 'event') type = value;
    else if (name === 'data') data += value + '\n';
    else if (name === 'id' && value.indexOf('\u0000') < 0) lastEventId = value;
    return null;
  }

  function feed(text) {
    var events = [];
    if (!text) return events;
    if (!started) {
      started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A CR that ended the last chunk and an LF that starts this one are one line break.
    if (afterCR && text.charAt(0) === '\n') text = text.slice(1);
    afterCR = false;
    var breaks = /\r\n|\r|\n/g;
    var start = 0;
    var found;
    while ((found = breaks.exec(text))) {
      var event = field(line + text.slice(start, found.index));
      line = '';
      start = breaks.lastIndex;
      if (found[0] === '\r' && start === text.length) afterCR = true;
      if (event) events.push(event);
    }
    line += text.slice(start);
    return events;
  }

  return {
    push: function (chunk) {
      var text = typeof chunk === 'string' ? chunk
        : decoder.push(chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk));
      return feed(text);
    },
    end: function () {
      feed(decoder.end());
      line = '';
      type = '';
      data = '';
      return [];
    }
  };
}

/**
 * The subscription key PocketBase knows a topic by: "<collection>/<topic>", with the options (expand,
 * filter, fields, query, headers) serialized as PocketBase's JS SDK does ("?options=" + JSON); events come
 * named by it.
 */
function subscriptionKey(collectionName, topic, options) {
  var key = collectionName + '/' + topic;
  if (!options) return key;
  var query = Object.assign({}, options.query);
  Object.keys(options).forEach(function (name) {
    if (name !== 'query' && name !== 'headers' && options[name] !== undefined) query[name] = options[name];
  });
  var serialized = JSON.stringify({ query: query, headers: options.headers });
  return key + (key.indexOf('?') < 0 ? '?' : '&') + 'options=' + encodeURIComponent(serialized);
}

/**
 * The realtime connection of one client, with PocketBase's JS SDK's behaviour (RealtimeService): one
 * stream for all topics, opened by the first subscription, closed with the last; after it is lost (the
 * network, PocketBase's idle close, a refused topic submission) it reconnects with backoff and sends every
 * topic again. submit(body) -> Promise posts {clientId, subscriptions} with the user's token.
 */
function createRealtime(wx, url, submit) {
  var listeners = {}; // subscription key -> [listener]
  var task = null; // the RequestTask of the stream
  var clientId = '';
  var attempts = 0; // reconnections since the last established connection
  var waiting = []; // {resolve, reject} of subscriptions waiting for a connection
  var connectTimer = null;
  var reconnectTimer = null;
  var submissions = Promise.resolve(); // one submission at a time, each of the topics at its start

  function keys() {
    return Object.keys(listeners).filter(function (key) {
      return listeners[key].length > 0;
    });
  }

  function connected() {
    return Boolean(task && clientId && !waiting.length);
  }

  function sendTopics() {
    var run = submissions.then(function () {
      if (!clientId) return undefined;
      return submit({ clientId: clientId, subscriptions: keys() });
    });
    submissions = run.catch(function () {});
    return run;
  }

  function close(reconnecting) {
    clearTimeout(connectTimer);
    clearTimeout(reconnectTimer);
    var open = task;
    task = null;
    clientId = '';
    if (open) open.abort();
    if (!reconnecting) {
      attempts = 0;
      var settled = waiting;
      waiting = [];
      settled.forEach(function (p) { p.resolve(); });
    }
  }

  /** The connection failed or ended: the first attempt rejects its subscribers, a lost one reconnects. */
  function lost(err) {
    clearTimeout(connectTimer);
    clearTimeout(reconnectTimer);
    if ((!clientId && !attempts) || !keys().length) {
      var rejected = waiting;
      waiting = [];
      close(false);
      rejected.forEach(function (p) { p.reject(err); });
      return;
    }
    close(true);
    var pause = RECONNECT_INTERVALS_MS[Math.min(attempts, RECONNECT_INTERVALS_MS.length - 1)];
    attempts += 1;
    reconnectTimer = setTimeout(open, pause);
  }

  function established() {
    clearTimeout(connectTimer);
    attempts = 0;
    var resolved = waiting;
    waiting = [];
    resolved.forEach(function (p) { p.resolve(); });
  }

  function deliver(event) {
    if (event.type === 'PB_CONNECT') {
      var payload = parsed(event.data);
      clientId = event.lastEventId || payload.clientId || '';
      var stream = task;
      sendTopics().then(function () {
        if (task === stream) established();
      }, function (err) {
        if (task !== stream) return;
        clientId = ''; // as the SDK: a first connection whose topics were refused is not established
        lost(err);
      });
      return;
    }
    var current = listeners[event.type];
    if (!current) return;
    var data = parsed(event.data);
    current.slice().forEach(function (listener) {
      try {
        listener(data);
      } catch (err) {
        // As an EventSource listener's exception: reported, and the stream goes on.
        setTimeout(function () { throw err; }, 0);
      }
    });
  }

  function open() {
    close(true);
    connectTimer = setTimeout(function () {
      lost(new ApiError(0, 0, '实时连接超时,请稍后再试', { errMsg: 'realtime: no PB_CONNECT within 15 s' }));
    }, REALTIME_CONNECT_TIMEOUT_MS);
    var parser = createEventStreamParser();
    var stream = null;
    var ended = function (error) {
      return function (res) {
        if (task !== stream) return; // closed by us
        parser.end();
        lost(error(res || {}));
      };
    };
    stream = wx.request({
      url: url,
      method: 'GET',
      header: { Accept: 'text/event-stream' },
      enableChunked: true,
      responseType: 'arraybuffer',
      timeout: REALTIME_REQUEST_TIMEOUT_MS,
      success: ended(function (res) {
        return new ApiError(res.statusCode || 0, res.statusCode || 0, '实时连接已断开', { errMsg: String(res.errMsg || '') });
      }),
      fail: ended(function (res) {
        return networkError(res.errMsg);
      })
    });
    if (!stream || typeof stream.onChunkReceived !== 'function') {
      task = null;
      if (stream && typeof stream.abort === 'function') stream.abort();
      lost(new ApiError(0, 0, '当前微信版本不支持实时消息,请升级微信', { errMsg: 'wx.request: no onChunkReceived' }));
      return;
    }
    task = stream;
    stream.onChunkReceived(function (res) {
      if (task !== stream) return;
      parser.push(res.data).forEach(function (event) {
        if (task === stream) deliver(event);
      });
    });
  }

  function connect() {
    // Reconnecting in the background: the topic goes with the next connection.
    if (attempts > 0) return Promise.resolve();
    return new Promise(function (resolve, reject) {
      waiting.push({ resolve: resolve, reject: reject });
      if (waiting.length === 1) open();
    });
  }

  /** After topics were removed: the rest sent, or the stream closed when none is left. */
  function settle() {
    if (!keys().length) {
      close(false);
      return Promise.resolve();
    }
    return connected() ? sendTopics() : Promise.resolve();
  }

  function remove(key, listener) {
    var current = listeners[key] || [];
    var index = current.indexOf(listener);
    if (index < 0) return false;
    current.splice(index, 1);
    if (!current.length) delete listeners[key];
    return true;
  }

  /** listener(data) for every event of `key`; resolves an unsubscribe function once PocketBase has the topic. */
  function subscribe(key, callback) {
    var listener = function (data) {
      callback(data);
    };
    if (!listeners[key]) listeners[key] = [];
    listeners[key].push(listener);
    var ready;
    if (!connected()) ready = connect();
    else if (listeners[key].length === 1) ready = sendTopics();
    else ready = Promise.resolve();
    return ready.then(function () {
      return function () {
        return remove(key, listener) ? settle() : Promise.resolve();
      };
    }, function (err) {
      remove(key, listener);
      if (!keys().length) close(false);
      throw err;
    });
  }

  /**
   * The user changed (a login as another without a logout, a logout): PocketBase binds a realtime
   * connection to the auth of its first topic submission, refuses another ("authorization don't match")
   * and goes on delivering the first user's records to it. So the stream is replaced by a new one whose
   * topics go with the new token (PocketBase's SDK users disconnect on an authStore change for this). A
   * logout also ends the connection on PocketBase's side (a new tokenKey); this does not wait for that.
   */
  function restart() {
    if (!task || !keys().length) return; // no stream, or one reconnecting: the next one takes the new token
    attempts = Math.max(attempts, 1); // a failure reconnects with backoff, as after a loss
    open();
  }

  /** Every listener of the keys that match(key) accepts; the rest sent again, or the stream closed. */
  function unsubscribe(match) {
    var removed = false;
    Object.keys(listeners).forEach(function (key) {
      if (!match(key)) return;
      delete listeners[key];
      removed = true;
    });
    return removed ? settle() : Promise.resolve();
  }

  return { subscribe: subscribe, unsubscribe: unsubscribe, restart: restart };
}

/** An event's JSON data ({} when it is not JSON, as PocketBase's SDK gives it). */
function parsed(text) {
  try {
    var value = JSON.parse(text);
    return isObject(value) ? value : {};
  } catch (err) {
    return {};
  }
}

// ------------------------------------------------------------------ client

/**
 * createClient({baseUrl, storageKey?, wx?, timeout?, uploadTimeout?}): baseUrl like https://host/pb (one
 * ending in /api is a TypeError); wx defaults to the global wx; the token is kept with
 * wx.setStorageSync(storageKey) and restored by the next createClient; timeouts in ms (10 s for calls,
 * 60 s for uploads).
 */
function createClient(options) {
  var opts = options || {};
  // The mini-program's global wx unless the caller passes one (tests do).
  var api = opts.wx || (typeof wx !== 'undefined' ? wx : undefined);
  if (!api || typeof api.request !== 'function') throw new TypeError('createClient: no wx (pass options.wx)');
  if (!opts.baseUrl || typeof opts.baseUrl !== 'string') throw new TypeError('createClient: baseUrl is required');
  var baseUrl = opts.baseUrl.replace(/\/+$/, '');
  // The curl examples' ".../pb/api/..." copied as the base: every call would go to /api/api/... (a 404).
  if (/\/api$/i.test(baseUrl)) {
    throw new TypeError('createClient: baseUrl is the PocketBase prefix without /api, like https://host/pb ' +
      '(the client adds /api/... itself), not ' + opts.baseUrl);
  }
  var transport = createTransport(api, baseUrl, opts.timeout || DEFAULT_TIMEOUT_MS,
    opts.uploadTimeout || DEFAULT_UPLOAD_TIMEOUT_MS);
  var session = createSession(api, transport, opts.storageKey || DEFAULT_STORAGE_KEY, function () {
    realtime.restart();
  });
  var realtime = createRealtime(api, baseUrl + REALTIME_PATH, function (body) {
    return authed('optional', function (token) {
      return transport.request('POST', REALTIME_PATH, body, token);
    }).then(function (answer) {
      // PocketBase answers 204 with no body.
      if (answer.status < 200 || answer.status >= 300) throw answerError(answer.status, answer.body, 'write');
    });
  });

  /**
   * send(token) -> answer, with the session's rules: 'required' always has a token (a login when
   * none is usable); 'optional' sends the stored one while it is valid and never logs in for lack of
   * one; 'none' never sends one. A 401 to a call that sent a token is retried once with a new token.
   */
  function authed(auth, send) {
    var first = auth === 'required' || (auth === 'optional' && session.live())
      ? session.usable() : Promise.resolve('');
    return first.then(function (token) {
      return send(token).then(function (answer) {
        if (answer.status !== 401 || !token) return answer;
        return session.replace(token).then(send);
      });
    });
  }

  function route(path, body, auth) {
    return authed(auth, function (token) {
      return transport.request('POST', path, body, token);
    }).then(ok);
  }

  function profile(fields) {
    return route('/api/wechat/profile', fields || {}, 'required').then(function (body) {
      session.state.user = body.data.user;
      return body.data.user;
    });
  }

  function collection(name) {
    knownCollection(name);
    var records = '/api/collections/' + encodeURIComponent(name) + '/records';

    function get(path, query) {
      return authed('optional', function (token) {
        return transport.request('GET', path + queryString(query), undefined, token);
      }).then(okRead);
    }

    function getList(page, perPage, listOptions) {
      var query = Object.assign({}, listOptions || {}, { page: page || 1, perPage: perPage || 30 });
      return get(records, query);
    }

    return {
      getList: getList,
      getFirstListItem: function (filterExpr, listOptions) {
        var query = Object.assign({}, listOptions || {}, { filter: filterExpr, skipTotal: 1 });
        return getList(1, 1, query).then(function (list) {
          if (!list.items || !list.items.length) {
            // As the SDK does: an empty answer is PocketBase's 404.
            throw answerError(404, { status: 404, message: "The requested resource wasn't found.", data: {} }, 'read');
          }
          return list.items[0];
        });
      },
      getOne: function (id, query) {
        return get(records + '/' + encodeURIComponent(id), query);
      },
      create: function (body, query) {
        return authed('optional', function (token) {
          return transport.request('POST', records + queryString(query), body || {}, token);
        }).then(okWrite);
      },
      update: function (id, body, query) {
        var url = records + '/' + encodeURIComponent(id) + queryString(query);
        var batch = { requests: [{ method: 'PATCH', url: url, body: body || {} }] };
        return authed('optional', function (token) {
          return transport.request('POST', BATCH_PATH, batch, token).then(unbatch);
        }).then(okWrite);
      }
    };
  }

  var client = {
    /**
     * wx.login -> POST /api/wechat/login; resolves {status, is_info_complete, user}. options.inviterPromoCode:
     * the promo code of whoever shared the mini-program (inviterPromoCode() reads it), applied by the server
     * when this login registers the user; a bad one is ignored there, never an error.
     */
    login: function (options) {
      var inviter = options && typeof options.inviterPromoCode === 'string' ? options.inviterPromoCode : '';
      return transport.wxCode().then(function (code) {
        var body = { users_wx_code: code };
        if (inviter) body.inviter_promo_code = inviter;
        return transport.request('POST', '/api/wechat/login', body, '');
      }).then(ok).then(function (body) {
        session.signIn(body.token);
        session.state.user = body.data.user;
        return body.data;
      });
    },
    /** POST /api/wechat/profile: only non-empty fields change; resolves the fresh UserInfo. */
    profile: profile,
    /** The code of <button open-type="getPhoneNumber"> becomes the user's phone; resolves the UserInfo. */
    bindPhone: function (code) {
      return profile({ users_phone_code: code });
    },
    /** wx.uploadFile to /api/wechat/upload (part "file"); resolves the attachment. */
    upload: function (filePath) {
      return authed('required', function (token) {
        return transport.upload('/api/wechat/upload', filePath, token);
      }).then(ok).then(function (body) {
        return body.data.attachment;
      });
    },
    /** A new token now (refresh-token with the bearer, else a re-login); resolves it. */
    refresh: function () {
      return session.state.token && !session.state.signedOut ? session.renew(true) : session.usable();
    },
    /** The number of users (public: never logs in). */
    usersCount: function () {
      return route('/api/system/users-count', {}, 'none').then(function (body) {
        return Number(body.data.total_users);
      });
    },
    /**
     * Logout everywhere; the stored token is forgotten and the client signed out (on this device even
     * when the call fails): calls that need a token reject with 401 without a wx.login until login().
     */
    logout: function () {
      return route('/api/wechat/logout', {}, 'required').then(function (body) {
        session.signOut();
        return body.data;
      }, function (err) {
        session.signOut();
        throw err;
      });
    },
    /** Close the account (the user record is deleted); once it is done, signed out as after logout. */
    closeAccount: function () {
      return route('/api/wechat/close-account', {}, 'required').then(function (body) {
        session.signOut();
        return body.data;
      });
    },
    /**
     * POST /api/wechat/share-code: the user's mini-program code (小程序码) of a page of SHARE_PAGES (the first
     * when none is given), width 280-1280 px (430); resolves {promo_code, scene, page, width, url}: url is the
     * image, public, for <image src> or wx.previewImage.
     */
    shareCode: function (options) {
      var opts = options || {};
      var body = {};
      if (opts.page !== undefined) body.page = opts.page;
      if (opts.width !== undefined) body.width = opts.width;
      return route('/api/wechat/share-code', body, 'required').then(function (body) {
        return body.data;
      });
    },
    /** The inviter's promo code of launch or onLoad options (inviterPromoCode below); default: the launch's. */
    inviterPromoCode: function (launchOrPageOptions) {
      var opts = launchOrPageOptions;
      if (opts === undefined && typeof api.getLaunchOptionsSync === 'function') {
        try {
          opts = api.getLaunchOptionsSync();
        } catch (err) {
          opts = {};
        }
      }
      return inviterPromoCode(opts);
    },
    collection: collection,
    filter: filter,
    /**
     * The caller's own uploads, newest first by default: PocketBase's list of tbl_attachments, whose rule
     * admits exactly the records of the caller's openid (issue #30). Resolves PocketBase's list answer.
     */
    myUploads: function (options) {
      var opts = options || {};
      var query = { page: opts.page || 1, perPage: opts.perPage || 30, sort: opts.sort || '-created', filter: opts.filter };
      return authed('required', function (token) {
        return transport.request('GET', '/api/collections/tbl_attachments/records' + queryString(query), undefined, token);
      }).then(okRead);
    },
    /**
     * PocketBase's realtime: callback({action, record}) for each create / update / delete of the topic
     * ("*": the collection, by its list rule; a record id: that record, by its view rule) that the rules
     * let the user see. options: expand, filter, fields, query, headers. Resolves an unsubscribe function
     * once PocketBase has the topic; rejects (ApiError) when the first connection fails.
     */
    subscribe: function (collectionName, topic, callback, options) {
      knownCollection(collectionName);
      if (!topic || typeof topic !== 'string') throw new TypeError('subscribe: topic is "*" or a record id');
      if (typeof callback !== 'function') throw new TypeError('subscribe: callback must be a function');
      return realtime.subscribe(subscriptionKey(collectionName, topic, options), callback);
    },
    /**
     * Removes the subscriptions of a topic (with any options), of a whole collection (no topic), or all
     * (no argument); the connection closes with the last one.
     */
    unsubscribe: function (collectionName, topic) {
      if (collectionName === undefined) return realtime.unsubscribe(function () { return true; });
      knownCollection(collectionName);
      var prefix = collectionName + '/' + (topic ? topic + '?' : '');
      return realtime.unsubscribe(function (key) {
        return (key + '?').indexOf(prefix) === 0;
      });
    }
  };
  var subscribeMessages = createSubscribe(api, authed, transport);
  /** GET /api/wechat/subscribe: {templates: {name: template id}, counts: {name: grants left}}. */
  client.subscribeTemplates = subscribeMessages.templates;
  /** wx.requestSubscribeMessage for the named templates, reported to the server; {accepted, rejected, counts}. */
  client.requestSubscribe = subscribeMessages.request;
  Object.defineProperty(client, 'token', { enumerable: true, get: function () { return session.state.token; } });
  Object.defineProperty(client, 'user', { enumerable: true, get: function () { return session.state.user; } });
  return client;
}

// ------------------------------------------------------------------ subscribe messages (docs/subscribe.md)

var SUBSCRIBE_PATH = '/api/wechat/subscribe';

/**
 * requestSubscribe(names) and subscribeTemplates(): the user's grants of subscribe messages (订阅消息).
 * The template ids come from GET /api/wechat/subscribe (the server's SUBSCRIBE_TEMPLATES), never from
 * the mini-program's code; they are kept after the first answer, so that a later requestSubscribe calls
 * wx.requestSubscribeMessage at once, inside the tap that asked for it (WeChat allows it only there:
 * call subscribeTemplates() when the page loads).
 */
function createSubscribe(wx, authed, transport) {
  var known = null;

  function templates() {
    return authed('required', function (token) {
      return transport.request('GET', SUBSCRIBE_PATH, undefined, token);
    }).then(ok).then(function (body) {
      known = body.data.templates;
      return body.data;
    });
  }

  // wx.requestSubscribeMessage's result as {accepted, rejected} ids ('reject', 'ban', 'filter' are not grants).
  function ask(ids) {
    return new Promise(function (resolve, reject) {
      if (!ids.length) {
        resolve({ accepted: [], rejected: [] });
        return;
      }
      wx.requestSubscribeMessage({
        tmplIds: ids,
        success: function (res) {
          resolve({
            accepted: ids.filter(function (id) { return res[id] === 'accept'; }),
            rejected: ids.filter(function (id) { return res[id] !== 'accept'; })
          });
        },
        fail: function (res) {
          reject(new ApiError(0, (res && res.errCode) || 0, '订阅消息授权失败',
            { errMsg: String(res && res.errMsg), errCode: (res && res.errCode) || 0 }));
        }
      });
    });
  }

  function idsOf(byName, names) {
    return names.filter(function (name) { return typeof byName[name] === 'string'; })
      .map(function (name) { return byName[name]; });
  }

  function request(names) {
    var list = Array.isArray(names) ? names : [names];
    // With the ids known, wx is asked now, in the caller's tap; else after the GET.
    var asked = known ? ask(idsOf(known, list)) : templates().then(function (data) {
      return ask(idsOf(data.templates, list));
    });
    return asked.then(function (result) {
      return authed('required', function (token) {
        return transport.request('POST', SUBSCRIBE_PATH, result, token);
      }).then(ok).then(function (body) {
        var nameOf = {};
        Object.keys(body.data.templates).forEach(function (name) { nameOf[body.data.templates[name]] = name; });
        return {
          accepted: result.accepted.map(function (id) { return nameOf[id]; }),
          rejected: result.rejected.map(function (id) { return nameOf[id]; }),
          counts: body.data.counts
        };
      });
    });
  }

  return { templates: templates, request: request };
}

// What a promo code looks like (the server's are 8 of 0-9A-Z; at most 16 of 0-9A-Za-z): anything else is no code.
var PROMO_CODE_SHAPE = /^[0-9A-Za-z]{1,16}$/;

/**
 * The inviter's promo code carried by a launch or a page (issue #29), or '' when there is none.
 * options: wx.getLaunchOptionsSync() / wx.onShow's (the page's query in options.query; options.scene is then
 * the launch scene's number, 1047 for a scanned mini-program code) or a page's onLoad options (the query
 * itself). The code is the query's `scene` (a mini-program code's scene, URL-encoded) or its
 * `inviter_promo_code` (a shared link's path, e.g. onShareAppMessage's '/pages/index/index?inviter_promo_code=...').
 */
function inviterPromoCode(options) {
  var opts = isObject(options) ? options : {};
  var query = isObject(opts.query) ? opts.query : opts;
  var raw = typeof query.inviter_promo_code === 'string' && query.inviter_promo_code ? query.inviter_promo_code
    : typeof query.scene === 'string' ? query.scene : '';
  var code;
  try {
    code = decodeURIComponent(raw).trim();
  } catch (err) {
    return '';  // a malformed escape: no code
  }
  return PROMO_CODE_SHAPE.test(code) ? code : '';
}

/**
 * A batch answer as the answer of its one request: the inner request's status and body, so a failed
 * update rejects with PocketBase's own error (404, 400 with field errors...) as a PATCH would.
 */
function unbatch(answer) {
  var failed = isObject(answer.body) && isObject(answer.body.data) && isObject(answer.body.data.requests)
    ? answer.body.data.requests['0'] : null;
  if (answer.status === 400 && isObject(failed) && isObject(failed.response)) {
    return { status: failed.response.status || 400, body: failed.response, header: answer.header };
  }
  if (answer.status === 200 && Array.isArray(answer.body) && answer.body.length === 1) {
    return { status: answer.body[0].status, body: answer.body[0].body, header: answer.header };
  }
  return answer;
}

module.exports = {
  createClient: createClient,
  ApiError: ApiError,
  filter: filter,
  createEventStreamParser: createEventStreamParser,
  inviterPromoCode: inviterPromoCode
};
