/// <reference path="../pb_data/types.d.ts" />

// A visitor (游客) whose info is complete (a name that shows and a phone) is a registered user (注册用户),
// and a registered user whose info is no longer complete (a WeChat-verified claim took their typed phone:
// lib/wechat_users.js) is a visitor again. Decided here, on the merged record inside the write, because two
// concurrent profile updates (one setting the name, the other the phone) would each see the other field empty
// and neither would promote; and here on every save, the dashboard's and the native API's included. "Shows"
// is vocabulary.yaml's invisible set, the one the sidecar trims names with (lib/wechat_users.js infoComplete).
// Other types (set by operators) are left alone.
function promoteRegisteredUser(e) {
  const { USER_VISITOR, USER_REGISTERED } = require(`${__hooks}/lib/domain.js`);
  const record = e.record;
  const type = record.getString("users_type");
  const complete = require(`${__hooks}/lib/wechat_users.js`).infoComplete(record);
  if ((type === "" || type === USER_VISITOR) && complete) {
    record.set("users_type", USER_REGISTERED);
  } else if (type === USER_REGISTERED && !complete) {
    record.set("users_type", USER_VISITOR);
  }
  e.next();
}
onRecordCreate(promoteRegisteredUser, "tbl_auth_users");
onRecordUpdate(promoteRegisteredUser, "tbl_auth_users");
