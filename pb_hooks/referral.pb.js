/// <reference path="../pb_data/types.d.ts" />

// Promo codes and who brought whom (issue #29; lib/referral.js). A promo code is printed on posters and
// carried by mini-program codes already shared: it never changes once given, on any path that saves a
// user (the users' own tokens cannot update tbl_auth_users at all: its update rule is null; this guards
// the dashboard, superuser API calls and hooks). A user without one (created before this change and not
// yet back-filled) may be given one.
onRecordCreate((e) => {
  require(`${__hooks}/lib/referral.js`).assign(e.record);
  e.next();
}, "tbl_auth_users");

onRecordUpdate((e) => {
  const field = require(`${__hooks}/lib/referral.js`).PROMO_CODE_FIELD;
  const before = e.record.original().getString(field);
  if (before && e.record.getString(field) !== before) {
    throw new BadRequestError("users_promo_code never changes once given.");
  }
  e.next();
}, "tbl_auth_users");

// A user's share codes (tbl_share_codes, the mini-program code images) go with the user, in the same
// transaction, whoever deletes it (close-account, the dashboard): PocketBase removes their files
// (local disk or S3) once it commits.
onRecordDelete((e) => {
  const { SHARE_CODES } = require(`${__hooks}/lib/domain.js`);
  const owned = e.app.findRecordsByFilter(SHARE_CODES, "share_user = {:user}", "", 0, 0, { user: e.record.id });
  for (const record of owned) {
    e.app.delete(record);
  }
  e.next();
}, "tbl_auth_users");
