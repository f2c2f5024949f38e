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

// Fill the file metadata from the uploaded file when the uploader (the dashboard) left it empty.
function fillAttachmentMetadata(e) {
  const files = e.record.getUnsavedFiles("attachments_link");
  if (files.length > 0) {
    const file = files[0];
    if (!e.record.getString("attachments_filename")) {
      e.record.set("attachments_filename", file.originalName);
    }
    if (!e.record.getFloat("attachments_size")) {
      e.record.set("attachments_size", file.size);
    }
    if (!e.record.getString("attachments_filetype")) {
      e.record.set("attachments_filetype", require(`${__hooks}/lib/mime.js`).byName(file.originalName));
    }
    if (!e.record.getString("attachments_md5")) {
      const reader = file.reader.open();
      try {
        e.record.set("attachments_md5", $security.md5(readerToString(reader)));
      } finally {
        reader.close();
      }
    }
  }
  e.next();
}
onRecordCreateRequest(fillAttachmentMetadata, "tbl_attachments");
onRecordUpdateRequest(fillAttachmentMetadata, "tbl_attachments");
