/// <reference path="../../pb_data/types.d.ts" />

// Promo codes (推广码) and who brought whom (issue #29): a code for every user, made when the user is
// created and never changed; a newcomer's inviter, taken from the login that registers them only.
// Loaded with require() from the handlers (pb_hooks/referral.pb.js, lib/wechat_users.js) and the
// back-fill migration (pb_migrations/*_promo_codes.js).

const {
  USERS, PROMO_CODE_ALPHABET, PROMO_CODE_LENGTH, PROMO_CODE_MAX_LENGTH,
} = require(`${__hooks}/lib/domain.js`);

const PROMO_CODE_FIELD = "users_promo_code";
const PARENT_FIELD = "users_parent_id";
// What an inviter code may look like before it is looked up: anything else is ignored without a query.
const INVITER_SHAPE = new RegExp(`^[0-9A-Za-z]{1,${PROMO_CODE_MAX_LENGTH}}$`);
// Saves retried when a new code collides with an existing one (the unique index refuses the save).
const MAX_ATTEMPTS = 5;
// The login audit's row (tbl_login_log.route) for a registration that names its inviter.
const INVITE_ROUTE = "invite";
// Users back-filled per query (backfill).
const BACKFILL_PAGE = 500;

function newPromoCode() {
  return $security.randomStringWithAlphabet(PROMO_CODE_LENGTH, PROMO_CODE_ALPHABET);
}

// Gives record a promo code when it has none (any create: our login, the dashboard, imports).
function assign(record) {
  if (!record.getString(PROMO_CODE_FIELD)) {
    record.set(PROMO_CODE_FIELD, newPromoCode());
  }
}

// Whether err is the unique index refusing a promo code that another user holds.
function isCollision(err) {
  const text = String(err);
  return text.includes(PROMO_CODE_FIELD) && /unique/i.test(text);
}

// Runs save() until its promo code does not collide (a fresh code each time, at most MAX_ATTEMPTS);
// save(attempt) must build the record anew or clear its code. Any other error is thrown as it is.
function withFreshCode(save) {
  for (let attempt = 1; ; attempt++) {
    try {
      return save(attempt);
    } catch (err) {
      if (attempt >= MAX_ATTEMPTS || !isCollision(err)) {
        throw err;
      }
    }
  }
}

// The user whose promo code is `code` and who may be named as an inviter (not banned); null for
// anything else: an empty or odd value, an unknown code, a banned user. Codes are matched without
// regard to case (they hold capitals only), so a code typed in lower case still counts.
function findInviter(app, code) {
  const value = String(code || "").trim();
  if (!INVITER_SHAPE.test(value)) {
    return null;
  }
  let inviter;
  try {
    inviter = app.findFirstRecordByData(USERS, PROMO_CODE_FIELD, value.toUpperCase());
  } catch (_) {
    return null;
  }
  return require(`${__hooks}/lib/wechat_users.js`).isBanned(inviter) ? null : inviter;
}

// The login audit's "invite" row for user, brought by inviter: in the transaction that created user.
function writeInvite(txApp, event, user, inviter) {
  require(`${__hooks}/lib/login_log.js`).write(txApp, {
    route: INVITE_ROUTE, openid: user.getString("openid"), userId: user.id, ip: event.realIP(),
    userAgent: event.requestInfo().headers["user_agent"], result: "ok", status: 200,
    reason: `invited by ${inviter.getString("users_id")} (promo code ${inviter.getString(PROMO_CODE_FIELD)})`,
  });
}

// Back-fills a code for every user without one (the data migration); returns how many got one. A page
// at a time: loading every user at once would hold the whole table in memory on a large database. Each
// page's saved users no longer match the filter, so the next query finds the rest; a run interrupted
// (PocketBase rolls the migration back) or run again starts over with whoever still has no code.
function backfill(app) {
  let given = 0;
  for (;;) {
    const users = app.findRecordsByFilter(USERS, `${PROMO_CODE_FIELD} = ''`, "id", BACKFILL_PAGE, 0);
    for (const user of users) {
      withFreshCode(() => {
        user.set(PROMO_CODE_FIELD, newPromoCode());
        app.save(user);
      });
    }
    given += users.length;
    if (users.length < BACKFILL_PAGE) {
      return given;
    }
  }
}

module.exports = {
  PROMO_CODE_FIELD, PARENT_FIELD, INVITE_ROUTE, assign, isCollision, withFreshCode, findInviter, writeInvite, backfill,
};
