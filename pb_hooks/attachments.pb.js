/// <reference path="../pb_data/types.d.ts" />

// tbl_attachments holds ID-card scans and must not be enumerable. The list rule (schema.yaml) admits
// a WeChat user's own attachments (attachments_owner = their openid) to any filter, and anyone's
// attachment to a filter whose text names attachments_id (a rule cannot compare a filter with a
// record's id exactly). This guard, which runs before the answer leaves, keeps that second door to
// the one form the contract fixes, an exact business id: attachments_id="ATT-...".
//   - that exact form: anyone (the rule's second door; the filter itself picks one record);
//   - any other filter, none included: a WeChat user only (their own records, by the rule's first
//     door), and only when it does not name attachments_id (which would open the second door);
//   - everyone else (guests, an auth record without an openid): refused, as before.
// The rule's `~ "%attachments_id%"` is SQL LIKE: case-insensitive, `_` any one character; the
// pattern below reads a filter the same way.
onRecordsListRequest((e) => {
  if (!e.hasSuperuserAuth()) {
    const filter = e.requestInfo().query["filter"] || "";
    const exact = /^\s*attachments_id\s*=\s*(?:"[A-Za-z0-9_-]{1,64}"|'[A-Za-z0-9_-]{1,64}')\s*$/.test(filter);
    if (!exact) {
      const { USERS } = require(`${__hooks}/lib/domain.js`);
      const auth = e.auth;
      const wechatUser = !!auth && auth.collection().name === USERS && auth.getString("openid") !== "";
      if (!wechatUser) {
        throw new BadRequestError('Only the filter attachments_id="<id>" is allowed for this collection.');
      }
      if (/attachments[\s\S]id/i.test(filter)) {
        throw new BadRequestError('A filter on attachments_id must be exactly attachments_id="<id>"; '
          + "your own attachments are listed without it.");
      }
    }
  }
  e.next();
}, "tbl_attachments");

// The file metadata of a newly set file. On create, what the uploader left empty (the sidecar's uploads
// arrive with theirs computed). On update, all of it: a file replaced in the dashboard comes with the
// form's old values, which describe the previous file. Without a new file nothing is touched.
// (A handler runs detached from this file: everything it uses is inside it or required.)
function fillAttachmentMetadata(e) {
  const files = e.record.getUnsavedFiles("attachments_link");
  if (files.length > 0) {
    const file = files[0];
    const overwrite = !e.record.isNew();
    const fill = (field, compute) => {
      if (overwrite || !e.record.get(field)) {
        e.record.set(field, compute());
      }
    };
    fill("attachments_filename", () => file.originalName);
    fill("attachments_size", () => file.size);
    fill("attachments_filetype", () => require(`${__hooks}/lib/mime.js`).byName(file.originalName));
    fill("attachments_md5", () => {
      const reader = file.reader.open();
      try {
        return $security.md5(readerToString(reader));
      } finally {
        reader.close();
      }
    });
  }
  e.next();
}
onRecordCreateRequest(fillAttachmentMetadata, "tbl_attachments");
onRecordUpdateRequest(fillAttachmentMetadata, "tbl_attachments");

// The files hold ID-card scans: no shared cache (CDN, proxy) may keep one after it is deleted or
// replaced; the browser and the mini-program may. PocketBase sets its own public 30-day Cache-Control
// only when none is set, and serves files stored locally or in S3 alike through this hook. (The
// event's response writer is reached through its embedded request event: e.response is not exposed.)
onFileDownloadRequest((e) => {
  e.requestEvent.response.header().set("Cache-Control", "private, max-age=2592000");
  e.next();
}, "tbl_attachments");
