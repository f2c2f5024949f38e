/** The HTTP layer: wx.request / wx.uploadFile / wx.login as Promises; every failure becomes an ApiError. */
'use strict';

var errors = require('./errors.js');
var ApiError = errors.ApiError;
var networkError = errors.networkError;

function queryString(params) {
  var parts = [];
  Object.keys(params || {}).forEach(function (key) {
    var value = params[key];
    if (value === undefined || value === null) return;
    parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(String(value)));
  });
  return parts.length ? '?' + parts.join('&') : '';
}

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

module.exports = { createTransport: createTransport, queryString: queryString };
