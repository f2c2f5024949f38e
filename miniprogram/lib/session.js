/**
 * The session: the token (kept in wx storage), its renewal within a day of expiry, and ONE shared silent
 * re-login (fresh wx.login code -> POST /api/system/refresh-token) for a 401; never after an explicit
 * logout or closeAccount (a marker in wx storage) until login().
 */
'use strict';

var errors = require('./errors.js');
var ApiError = errors.ApiError;
var isObject = errors.isObject;
var ok = errors.ok;

// A token that expires within a day is renewed before it is used (issue #18; tokens last 7 days).
var RENEW_WITHIN_MS = 24 * 3600 * 1000;

// Next to the token in wx storage: the user signed out (logout or closeAccount) and must login() again.
var SIGNED_OUT_SUFFIX = ':signed_out';

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

module.exports = { createSession: createSession };
