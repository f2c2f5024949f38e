// PocketBase's realtime API (pocketbase.io/docs/api-realtime): server-sent events on GET /api/realtime,
// whose first event PB_CONNECT carries the client id; the topics go to POST /api/realtime with the
// user's token, and PocketBase's rules decide what each event reaches (<collection>/* the list rule,
// <collection>/<id> the view rule). A mini-program has no EventSource: the stream is read with
// wx.request({enableChunked}) (base library 2.20.2+), whose onChunkReceived hands ArrayBuffers cut anywhere.
'use strict';

var errors = require('./errors.js');
var createEventStreamParser = require('./eventstream.js').createEventStreamParser;
var ApiError = errors.ApiError;
var isObject = errors.isObject;
var networkError = errors.networkError;

var REALTIME_PATH = '/api/realtime';
// As PocketBase's JS SDK (RealtimeService): PB_CONNECT within 15 s, then reconnects after these pauses.
var REALTIME_CONNECT_TIMEOUT_MS = 15000;
var RECONNECT_INTERVALS_MS = [200, 300, 500, 1000, 1200, 1500, 2000];
// PocketBase ends a connection idle for 5 minutes (and nginx after an hour); the request outlives the
// first, and whichever ends it, the client connects again and sends its topics anew.
var REALTIME_REQUEST_TIMEOUT_MS = 10 * 60 * 1000;

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

module.exports = { REALTIME_PATH: REALTIME_PATH, createRealtime: createRealtime, subscriptionKey: subscriptionKey };
