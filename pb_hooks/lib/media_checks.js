/// <reference path="../../pb_data/types.d.ts" />

// WeChat content security's picture checks inside PocketBase: the message push's freshness, the
// verdict's application (the one place a verdict changes an attachment), and the pictures due to be
// submitted again. Used by pb_hooks/moderation.pb.js; the sidecar (sidecar/moderation.py) calls it.

// The window, the bounds, the statuses and the names are vocabulary.yaml's (lib/domain.js).
const domain = require(`${__hooks}/lib/domain.js`);
const PUSH_WINDOW = domain.PUSH_WINDOW_SECONDS;
const REVIEW_BOUND = domain.REVIEW_BOUND_SECONDS;
const UNDER_REVIEW = domain.ATTACHMENT_UNDER_REVIEW;
const STATUS_OF = {
  pass: domain.ATTACHMENT_VALID, risky: domain.ATTACHMENT_RISKY, review: domain.ATTACHMENT_MANUAL_REVIEW,
};
// A nonce or timestamp as WeChat writes them (digits or letters; unix seconds).
const NONCE = /^[0-9A-Za-z_-]{1,64}$/;
const TIMESTAMP = /^[0-9]{1,12}$/;

const writeTx = require(`${__hooks}/lib/write_tx.js`);

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

// PocketBase's datetime text ("2006-01-02 15:04:05.000Z") of unix seconds, for filters on created.
function pbDate(seconds) {
  return new Date(seconds * 1000).toISOString().replace("T", " ");
}

// body: {timestamp, nonce, verdict: null | {trace_id, suggest, errcode}} -> {status, body}.
// Refused (401, nothing applied): a timestamp outside PUSH_WINDOW ("push_stale"), a nonce seen
// within it ("push_replayed"). Otherwise, in one transaction: the nonce remembered (and the
// nonces past the window forgotten) and the verdict applied -> 200 {result} (applyVerdict's, or
// "acknowledged" for a push without a verdict).
function receivePush(app, body) {
  const timestamp = String(body.timestamp || "");
  const nonce = String(body.nonce || "");
  const verdict = body.verdict && typeof body.verdict === "object" ? body.verdict : null;
  if (!TIMESTAMP.test(timestamp) || !NONCE.test(nonce)) {
    return domain.refusal("push_stale");
  }
  const now = nowSeconds();
  const at = Number(timestamp);
  if (Math.abs(now - at) > PUSH_WINDOW) {
    return domain.refusal("push_stale");
  }
  let answer = null;
  writeTx.runInWriteTransaction(app, (txApp) => {
    txApp.db().newQuery(`DELETE FROM ${domain.PUSH_NONCES} WHERE at < {:cut}`)
      .bind({ cut: now - PUSH_WINDOW }).execute();
    try {
      txApp.findFirstRecordByData(domain.PUSH_NONCES, "nonce", nonce);
      answer = domain.refusal("push_replayed");
      return;
    } catch (_) {
      // not seen: remembered below, with what it carries
    }
    const seen = new Record(txApp.findCollectionByNameOrId(domain.PUSH_NONCES));
    seen.set("nonce", nonce);
    seen.set("at", at);
    txApp.save(seen);
    const result = verdict
      ? applyVerdict(txApp, String(verdict.trace_id || ""), String(verdict.suggest || ""),
        Number(verdict.errcode) || 0, now)
      : "acknowledged";
    answer = { status: 200, body: { result } };
  });
  return answer;
}

// The one place a verdict changes an attachment (inside the caller's transaction). -> result:
//   errcode != 0 (WeChat could not check it): still 审核中, due now for a submission again "resubmit"
//   pass  -> 有效; risky -> 违规, the file removed (its URL answers 404, UserInfo's ""), and a
//            picture_removed subscribe message to the uploader when that template is configured;
//   review -> 待人工审核: attachments_suggest records it                           "applied"
// A trace id that is not an attachment's: "unknown"; one that has its verdict: "repeated".
function applyVerdict(txApp, traceId, suggest, errcode, now) {
  if (!traceId) {
    return "unknown";
  }
  let attachment;
  try {
    attachment = txApp.findFirstRecordByData(domain.ATTACHMENTS, "attachments_trace_id", traceId);
  } catch (_) {
    return "unknown";
  }
  if (attachment.getString("attachments_suggest") ||
      attachment.getString("attachments_status") !== UNDER_REVIEW) {
    return "repeated";
  }
  if (errcode !== 0 || !(suggest in STATUS_OF)) {
    attachment.set("attachments_check_due", now);
    txApp.save(attachment);
    return "resubmit";
  }
  attachment.set("attachments_suggest", suggest);
  attachment.set("attachments_status", STATUS_OF[suggest]);
  attachment.set("attachments_check_due", 0);
  if (suggest === "risky") {
    // The record stays for the operator (with its trace id); PocketBase deletes the file once saved.
    attachment.set("attachments_link", "");
  }
  txApp.save(attachment);
  if (suggest === "risky") {
    // A picture_removed message to the uploader, in this transaction (lib/subscribe.js).
    require(`${__hooks}/lib/subscribe.js`).pictureRemoved(txApp, attachment);
  }
  return "applied";
}

// The pictures due to be submitted again, claimed in one transaction (so two sidecar workers never
// get the same one): 审核中 without a verdict, and either due (attachments_check_due <= now) or
// never resubmitted and created more than REVIEW_BOUND ago. Each is due again REVIEW_BOUND later
// (should its submission fail); one past MAX_RESUBMISSIONS becomes 待人工审核 instead.
// -> {due: [{id, attachments_owner, attachments_link}], manual: <number moved to 待人工审核>}.
function claimDue(app, limit) {
  const now = nowSeconds();
  const due = [];
  let manual = 0;
  writeTx.runInWriteTransaction(app, (txApp) => {
    const records = txApp.findRecordsByFilter(domain.ATTACHMENTS,
      "attachments_status = {:status} && attachments_suggest = '' && " +
      "((attachments_check_due > 0 && attachments_check_due <= {:now}) || " +
      "(attachments_check_due = 0 && created <= {:cut}))",
      "created", limit, 0, { status: UNDER_REVIEW, now, cut: pbDate(now - REVIEW_BOUND) });
    for (const record of records) {
      const attempts = record.getInt("attachments_check_attempts");
      if (attempts >= domain.MAX_RESUBMISSIONS || !record.getString("attachments_link")) {
        record.set("attachments_status", domain.ATTACHMENT_MANUAL_REVIEW);
        record.set("attachments_check_due", 0);
        manual += 1;
      } else {
        record.set("attachments_check_attempts", attempts + 1);
        record.set("attachments_check_due", now + REVIEW_BOUND);
        due.push({ id: record.id, attachments_owner: record.getString("attachments_owner"),
          attachments_link: record.getString("attachments_link") });
      }
      txApp.save(record);
    }
  });
  return { due, manual };
}

module.exports = { receivePush, applyVerdict, claimDue };
