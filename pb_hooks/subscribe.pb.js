/// <reference path="../pb_data/types.d.ts" />

// Subscribe messages (docs/subscribe.md): the sidecar's internal routes over the grant ledger and the
// outbox (superusers only; nginx answers 404 for /pb/api/internal/), the outbox's own rules, and the
// company_status event. The logic is lib/subscribe.js.

// A malformed SUBSCRIBE_TEMPLATES stops PocketBase at start with that message, as it stops the sidecar.
onBootstrap((e) => {
  e.next();
  require(`${__hooks}/lib/subscribe.js`).templates();
});

// POST {token, names, add} -> {counts: {name: grants left}}: GET and POST /pb/api/wechat/subscribe.
routerAdd("POST", "/api/internal/subscribe-grants", (e) => {
  const result = require(`${__hooks}/lib/subscribe.js`).reportGrants(e.app, e.requestInfo().body);
  return e.json(result.status, result.body);
}, $apis.requireSuperuserAuth());

// POST {id, lease_seconds} -> {result, notification?}: the sender takes a 待发送 record (lib/subscribe.js).
routerAdd("POST", "/api/internal/notification-claim", (e) => {
  return e.json(200, require(`${__hooks}/lib/subscribe.js`).claim(e.app, e.requestInfo().body));
}, $apis.requireSuperuserAuth());

// POST {id, from, status, error, retry_in, refund, zero_grant} -> {result}: the sender's outcome.
routerAdd("POST", "/api/internal/notification-settle", (e) => {
  const result = require(`${__hooks}/lib/subscribe.js`).settle(e.app, e.requestInfo().body);
  return e.json(result.status, result.body);
}, $apis.requireSuperuserAuth());

// Every new message starts 待发送 (the dashboard, the API, our events alike).
onRecordCreate((e) => {
  require(`${__hooks}/lib/subscribe.js`).startFresh(e.record);
  e.next();
}, "tbl_notifications");

// An operator (ManagePlatform user) edits a message's content, never the sender's bookkeeping.
onRecordUpdateRequest((e) => {
  if (!e.hasSuperuserAuth()) {
    require(`${__hooks}/lib/subscribe.js`).keepBookkeeping(e.record);
  }
  e.next();
}, "tbl_notifications");

// A closed account's grants and messages go with it, in the transaction of its delete (close-account, the
// dashboard): both name its openid, and the messages say what happened to its pictures and company. PIPL:
// personal information is deleted with the account, as its attachments and share codes are. A message
// being sent meanwhile is settled "missing" by the sender and never retried.
onRecordDelete((e) => {
  const openid = e.record.getString("openid");
  if (openid) {
    const domain = require(`${__hooks}/lib/domain.js`);
    for (const [collection, field] of [[domain.SUBSCRIBE_GRANTS, "grant_openid"],
      [domain.NOTIFICATIONS, "notification_openid"]]) {
      for (const record of e.app.findRecordsByFilter(collection, `${field} = {:openid}`, "", 0, 0, { openid })) {
        e.app.delete(record);
      }
    }
  }
  e.next();
}, "tbl_auth_users");

// A change of company_status writes a company_status message to the owner in the same transaction
// as the change (the dashboard's and the API's saves are not in one by themselves: wrapped here, as
// PocketBase wraps its own cascading deletes). Nothing when the template is not configured.
onRecordUpdateExecute((e) => {
  const subscribe = require(`${__hooks}/lib/subscribe.js`);
  const changed = e.record.getString("company_status") !== e.record.original().getString("company_status");
  if (!changed || !subscribe.templates().company_status || !e.record.getString("company_owner_openid")) {
    return e.next();
  }
  if (e.app.isTransactional()) {
    e.next();
    subscribe.companyStatusChanged(e.app, e.record);
    return;
  }
  const outer = e.app;
  try {
    require(`${__hooks}/lib/write_tx.js`).runInWriteTransaction(outer, (txApp) => {
      e.app = txApp;
      e.next();
      subscribe.companyStatusChanged(txApp, e.record);
    });
  } finally {
    e.app = outer;
  }
}, "tbl_company");
