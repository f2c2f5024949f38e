/// <reference path="../pb_data/types.d.ts" />

// Account lifecycle for the sidecar's logout and close-account routes: superuser-only internal
// routes, each one PocketBase request. The body {"token": "<the user's token>"} is verified here
// (lib/accounts.js), so a revoked or forged token changes nothing; it is refused as the other
// internal routes refuse, 401 {reason: "token_invalid"}.

// Logout everywhere: a new tokenKey invalidates every token issued for the user so far (PocketBase
// also drops the user's auth from open realtime connections). Read and saved in one transaction:
// saving writes every field, so a profile update committed in between would otherwise be undone.
routerAdd("POST", "/api/internal/logout", (e) => {
  return require(`${__hooks}/lib/accounts.js`).withTokenUser(e, (txApp, user) => {
    user.refreshTokenKey();
    txApp.save(user);
  });
}, $apis.requireSuperuserAuth());

// Close the account: the user record goes, and with it its tokens, openid and phone number, and in the
// same transaction the attachments the user owns with their files (PIPL: personal information is deleted
// when the account is closed). What else refers to the user (a company's owner openid, documents) stays.
routerAdd("POST", "/api/internal/close-account", (e) => {
  return require(`${__hooks}/lib/accounts.js`).withTokenUser(e, (txApp, user) => {
    require(`${__hooks}/lib/uploads.js`).deleteOwned(txApp, user.getString("openid"));
    txApp.delete(user);
  });
}, $apis.requireSuperuserAuth());
