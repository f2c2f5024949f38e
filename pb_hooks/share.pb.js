/// <reference path="../pb_data/types.d.ts" />

// The sidecar's POST /pb/api/wechat/share-code (issue #29), in internal routes (superusers only: the
// sidecar; nginx answers 404 for /pb/api/internal/). lib/share_codes.js holds their work.

// POST {token, page, width} -> {state: "ready", share, promo_code} | {state: "pending"} |
// {state: "claimed", claim, promo_code}; refusals as every internal route's (401 token_invalid, 403 user_banned).
routerAdd("POST", "/api/internal/share-code", (e) => {
  const body = e.requestInfo().body;
  const result = require(`${__hooks}/lib/share_codes.js`)
    .lookup(e.app, body.token, String(body.page || ""), Number(body.width) || 0);
  return e.json(result.status, result.body);
}, $apis.requireSuperuserAuth());

// multipart/form-data: token, claim and the image in the part `image` -> {share: <tbl_share_codes record>};
// 409 share_claim_lost when the claim is gone.
routerAdd("POST", "/api/internal/share-code-store", (e) => {
  const result = require(`${__hooks}/lib/share_codes.js`).store(e);
  return e.json(result.status, result.body);
}, $apis.requireSuperuserAuth());

// POST {token, claim} -> {result: "ok"}: the claim given up (WeChat answered an error), nothing stored.
routerAdd("POST", "/api/internal/share-code-release", (e) => {
  const body = e.requestInfo().body;
  const result = require(`${__hooks}/lib/share_codes.js`).release(e.app, body.token, body.claim);
  return e.json(result.status, result.body);
}, $apis.requireSuperuserAuth());
