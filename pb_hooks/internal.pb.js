/// <reference path="../pb_data/types.d.ts" />

// Internal routes of the sidecar: each does a public route's data work in one request.
// Superusers only (the sidecar); nginx also answers 404 for /pb/api/internal/ (deploy/).
// Bodies are JSON; answers are JSON, a refusal being {reason, field?} with a 4xx status.

// POST {openid, unionid, create, route, inviter_promo_code?} -> {registered, token, user: <view_user_info
// row>}; 404 when create is false and no user has that openid. route names the public route in the login
// audit's success row: "refresh-token" (a token for a WeChat code), else "login". inviter_promo_code sets
// a new user's users_parent_id (lib/referral.js: an unknown, own or banned inviter's code is ignored).
routerAdd("POST", "/api/internal/wechat-login", (e) => {
  const body = e.requestInfo().body;
  const openid = String(body.openid || "");
  if (!openid) {
    const refused = require(`${__hooks}/lib/domain.js`).refusal("openid_missing");
    return e.json(refused.status, refused.body);
  }
  const result = require(`${__hooks}/lib/wechat_users.js`)
    .login(e.app, openid, String(body.unionid || ""), body.create === true,
      body.route === "refresh-token" ? "refresh-token" : "login", e, String(body.inviter_promo_code || ""));
  return e.json(result.status, result.body);
}, $apis.requireSuperuserAuth());

// POST {token, changes: {field: value}, typed_phone} -> {user: <view_user_info row>}. A users_phone
// that is not typed came from a WeChat phone code: verified (lib/wechat_users.js, takeOver).
routerAdd("POST", "/api/internal/profile", (e) => {
  const body = e.requestInfo().body;
  const changes = body.changes && typeof body.changes === "object" ? body.changes : {};
  const result = require(`${__hooks}/lib/wechat_users.js`)
    .updateProfile(e.app, body.token, changes, body.typed_phone === true, e);
  return e.json(result.status, result.body);
}, $apis.requireSuperuserAuth());

// POST {token} -> {token}: a new token for a valid but non-refreshable user token (refreshable
// ones are renewed by PocketBase's native auth-refresh).
routerAdd("POST", "/api/internal/renew-token", (e) => {
  const result = require(`${__hooks}/lib/wechat_users.js`).renewToken(e.app, e.requestInfo().body.token, e);
  return e.json(result.status, result.body);
}, $apis.requireSuperuserAuth());

// GET -> {total}: the number of users, O(1) (lib/users_counter.js).
routerAdd("GET", "/api/internal/users-count", (e) => {
  return e.json(200, { total: require(`${__hooks}/lib/users_counter.js`).usersCount(e.app) });
}, $apis.requireSuperuserAuth());

// The counter is set from COUNT(*) at every start: rows may have arrived while PocketBase was
// stopped (restores, imports straight into SQLite). On a fresh data dir whose migrations run
// after bootstrap, the first users-count read does it instead (lib/users_counter.js).
onBootstrap((e) => {
  e.next();
  require(`${__hooks}/lib/users_counter.js`).reconcileIfReady(e.app);
});
