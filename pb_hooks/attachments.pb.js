/// <reference path="../pb_data/types.d.ts" />

// tbl_attachments holds ID-card scans. Its list is public only for the one form the contract
// fixes, an exact business id: attachments_id="ATT-...". Anything else (no filter, !=, ~,
// or extra conditions) would let a caller enumerate the collection.
onRecordsListRequest((e) => {
  if (!e.hasSuperuserAuth()) {
    const filter = (e.requestInfo().query["filter"] || "").trim();
    if (!/^attachments_id\s*=\s*(?:"[A-Za-z0-9_-]{1,64}"|'[A-Za-z0-9_-]{1,64}')$/.test(filter)) {
      throw new BadRequestError('Only the filter attachments_id="<id>" is allowed for this collection.');
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
