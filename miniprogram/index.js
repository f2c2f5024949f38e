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

/** An ApiError from an HTTP answer: our envelope {code, msg, data} or PocketBase's {status, message, data}. */
function answerError(status, body) {
  if (isObject(body) && typeof body.msg === 'string') {
    return new ApiError(status, body.code !== undefined ? body.code : status, body.msg, body.data);
  }
  if (isObject(body) && typeof body.message === 'string') {
    var code = body.status !== undefined ? body.status : (body.code !== undefined ? body.code : status);
    return new ApiError(status, code, body.message, body.data);
  }
  return new ApiError(status, status, '服务响应异常(HTTP ' + status + ')', {});
}

/** An ApiError for a wx API whose fail callback ran: status 0, the errMsg kept in data. */
function networkError(errMsg) {
  var text = String(errMsg || '');
  var msg = /timeout|timed out|超时/i.test(text) ? '请求超时,请稍后再试' : '网络请求失败,请检查网络';
  return new ApiError(0, 0, msg, { errMsg: text });
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

/** The body of a 2xx answer, or the ApiError of any other. */
function ok(answer) {
  if (answer.status >= 200 && answer.status < 300 && (isObject(answer.body) || Array.isArray(answer.body))) {
    return answer.body;
  }
  throw answerError(answer.status, answer.body);
}

// ------------------------------------------------------------------ session

// Next to the token in wx storage: the user signed out (logout or closeAccount) and must login() again.
var SIGNED_OUT_SUFFIX = ':signed_out';

/** What a call that needs a token rejects with after an explicit logout or closeAccount. */
function signedOutError() {
  return new ApiError(401, 401, '已退出登录,请重新登录', {});
}

/**
 * The token and its lifecycle. pending is the one renewal or re-login in flight: every call that needs
 * a new token meanwhile waits for it, so a burst of 401s costs one wx.login, never one per call.
 * signedOut: the user logged out or closed the account here; no silent re-login until login() (the
 * marker storageKey + ':signed_out' keeps it for the next createClient).
 */
function createSession(wx, transport, storageKey) {
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
    state.token = token;
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
  var session = createSession(api, transport, opts.storageKey || DEFAULT_STORAGE_KEY);

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
    var records = '/api/collections/' + encodeURIComponent(name) + '/records';

    function get(path, query) {
      return authed('optional', function (token) {
        return transport.request('GET', path + queryString(query), undefined, token);
      }).then(ok);
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
            throw new ApiError(404, 404, "The requested resource wasn't found.", {});
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
        }).then(ok);
      },
      update: function (id, body, query) {
        var url = records + '/' + encodeURIComponent(id) + queryString(query);
        var batch = { requests: [{ method: 'PATCH', url: url, body: body || {} }] };
        return authed('optional', function (token) {
          return transport.request('POST', BATCH_PATH, batch, token).then(unbatch);
        }).then(ok);
      }
    };
  }

  var client = {
    /** wx.login -> POST /api/wechat/login; resolves {status, is_info_complete, user}. */
    login: function () {
      return transport.wxCode().then(function (code) {
        return transport.request('POST', '/api/wechat/login', { users_wx_code: code }, '');
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
    collection: collection,
    filter: filter
  };
  Object.defineProperty(client, 'token', { enumerable: true, get: function () { return session.state.token; } });
  Object.defineProperty(client, 'user', { enumerable: true, get: function () { return session.state.user; } });
  return client;
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

module.exports = { createClient: createClient, ApiError: ApiError, filter: filter };
