/// <reference path="../pb_data/types.d.ts" />

// POST {token} -> {result: "ok"}: whether the token's user may upload now, with the upload route's
// refusals (401 token_invalid / no_openid, 403 user_banned, 429 upload_rate). Reads only, no write
// lock: the sidecar asks it before decoding a picture, so an unverified caller costs no picture work.
routerAdd("POST", "/api/internal/upload-check", (e) => {
  const result = require(`${__hooks}/lib/uploads.js`).check(e.app, e.requestInfo().body.token);
  return e.json(result.status, result.body);
}, $apis.requireSuperuserAuth());

// The sidecar's upload route in one PocketBase request (superusers only: the sidecar; nginx answers 404
// for /pb/api/internal/). multipart/form-data: token, filename, filetype, size, md5, status and the
// clean file in the part `file` -> {attachment: <tbl_attachments record>}; refusals {reason}: 401
// token_invalid / no_openid, 403 user_banned, 429 upload_rate (UPLOAD_RATE per user and hour), 400 file_missing.
routerAdd("POST", "/api/internal/upload", (e) => {
  const result = require(`${__hooks}/lib/uploads.js`).create(e);
  return e.json(result.status, result.body);
}, $apis.requireSuperuserAuth());
