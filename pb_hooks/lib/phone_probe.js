/// <reference path="../../pb_data/types.d.ts" />

// Bounds phone probing through the profile route's users_phone: a user may try at most LIMIT
// distinct numbers (taken or accepted) per WINDOW_MS. The attempts live in sys_phone_attempts so
// every sidecar worker and host sees the same figure. RATE_LIMITS off (benchmarks; every form of off the
// settings table accepts, lib/settings.js) lifts it.

const ATTEMPTS = require(`${__hooks}/lib/domain.js`).PHONE_ATTEMPTS;
const LIMIT = 5;
const WINDOW_MS = 10 * 60 * 1000;

function enabled() {
  return require(`${__hooks}/lib/settings.js`).rateLimitsOn();
}

// Records that userId tried phone; false (nothing written) when that would exceed the limit.
// One transaction: concurrent tries of one user cannot both take the last slot.
function admit(app, userId, phone) {
  if (!enabled()) {
    return true;
  }
  let admitted = false;
  app.runInTransaction((txApp) => {
    const since = Date.now() - WINDOW_MS;
    txApp.db().newQuery(`DELETE FROM ${ATTEMPTS} WHERE user = {:user} AND at <= {:since}`)
      .bind({ user: userId, since: since }).execute();
    const recent = txApp.findRecordsByFilter(ATTEMPTS, "user = {:user}", "", 0, 0, { user: userId });
    const phones = recent.map((r) => r.getString("phone"));
    if (phones.includes(phone)) {
      admitted = true;
      return;
    }
    if (new Set(phones).size >= LIMIT) {
      return;
    }
    const attempt = new Record(txApp.findCollectionByNameOrId(ATTEMPTS));
    attempt.set("user", userId);
    attempt.set("phone", phone);
    attempt.set("at", Date.now());
    txApp.save(attempt);
    admitted = true;
  });
  return admitted;
}

module.exports = { admit, LIMIT, WINDOW_MS };
