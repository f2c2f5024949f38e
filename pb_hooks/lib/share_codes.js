/// <reference path="../../pb_data/types.d.ts" />

// Share codes (issue #29): the data work of the sidecar's POST /pb/api/wechat/share-code
// (pb_hooks/share.pb.js). A tbl_share_codes record per user, page and width holds the mini-program code
// image WeChat made. Before WeChat is asked, the asker claims the record (created without an image; the
// unique index lets one claim win), so concurrent requests for one code ask WeChat once: the others wait
// for the image. A claim whose asker vanished (a crash, a timeout) is taken over after SHARE_CLAIM_SECONDS
// (vocabulary.yaml). A user holds at most SHARE_CODE_MAX codes (claims included): a new one past that is
// refused (share_code_limit) in the claim's transaction, so WeChat's shared quota is never spent on it.

const { USERS, SHARE_CODES, SHARE_CLAIM_SECONDS, SHARE_CODE_MAX, refusal } = require(`${__hooks}/lib/domain.js`);

const CLAIM_MS = SHARE_CLAIM_SECONDS * 1000;

function findCode(app, userId, page, width) {
  try {
    return app.findFirstRecordByFilter(SHARE_CODES,
      "share_user = {:user} && share_page = {:page} && share_width = {:width}", { user: userId, page, width });
  } catch (_) {
    return null;
  }
}

// PocketBase's datetime text ("2026-01-02 03:04:05.678Z") as milliseconds since the epoch.
function millis(text) {
  return Date.parse(String(text).replace(" ", "T"));
}

function fresh(record) {
  return Date.now() - millis(record.getString("updated")) < CLAIM_MS;
}

// The state of the token user's code of page and width: {state: "ready", share, promo_code} (stored),
// {state: "pending"} (another request is asking WeChat), or {state: "claimed", claim: <record id>,
// promo_code} (this request asks WeChat, then stores or releases). A refusal of the token as
// lib/wechat_users.js tokenUser gives it (401, 403 for a banned user); 429 share_code_limit for a new code
// past SHARE_CODE_MAX (a stored one is answered whatever the count).
function lookup(app, token, page, width) {
  const found = require(`${__hooks}/lib/wechat_users.js`).tokenUser(app, token, false);
  if (found.refusal) {
    return found.refusal;
  }
  const user = found.user;
  const stored = findCode(app, user.id, page, width);
  if (stored && stored.getString("share_image")) {
    const promoCode = user.getString(require(`${__hooks}/lib/referral.js`).PROMO_CODE_FIELD);
    return { status: 200, body: { state: "ready", share: stored, promo_code: promoCode } };
  }
  if (stored && fresh(stored)) {
    return { status: 200, body: { state: "pending" } };
  }
  return claim(app, user.id, page, width);
}

// Claims the code in a write transaction (one at a time: a second claimer sees the first's record, and the
// count of the user's codes includes every other claim, so concurrent claims never pass SHARE_CODE_MAX).
function claim(app, userId, page, width) {
  const referral = require(`${__hooks}/lib/referral.js`);
  let answer = null;
  try {
    require(`${__hooks}/lib/write_tx.js`).runInWriteTransaction(app, (txApp) => {
      const user = txApp.findRecordById(USERS, userId);
      if (!user.getString(referral.PROMO_CODE_FIELD)) {  // registered before the back-fill ran: one now
        referral.assign(user);
        txApp.save(user);
      }
      let record = findCode(txApp, userId, page, width);
      if (record && (record.getString("share_image") || fresh(record))) {
        answer = { status: 200, body: { state: "pending" } };
        return;
      }
      if (!record) {
        if (txApp.countRecords(SHARE_CODES, $dbx.hashExp({ share_user: userId })) >= SHARE_CODE_MAX) {
          answer = refusal("share_code_limit");
          return;
        }
        record = new Record(txApp.findCollectionByNameOrId(SHARE_CODES));
        record.load({ share_user: userId, share_page: page, share_width: width });
      }
      record.set("share_scene", user.getString(referral.PROMO_CODE_FIELD));
      txApp.save(record);  // a stale claim taken over: its `updated` is now
      const promoCode = record.getString("share_scene");
      answer = { status: 200, body: { state: "claimed", claim: record.id, promo_code: promoCode } };
    });
  } catch (err) {
    if (!/unique/i.test(String(err))) {
      throw err;
    }
    answer = { status: 200, body: { state: "pending" } };
  }
  return answer;
}

// The claim's image stored: e's multipart body holds token, claim and the image in the part `image`.
// Answers {share: <record>} (the image stored first, should two claimers get there); 409 share_claim_lost
// when the claim is gone or not the token user's.
function store(e) {
  const form = e.requestInfo().body;
  const uploaded = require(`${__hooks}/lib/uploads.js`).uploadedFile(e, "image");
  if (uploaded.refusal) {
    return uploaded.refusal;
  }
  let answer = null;
  require(`${__hooks}/lib/write_tx.js`).runInWriteTransaction(e.app, (txApp) => {
    const found = require(`${__hooks}/lib/wechat_users.js`).tokenUser(txApp, form.token, false);
    if (found.refusal) {
      answer = found.refusal;
      return;
    }
    let record = null;
    try {
      record = txApp.findRecordById(SHARE_CODES, String(form.claim || ""));
    } catch (_) {
      record = null;
    }
    if (!record || record.getString("share_user") !== found.user.id) {
      answer = refusal("share_claim_lost");
      return;
    }
    // A slow claimer's claim was taken over and the other one stored first: that image stays, this one goes.
    if (record.getString("share_image")) {
      answer = { status: 200, body: { share: record } };
      return;
    }
    record.set("share_image", uploaded.file);
    txApp.save(record);
    answer = { status: 200, body: { share: record } };
  });
  return answer;
}

// Gives up the token user's claim (WeChat refused or failed): the record goes, nothing is stored.
function release(app, token, claimId) {
  const found = require(`${__hooks}/lib/wechat_users.js`).tokenUser(app, token, false);
  if (found.refusal) {
    return found.refusal;
  }
  try {
    const record = app.findRecordById(SHARE_CODES, String(claimId || ""));
    if (record.getString("share_user") === found.user.id && !record.getString("share_image")) {
      app.delete(record);
    }
  } catch (_) {
    // already gone
  }
  return { status: 200, body: { result: "ok" } };
}

module.exports = { lookup, store, release };
