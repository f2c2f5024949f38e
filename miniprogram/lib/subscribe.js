// Subscribe messages (订阅消息, docs/subscribe.md).
'use strict';

var errors = require('./errors.js');
var ApiError = errors.ApiError;
var ok = errors.ok;

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

module.exports = { createSubscribe: createSubscribe };
