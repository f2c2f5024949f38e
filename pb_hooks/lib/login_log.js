/// <reference path="../../pb_data/types.d.ts" />

// The login audit (tbl_login_log): one row per login or refresh-token attempt. Successes are written
// here, inside the request that signs the user in (internal routes, native auth-refresh), so a
// successful login stays one PocketBase request; the sidecar writes failures through
// /api/internal/login-log (sidecar/audit.py). Also the retention cron's code.

const COLLECTION = require(`${__hooks}/lib/domain.js`).LOGIN_LOG;
const USER_AGENT_MAX = 256;
const REASON_MAX = 200;

function clip(value, max) {
  const text = value === undefined || value === null ? "" : String(value);
  return text.length > max ? text.slice(0, max) : text;
}

// Writes one row with app (pass the transaction's app to make it part of that transaction).
// entry: {route, openid, userId, ip, userAgent, result: "ok" | "failed", status, reason}.
// Never pass a code, token or session_key in any of them.
function write(app, entry) {
  const record = new Record(app.findCollectionByNameOrId(COLLECTION));
  record.set("route", clip(entry.route, 64));
  record.set("openid", clip(entry.openid, 128));
  record.set("user_id", clip(entry.userId, 32));
  record.set("ip", clip(entry.ip, 64));
  record.set("user_agent", clip(entry.userAgent, USER_AGENT_MAX));
  record.set("result", entry.result === "ok" ? "ok" : "failed");
  record.set("status", entry.status || (entry.result === "ok" ? 200 : 0));
  record.set("reason", clip(entry.reason, REASON_MAX));
  app.save(record);
  return record;
}

// Writes the success row of `route` for `user`, signed in by the request `event` (its client address,
// forwarded by nginx or the sidecar as X-Real-IP, and its User-Agent). A failed write is logged and
// never fails the sign-in it describes (as the sidecar's writer).
function writeSuccess(app, event, route, user) {
  try {
    write(app, {
      route, openid: user.getString("openid"), userId: user.id, ip: event.realIP(),
      // requestInfo(), not event.request: the auth-refresh event does not expose the embedded request.
      userAgent: event.requestInfo().headers["user_agent"], result: "ok", status: 200,
    });
  } catch (err) {
    app.logger().warn("login log not written", "route", route, "error", String(err));
  }
}

// How many days rows are kept: LOGIN_LOG_DAYS (its default and forms: ops/settings.py, via lib/settings.js).
function retentionDays() {
  return require(`${__hooks}/lib/settings.js`).loginLogDays();
}

// Deletes the rows older than retentionDays() in one statement (the cron; rows have no hooks to run).
function prune(app) {
  const cutoff = new Date(Date.now() - retentionDays() * 24 * 3600 * 1000);
  // PocketBase stores datetimes as "YYYY-MM-DD HH:MM:SS.sssZ" text, which sorts as time does.
  const stamp = cutoff.toISOString().replace("T", " ");
  app.db().newQuery(`DELETE FROM ${COLLECTION} WHERE created < {:cutoff}`).bind({ cutoff: stamp }).execute();
}

module.exports = { COLLECTION, write, writeSuccess, prune, retentionDays };
