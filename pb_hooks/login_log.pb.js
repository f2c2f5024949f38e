/// <reference path="../pb_data/types.d.ts" />

// The sidecar's audit writer (sidecar/audit.py) saves its rows here, so every row of tbl_login_log is
// shaped by one function (lib/login_log.js), whether written by this route or inside a login route.
// Body: {route, openid, userId, ip, userAgent, result, status, reason}.
routerAdd("POST", "/api/internal/login-log", (e) => {
  require(`${__hooks}/lib/login_log.js`).write(e.app, e.requestInfo().body);
  return e.noContent(204);
}, $apis.requireSuperuserAuth());

// Every successful native auth-refresh of a user token is audited as route "auth-refresh": our
// refresh-token with a refreshable bearer is that one request (the sidecar forwards the client's
// X-Real-IP and User-Agent), and so is an SDK's authRefresh() on PocketBase's own API; both renew a
// signed-in session, and PocketBase cannot tell which door the call came through.
onRecordAuthRefreshRequest((e) => {
  e.next();
  require(`${__hooks}/lib/login_log.js`).writeSuccess(e.app, e, "auth-refresh", e.record);
}, "tbl_auth_users");

// Retention of the login audit: every hour, rows older than LOGIN_LOG_DAYS (default 90) go.
// Superusers can also run it at once from the dashboard (Settings > Crons) or POST /api/crons/login_log_prune.
cronAdd("login_log_prune", "17 * * * *", () => {
  require(`${__hooks}/lib/login_log.js`).prune($app);
});
