/**
 * The BAI backend client for a WeChat mini-program: CommonJS (index.js and lib/), no dependencies,
 * ES2017 only.
 *
 * A mini-program has no fetch, AbortController or EventSource (PocketBase's JS SDK needs them), only
 * wx.request, wx.uploadFile and wx.login; this module is built on those alone. Its parts, one concern
 * each, under lib/:
 *   errors      - ApiError, the one error every call rejects with, and how an answer becomes one.
 *   transport   - wx.request / wx.uploadFile as Promises; every failure becomes an ApiError.
 *   session     - the token (kept in wx storage), its renewal within a day of expiry, and ONE shared
 *                 silent re-login (fresh wx.login code -> POST /api/system/refresh-token) for a 401;
 *                 never after an explicit logout or closeAccount (a marker in wx storage) until login().
 *   records     - PocketBase's records API (answers as is); filter: its filter() with placeholders.
 *   realtime    - PocketBase's realtime over wx.request's chunks (eventstream, utf8: their parsing).
 *   subscribe   - subscribe messages; share: the inviter's promo code of a launch or a page.
 * This file assembles them into createClient: our routes ({code, msg, data} envelope) and the rest.
 *
 * The routes and shapes are those of spec/openapi-wx.yaml; the filter convention is PocketBase JS SDK's
 * pb.filter(). Types: index.d.ts.
 */
'use strict';

var errors = require('./lib/errors.js');
var transports = require('./lib/transport.js');
var createSession = require('./lib/session.js').createSession;
var records = require('./lib/records.js');
var filter = require('./lib/filter.js').filter;
var realtimes = require('./lib/realtime.js');
var createSubscribe = require('./lib/subscribe.js').createSubscribe;
var inviterPromoCode = require('./lib/share.js').inviterPromoCode;
var createEventStreamParser = require('./lib/eventstream.js').createEventStreamParser;

var ApiError = errors.ApiError;
var answerError = errors.answerError;
var ok = errors.ok;
var okRead = errors.okRead;
var createTransport = transports.createTransport;
var queryString = transports.queryString;
var knownCollection = records.knownCollection;
var createRealtime = realtimes.createRealtime;
var subscriptionKey = realtimes.subscriptionKey;
var REALTIME_PATH = realtimes.REALTIME_PATH;

var DEFAULT_STORAGE_KEY = 'bai_auth_token';
var DEFAULT_TIMEOUT_MS = 10000;
// A picture over a mobile network takes longer than a JSON call.
var DEFAULT_UPLOAD_TIMEOUT_MS = 60000;

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

  var collection = records.createCollections(authed, transport);

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

module.exports = {
  createClient: createClient,
  ApiError: ApiError,
  filter: filter,
  createEventStreamParser: createEventStreamParser,
  inviterPromoCode: inviterPromoCode
};
