/// <reference path="../pb_data/types.d.ts" />

// A visitor (游客) with both a name and a phone is a registered user (注册用户), and a registered
// user who no longer has both (a WeChat-verified claim took their typed phone: lib/wechat_users.js)
// is a visitor again. Decided here, on the merged record inside the write, because two concurrent
// profile updates (one setting the name, the other the phone) would each see the other field empty
// and neither would promote. Other types (set by operators) are left alone.
// A name counts when something of it shows: not only spaces, format characters (zero width, BOM...),
// combining marks or blank letters (Hangul fillers, Braille blank) — the sidecar's rule for what it
// stores (sidecar/routes/inputs.py); here for names set elsewhere (the dashboard, older data).
function promoteRegisteredUser(e) {
  const record = e.record;
  const type = record.getString("users_type");
  const shown = record.getString("users_name")
    .replace(/[\s\p{Z}\p{Cc}\p{Cf}\p{Cs}\p{Mn}\p{Me}\u115f\u1160\u3164\uffa0\u2800]/gu, "");
  const complete = !!(shown && record.getString("users_phone"));
  if ((type === "" || type === "游客") && complete) {
    record.set("users_type", "注册用户");
  } else if (type === "注册用户" && !complete) {
    record.set("users_type", "游客");
  }
  e.next();
}
onRecordCreate(promoteRegisteredUser, "tbl_auth_users");
onRecordUpdate(promoteRegisteredUser, "tbl_auth_users");
