/// <reference path="../pb_data/types.d.ts" />

// WeChat content security inside PocketBase (sidecar/moderation.py): superuser-only internal
// routes, one request each. nginx answers 404 for /pb/api/internal/ (deploy/). The rules, the
// window and the bounds are in lib/media_checks.js.

// POST {timestamp, nonce, verdict: null | {trace_id, suggest, errcode}} -> {result}: a message
// push the sidecar has checked the signature of. In one transaction: its timestamp within the
// window, its nonce never seen (else 401 {reason: "push_stale" | "push_replayed"}, nothing
// applied), the nonce remembered, and its wxa_media_check verdict applied once (lib/media_checks.js,
// applyVerdict: "applied", "resubmit", "repeated", "unknown"; "acknowledged" without a verdict).
routerAdd("POST", "/api/internal/wechat-push", (e) => {
  const result = require(`${__hooks}/lib/media_checks.js`).receivePush(e.app, e.requestInfo().body);
  return e.json(result.status, result.body);
}, $apis.requireSuperuserAuth());

// POST {limit} -> {due: [{id, attachments_owner, attachments_link}], manual}: the pictures to
// submit to WeChat again, claimed (sidecar/moderation.py, resubmit_due, calls it periodically).
routerAdd("POST", "/api/internal/media-due", (e) => {
  const limit = Math.min(Math.max(Number(e.requestInfo().body.limit) || 10, 1), 100);
  return e.json(200, require(`${__hooks}/lib/media_checks.js`).claimDue(e.app, limit));
}, $apis.requireSuperuserAuth());
