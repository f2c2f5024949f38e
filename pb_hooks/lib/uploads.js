/// <reference path="../../pb_data/types.d.ts" />

// Users' uploads (issue #17): the data work of the sidecar's POST /pb/api/wechat/upload in one request
// (pb_hooks/uploads.pb.js), and what closing an account deletes. The sidecar has already sniffed the
// file and stripped its metadata (sidecar/uploads.py): only that clean copy ever reaches PocketBase.

const { ATTACHMENTS, refusal } = require(`${__hooks}/lib/domain.js`);
const WINDOW_MS = 60 * 60 * 1000;

// Uploads per user and hour; 0 when UPLOAD_RATE=off (benchmarks) lifts the bound. Its default and forms:
// ops/settings.py, via lib/settings.js.
function rate() {
  return require(`${__hooks}/lib/settings.js`).uploadRate();
}

// PocketBase's datetime text ("2026-01-02 03:04:05.678Z") of ms milliseconds since the epoch.
function dbTime(ms) {
  return new Date(ms).toISOString().replace("T", " ");
}

// The attachments owner created in the last hour (idx_tbl_attachments_owner serves the query).
function recentUploads(app, owner) {
  return app.countRecords(ATTACHMENTS, $dbx.exp("attachments_owner = {:owner} AND created > {:since}",
    { owner, since: dbTime(Date.now() - WINDOW_MS) }));
}

// Whether the token's user may upload now: the user (401 token_invalid / no_openid, 403 user_banned)
// and the UPLOAD_RATE bound (429 upload_rate). Reads only: {owner} (their openid), or {refusal}.
function mayUpload(app, token) {
  const found = require(`${__hooks}/lib/wechat_users.js`).tokenUser(app, token, true);
  if (found.refusal) {
    return { refusal: found.refusal };
  }
  const owner = found.user.getString("openid");
  const limit = rate();
  if (limit && recentUploads(app, owner) >= limit) {
    return { refusal: refusal("upload_rate") };
  }
  return { owner };
}

// The sidecar's check before any picture work (sidecar/uploads.py): the same refusals as create's,
// read without the write lock and writing nothing. create checks again, in its transaction: this
// answer may be stale by then (a ban, a concurrent upload taking the last slot).
function check(app, token) {
  const found = mayUpload(app, token);
  return found.refusal || { status: 200, body: { result: "ok" } };
}

// The one file uploaded in e's multipart part `part`: {file}, or {refusal} 400 file_missing (no such
// part, a body that is not multipart, or more than one file). lib/share_codes.js store uses it too.
function uploadedFile(e, part) {
  let files;
  try {
    files = e.findUploadedFiles(part);
  } catch (_) {
    files = [];
  }
  if (files.length !== 1) {
    return { refusal: refusal("file_missing", part) };
  }
  return { file: files[0] };
}

// The upload: e's multipart body holds the user's token, the file's metadata and the clean file in the
// part `file`. In one transaction (PocketBase runs them one at a time, so two uploads of a user cannot
// both take the last slot): the token's user, the UPLOAD_RATE bound, the create. Answers
// {status, body}: {attachment: <record>}, or a refusal {reason}.
function create(e) {
  const form = e.requestInfo().body;
  const uploaded = uploadedFile(e, "file");
  if (uploaded.refusal) {
    return uploaded.refusal;
  }
  const file = uploaded.file;
  let answer = null;
  // Reads (the token's user, the recent uploads) then writes: the write lock first (lib/write_tx.js says why).
  require(`${__hooks}/lib/write_tx.js`).runInWriteTransaction(e.app, (txApp) => {
    const found = mayUpload(txApp, form.token);
    if (found.refusal) {
      answer = found.refusal;
      return;
    }
    const owner = found.owner;
    const record = new Record(txApp.findCollectionByNameOrId(ATTACHMENTS));
    record.load({
      attachments_owner: owner,
      attachments_filename: String(form.filename || ""),
      attachments_filetype: String(form.filetype || ""),
      attachments_size: Number(form.size) || file.size,
      attachments_md5: String(form.md5 || ""),
      attachments_status: String(form.status || ""),
    });
    record.set("attachments_link", file);
    txApp.save(record);
    answer = { status: 200, body: { attachment: record } };
  });
  return answer;
}

// Deletes the attachments owner uploaded or was given (attachments_owner = their openid) with their
// files, in the caller's transaction: PocketBase removes the files (local disk or S3) once it commits.
// An empty owner deletes nothing (records the dashboard made without one are nobody's).
function deleteOwned(txApp, owner) {
  if (!owner) {
    return 0;
  }
  const owned = txApp.findRecordsByFilter(ATTACHMENTS, "attachments_owner = {:owner}", "", 0, 0, { owner });
  for (const record of owned) {
    txApp.delete(record);
  }
  return owned.length;
}

// Whether the attachment with that business id belongs to owner: the profile route links only these,
// and answers for any other id exactly what it answers for a missing one.
function owns(app, owner, attachmentId) {
  if (!owner) {
    return false;
  }
  try {
    app.findFirstRecordByFilter(ATTACHMENTS, "attachments_id = {:id} && attachments_owner = {:owner}",
      { id: attachmentId, owner });
    return true;
  } catch (_) {
    return false;
  }
}

module.exports = { check, create, deleteOwned, owns, rate, uploadedFile, WINDOW_MS };
