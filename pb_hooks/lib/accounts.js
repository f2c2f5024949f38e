/// <reference path="../../pb_data/types.d.ts" />

// Shared by the internal routes of pb_hooks/accounts.pb.js (handlers run in isolated contexts).

// Checks the request's user token (lib/wechat_users.js tokenUser: signature, expiry, tokenKey) inside a
// transaction and applies act(txApp, user) to its user. Answers {id}, or the refusal every internal
// route gives a bad token: 401 {reason: "token_invalid"}.
function withTokenUser(e, act) {
  let answer = null;
  // Reads (the token's user) then writes: the write lock first (lib/write_tx.js says why).
  require(`${__hooks}/lib/write_tx.js`).runInWriteTransaction(e.app, (txApp) => {
    const found = require(`${__hooks}/lib/wechat_users.js`).tokenUser(txApp, e.requestInfo().body.token, false);
    if (found.refusal) {
      answer = found.refusal;
      return;
    }
    act(txApp, found.user);
    answer = { status: 200, body: { id: found.user.id } };
  });
  return e.json(answer.status, answer.body);
}

module.exports = { withTokenUser };
