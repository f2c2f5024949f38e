/// <reference path="../../pb_data/types.d.ts" />

// The data work of the sidecar's login and profile routes, done in one PocketBase request each
// (pb_hooks/internal.pb.js). Answers are plain objects: {status, body}. A refusal's body is
// {reason, field?}; the sidecar maps each reason to its envelope (sidecar/users.py).

const {
  USERS, USER_INFO_VIEW, PICTURE_FIELDS, PROFILE_FIELDS, INFO_COMPLETE_FIELDS, USER_ACTIVE, USER_BANNED,
  USER_VISITOR, refusal, trimInvisible,
} = require(`${__hooks}/lib/domain.js`);

// Whether the user is banned: the one test every place that mints or accepts a token asks.
function isBanned(user) {
  return user.getString("users_status") === USER_BANNED;
}

// Whether the user's info is complete: something of each of INFO_COMPLETE_FIELDS shows (vocabulary.yaml's
// invisible characters, trimmed alike by the sidecar). Decided here only: users.pb.js promotes a 游客 by it on
// every save, and the login answers it (the sidecar's is_info_complete).
function infoComplete(user) {
  return INFO_COMPLETE_FIELDS.every((field) => trimInvisible(user.getString(field)) !== "");
}

function findByOpenid(app, openid) {
  try {
    return app.findFirstRecordByData(USERS, "openid", openid);
  } catch (_) {
    return null;
  }
}

function isUniqueViolation(err, field) {
  const text = String(err);
  return text.includes(field) && /unique/i.test(text);
}

// The user's UserInfo row: its view_user_info row, or the record itself when there is no company
// or picture to join (the view's other columns are then empty; reading it would cost ~1/3 of a login).
function userInfo(app, user) {
  if (!user.getString("company_id") && !PICTURE_FIELDS.some((field) => user.getString(field))) {
    return user;
  }
  return app.findRecordById(USER_INFO_VIEW, user.id);
}

// A signed-in answer: the UserInfo row and a standard (refreshable) auth token, whose lifetime is
// the collection's auth token duration (schema.yaml token_duration).
function answer(app, user, registered) {
  return {
    status: 200,
    body: { registered, token: user.newAuthToken(), user: userInfo(app, user), info_complete: infoComplete(user) },
  };
}

// A new WeChat visitor of openid, saved with app; users_parent_id the inviter's users_id when there is one.
// Its promo code is made by the save (pb_hooks/referral.pb.js).
function createUser(app, openid, unionid, inviter) {
  const user = new Record(app.findCollectionByNameOrId(USERS));
  user.load({ openid, unionid, users_idtype: "WeChat", users_type: USER_VISITOR, users_status: USER_ACTIVE });
  // Nobody logs in with it (password auth is off): a long random secret nobody knows.
  user.setPassword($security.randomString(40));
  if (inviter) {
    user.set(require(`${__hooks}/lib/referral.js`).PARENT_FIELD, inviter.getString("users_id"));
  }
  app.save(user);
  return user;
}

// Creates the WeChat visitor of openid (saved again with a fresh promo code should its code collide). With
// an inviterCode that names a user who may invite (lib/referral.js findInviter: known, not banned, not the
// newcomer), in one transaction: the user with its users_parent_id, and the login audit's "invite" row.
// A bad inviter code is ignored. Without one, the save alone (the hot path of a first login, as before).
function register(app, openid, unionid, inviterCode, event) {
  const referral = require(`${__hooks}/lib/referral.js`);
  return referral.withFreshCode(() => {
    if (!inviterCode) {
      return createUser(app, openid, unionid, null);
    }
    let user = null;
    // Reads (the inviter) then writes: the write lock first (lib/write_tx.js says why).
    require(`${__hooks}/lib/write_tx.js`).runInWriteTransaction(app, (txApp) => {
      const found = referral.findInviter(txApp, inviterCode);
      // One's own code cannot name an inviter (a new user's code is made in this very save).
      const inviter = found && found.getString("openid") !== openid ? found : null;
      user = createUser(txApp, openid, unionid, inviter);
      if (inviter) {
        referral.writeInvite(txApp, event, user, inviter);
      }
    });
    return user;
  });
}

// Finds the user of openid, or creates it (when create) as a WeChat visitor. The openid unique
// index decides a race between two first logins: the loser re-reads and answers the winner.
// route: the audit's name of the public route ("login" or "refresh-token"); event: the internal
// route's request event (e.realIP() is the client's, forwarded by the sidecar). inviterCode: the
// promo code the newcomer's mini-program read from a shared code (register); a returning user's
// parent never changes by a login.
function login(app, openid, unionid, create, route, event, inviterCode) {
  let user = findByOpenid(app, openid);
  let registered = false;
  if (user === null) {
    if (!create) {
      return refusal("user_not_found");
    }
    try {
      user = register(app, openid, unionid, inviterCode, event);
      registered = true;
    } catch (err) {
      if (!isUniqueViolation(err, "openid")) {
        throw err;
      }
      user = findByOpenid(app, openid);
      if (user === null) {  // the winner was deleted in between
        return refusal("user_conflict");
      }
    }
  }
  if (isBanned(user)) {
    return refusal("user_banned");  // no token, the record untouched; the sidecar writes the audit's refusal row
  }
  if (!registered && unionid && !user.getString("unionid")) {
    user.set("unionid", unionid);
    app.save(user);
  }
  // The success row of the login audit, in this same request (the sidecar writes failures only).
  require(`${__hooks}/lib/login_log.js`).writeSuccess(app, event, route, user);
  return answer(app, user, registered);
}

// The tbl_auth_users record of a valid user token (with an openid when needOpenid), or a refusal.
function tokenUser(app, token, needOpenid) {
  let user;
  try {
    user = app.findAuthRecordByToken(String(token || ""), "auth");
  } catch (_) {
    return { refusal: refusal("token_invalid") };
  }
  if (user.collection().name !== USERS) {
    return { refusal: refusal("token_invalid") };
  }
  if (needOpenid && !user.getString("openid")) {
    return { refusal: refusal("no_openid") };
  }
  // A ban renews the tokenKey (ban.pb.js), so this only meets tokens minted after it (impersonation).
  if (isBanned(user)) {
    return { refusal: refusal("user_banned") };
  }
  return { user };
}

// Applies the non-empty profile changes to the token's user in one transaction (merged onto the
// record as stored then, so concurrent updates of other fields are kept) and answers the fresh row.
// typedPhone: the phone came from users_phone (bounded by phone_probe.js), not a WeChat phone code;
// a phone from a code is WeChat-verified, and takes the number from a user who only typed it (takeOver).
// event: the internal route's request (the client's address and user agent, for the audit row).
function updateProfile(app, token, changes, typedPhone, event) {
  const found = tokenUser(app, token, true);
  if (found.refusal) {
    return found.refusal;
  }
  // Nothing to change (a client reading its UserInfo with {}): no write, so `updated` stays as it was.
  if (!PROFILE_FIELDS.some((field) => changes[field])) {
    return { status: 200, body: { user: userInfo(app, found.user) } };
  }
  const userId = found.user.id;
  const phone = changes.users_phone || "";
  if (typedPhone && phone && phone !== found.user.getString("users_phone")) {
    if (!require(`${__hooks}/lib/phone_probe.js`).admit(app, userId, phone)) {
      return refusal("phone_attempts", "users_phone");
    }
  }
  let refused = null;
  let saved = null;
  try {
    // Reads then writes: the write lock first (lib/write_tx.js says why).
    require(`${__hooks}/lib/write_tx.js`).runInWriteTransaction(app, (txApp) => {
      const user = txApp.findRecordById(USERS, userId);
      for (const field of PROFILE_FIELDS) {
        if (!changes[field]) {
          continue;
        }
        // A picture is linked only when its attachment is the user's own; any other id is "missing".
        if (PICTURE_FIELDS.includes(field)
          && !require(`${__hooks}/lib/uploads.js`).owns(txApp, user.getString("openid"), changes[field])) {
          refused = refusal("attachment_missing", field);
          throw new Error("refused");
        }
        if (field === "users_phone") {
          if (!typedPhone && !takeOver(txApp, user, phone, event)) {
            refused = refusal("phone_taken", field);
            throw new Error("refused");
          }
          // Typing the number one holds keeps its proof; any other change of number is what it says.
          if (!typedPhone || phone !== user.getString("users_phone")) {
            user.set("users_phone_verified", !typedPhone);
          }
        }
        user.set(field, String(changes[field]));
      }
      txApp.save(user);
      saved = user;
    });
  } catch (err) {
    if (refused) {
      return refused;
    }
    if (isUniqueViolation(err, "users_phone")) {
      return refusal("phone_taken", "users_phone");
    }
    throw err;
  }
  return { status: 200, body: { user: userInfo(app, saved) } };
}

// A WeChat-verified claim of phone by user: false when another user holds it verified (they keep it);
// a holder who only typed it loses it (their users_type follows, users.pb.js) and the login audit gets
// a "phone-takeover" row naming them. In the caller's transaction (txApp).
function takeOver(txApp, user, phone, event) {
  let holder;
  try {
    holder = txApp.findFirstRecordByData(USERS, "users_phone", phone);
  } catch (_) {
    return true;  // nobody holds it
  }
  if (holder.id === user.id) {
    return true;
  }
  if (holder.getBool("users_phone_verified")) {
    return false;
  }
  holder.set("users_phone", "");
  holder.set("users_phone_verified", false);
  txApp.save(holder);
  require(`${__hooks}/lib/login_log.js`).write(txApp, {
    route: "phone-takeover", openid: holder.getString("openid"), userId: holder.id, ip: event.realIP(),
    userAgent: event.requestInfo().headers["user_agent"], result: "ok", status: 200,
    reason: `phone number taken over by a WeChat-verified claim of user ${user.id}`,
  });
  return true;
}

// A new standard token for the user of a valid token that PocketBase's auth-refresh refuses
// because it is not refreshable (impersonation tokens, as handed out before tokens were refreshable).
// A renewal is refresh-token's success: its audit row is written here too (event: the request).
function renewToken(app, token, event) {
  const found = tokenUser(app, token, false);
  if (found.refusal) {
    return found.refusal;
  }
  require(`${__hooks}/lib/login_log.js`).writeSuccess(app, event, "refresh-token", found.user);
  return { status: 200, body: { token: found.user.newAuthToken() } };
}

module.exports = { login, updateProfile, renewToken, tokenUser, isBanned, infoComplete };
