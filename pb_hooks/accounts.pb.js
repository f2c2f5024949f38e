/// <reference path="../pb_data/types.d.ts" />

// Account lifecycle for the sidecar's logout and close-account routes: superuser-only internal
// routes, each one PocketBase request. The body {"token": "<the user's token>"} is verified here,
// so a revoked or forged token changes nothing (lib/accounts.js).

// Logout everywhere: a new tokenKey invalidates every token issued for the user so far.
routerAdd("POST", "/api/internal/logout", (e) => {
  const record = require(`${__hooks}/lib/accounts.js`).userOfToken(e.app, e.requestInfo().body["token"]);
  record.refreshTokenKey();
  e.app.save(record);
  return e.json(200, { id: record.id });
}, $apis.requireSuperuserAuth());

// Close the account: the user record goes, and with it its tokens, openid and phone number.
// What refers to the user elsewhere (a company's owner openid, attachments) is left as it is.
routerAdd("POST", "/api/internal/close-account", (e) => {
  const record = require(`${__hooks}/lib/accounts.js`).userOfToken(e.app, e.requestInfo().body["token"]);
  e.app.delete(record);
  return e.json(200, { id: record.id });
}, $apis.requireSuperuserAuth());
