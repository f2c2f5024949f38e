/// <reference path="../pb_data/types.d.ts" />

// WeChat content security's picture verdicts (sidecar/moderation.py, from a wxa_media_check push):
// superuser-only internal route, one request. nginx answers 404 for /pb/api/internal/ (deploy/).
//
// POST {trace_id, suggest} -> {result}: the attachment whose attachments_trace_id is trace_id takes
// WeChat's verdict once (attachments_suggest records it; WeChat resends a push it got no answer to):
//   pass   -> attachments_status 有效                                         result "applied"
//   risky  -> 违规, and the file removed (its URL answers 404, UserInfo's URL "") result "applied",
//             and a picture_removed subscribe message to the uploader when that template is configured
//   review -> stays 审核中, for an operator to decide in the dashboard          result "applied"
// A verdict for an unknown trace id, or for one that has its verdict, changes nothing: result
// "unknown" / "repeated". Read and saved in one transaction, so two deliveries cannot both apply.
routerAdd("POST", "/api/internal/media-verdict", (e) => {
  const body = e.requestInfo().body;
  const traceId = String(body.trace_id || "");
  const suggest = String(body.suggest || "");
  const domain = require(`${__hooks}/lib/domain.js`);
  const statuses = {
    pass: domain.ATTACHMENT_VALID, risky: domain.ATTACHMENT_RISKY, review: domain.ATTACHMENT_UNDER_REVIEW,
  };
  if (!traceId || !(suggest in statuses)) {
    const refused = domain.refusal("verdict_invalid");
    return e.json(refused.status, refused.body);
  }
  let result = "unknown";
  // Reads then writes: the write lock first (lib/write_tx.js says why).
  require(`${__hooks}/lib/write_tx.js`).runInWriteTransaction(e.app, (txApp) => {
    let attachment;
    try {
      attachment = txApp.findFirstRecordByData(domain.ATTACHMENTS, "attachments_trace_id", traceId);
    } catch (_) {
      return;
    }
    if (attachment.getString("attachments_suggest")) {
      result = "repeated";
      return;
    }
    attachment.set("attachments_suggest", suggest);
    attachment.set("attachments_status", statuses[suggest]);
    if (suggest === "risky") {
      // The record stays for the operator (with its trace id); PocketBase deletes the file once saved.
      attachment.set("attachments_link", "");
    }
    txApp.save(attachment);
    if (suggest === "risky") {
      // A picture_removed message to the uploader, in this transaction (lib/subscribe.js).
      require(`${__hooks}/lib/subscribe.js`).pictureRemoved(txApp, attachment);
    }
    result = "applied";
  });
  return e.json(200, { result });
}, $apis.requireSuperuserAuth());
