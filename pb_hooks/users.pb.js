/// <reference path="../pb_data/types.d.ts" />

// A visitor (游客) with both a name and a phone is a registered user (注册用户). Decided here, on
// the merged record inside the write, because two concurrent profile updates (one setting the
// name, the other the phone) would each see the other field empty and neither would promote.
function promoteRegisteredUser(e) {
  const record = e.record;
  const type = record.getString("users_type");
  if ((type === "" || type === "游客") && record.getString("users_name") && record.getString("users_phone")) {
    record.set("users_type", "注册用户");
  }
  e.next();
}
onRecordCreate(promoteRegisteredUser, "tbl_auth_users");
onRecordUpdate(promoteRegisteredUser, "tbl_auth_users");
