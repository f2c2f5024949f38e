// PocketBase's records API for the collections the client reads (answers as PocketBase gives them).
'use strict';

var errors = require('./errors.js');
var queryString = require('./transport.js').queryString;
var answerError = errors.answerError;
var isObject = errors.isObject;
var okRead = errors.okRead;
var okWrite = errors.okWrite;

// wx.request knows no PATCH (its documented methods: OPTIONS GET HEAD POST PUT DELETE TRACE CONNECT),
// so a record update goes through PocketBase's batch API, which runs the same PATCH with the same rules.
var BATCH_PATH = '/api/batch';
// The collections the client reads: the contract's three, and the user's own record and row
// (tbl_auth_users' and view_user_info's rules admit their owner); any other name is a mistake. The names
// are vocabulary.yaml's (the module stands alone in a mini-program: a test checks them against it).
var COLLECTIONS = ['tbl_company', 'tbl_attachments', 'tbl_document', 'tbl_auth_users', 'view_user_info'];

/** name, or a TypeError at once naming the collections the client knows (COLLECTIONS). */
function knownCollection(name) {
  if (COLLECTIONS.indexOf(name) < 0) {
    throw new TypeError('collection: unknown collection ' + JSON.stringify(name) + '; the client knows ' +
      COLLECTIONS.join(', '));
  }
  return name;
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

/**
 * collection(name) of a client: getList, getFirstListItem, getOne, create, update as PocketBase's JS SDK
 * names them. authed(auth, send) is the client's: the session's token rules (see index.js).
 */
function createCollections(authed, transport) {
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

  return collection;
}

module.exports = { COLLECTIONS: COLLECTIONS, knownCollection: knownCollection, createCollections: createCollections };
