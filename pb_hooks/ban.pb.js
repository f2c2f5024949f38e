/// <reference path="../pb_data/types.d.ts" />

// A ban (users_status 禁用, set by an operator in the dashboard) takes effect in the save that sets
// it: a new tokenKey makes every token of the user invalid on our routes and on PocketBase's own
// API, and PocketBase drops the user's auth from open realtime connections, as logout does
// (accounts.pb.js). No token is minted for a banned user afterwards (lib/wechat_users.js) and the
// collection's authRule makes the native auth-refresh refuse them (schema.yaml). Lifting the ban
// (正常) changes nothing else: the next login works as before.
onRecordUpdate((e) => {
  const banned = require(`${__hooks}/lib/wechat_users.js`).isBanned;
  if (banned(e.record) && !banned(e.record.original())) {
    e.record.refreshTokenKey();
  }
  e.next();
}, "tbl_auth_users");
