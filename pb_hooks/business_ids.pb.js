/// <reference path="../pb_data/types.d.ts" />

// Every record of our collections gets its business id on create when none was given
// (the sidecar, the dashboard, imports: any path that saves a record).
onRecordCreate((e) => {
  require(`${__hooks}/lib/business_id.js`).assign(e.record, false);
  e.next();
}, "tbl_auth_users", "tbl_company", "tbl_attachments", "tbl_document");

// tbl_company is publicly creatable: a client-supplied company_id is never used, or a caller
// could take over (or collide with) another company's business id. Superusers may set one.
onRecordCreateRequest((e) => {
  if (!e.hasSuperuserAuth()) {
    require(`${__hooks}/lib/business_id.js`).assign(e.record, true);
  }
  e.next();
}, "tbl_company");
