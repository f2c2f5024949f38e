/// <reference path="../../pb_data/types.d.ts" />

// Subscribe messages (订阅消息, docs/subscribe.md): the grant ledger and the outbox, inside PocketBase.
//
// A grant is one wx.requestSubscribeMessage "accept": WeChat lets the app send that user one message of
// that template, and keeps no count a server can ask for, so we do (tbl_subscribe_grants). A message is
// a tbl_notifications record; python -m sidecar.sender claims it (a grant spent in the transaction that
// marks it 发送中: two senders never spend one grant twice nor send one record twice), sends it and
// settles it. The project's events write messages here in the transaction of their change.

const domain = require(`${__hooks}/lib/domain.js`);
const GRANTS = domain.SUBSCRIBE_GRANTS;
const NOTIFICATIONS = domain.NOTIFICATIONS;
const GRANT_MAX = domain.SUBSCRIBE_GRANT_MAX;
const STATUS = {
  pending: domain.NOTIFICATION_PENDING, sending: domain.NOTIFICATION_SENDING, sent: domain.NOTIFICATION_SENT,
  noGrant: domain.NOTIFICATION_NO_GRANT, refused: domain.NOTIFICATION_REFUSED, failed: domain.NOTIFICATION_FAILED,
};
const LEASE_SECONDS = { min: 1, max: 3600 };
const ERROR_MAX = 500;

// SUBSCRIBE_TEMPLATES as {name: {id, data, page}}; {} when unset. Throws on a malformed value: the
// sidecar and `make run` check it thoroughly (sidecar/subscribe_templates.py), this only its shape.
function templates() {
  const raw = require(`${__hooks}/lib/settings.js`).value("SUBSCRIBE_TEMPLATES");
  if (!raw) {
    return {};
  }
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch (_) {
    throw new Error("SUBSCRIBE_TEMPLATES is not JSON");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error("SUBSCRIBE_TEMPLATES must be a JSON object: name -> {id, data}");
  }
  for (const name of Object.keys(parsed)) {
    const spec = parsed[name];
    if (!spec || typeof spec.id !== "string" || !spec.id || !spec.data || typeof spec.data !== "object") {
      throw new Error(`SUBSCRIBE_TEMPLATES: ${name} must be {"id": <template id>, "data": {...}}`);
    }
  }
  return parsed;
}

// PocketBase's datetime text ("2026-01-02 03:04:05.678Z") of ms milliseconds since the epoch.
function dbTime(ms) {
  return new Date(ms).toISOString().replace("T", " ");
}

// China's time (UTC+8, no daylight saving) as WeChat's time keyword takes it: "2026-01-02 11:04".
function chinaTime(ms) {
  return new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 16).replace("T", " ");
}

function findGrant(app, openid, name) {
  try {
    return app.findFirstRecordByFilter(GRANTS, "grant_openid = {:openid} && grant_template = {:name}",
      { openid, name });
  } catch (_) {
    return null;
  }
}

// The grant record of openid and name, created at 0 when missing (inside the caller's transaction).
function grantRecord(app, openid, name) {
  const found = findGrant(app, openid, name);
  if (found) {
    return found;
  }
  const record = new Record(app.findCollectionByNameOrId(GRANTS));
  record.set("grant_openid", openid);
  record.set("grant_template", name);
  record.set("grant_count", 0);
  return record;
}

function findMessage(app, id) {
  try {
    return app.findRecordById(NOTIFICATIONS, String(id || ""));
  } catch (_) {
    return null;
  }
}

// One grant more for openid and name, bounded by GRANT_MAX (inside the caller's transaction).
function addGrant(app, openid, name) {
  const grant = grantRecord(app, openid, name);
  grant.set("grant_count", Math.min(grant.getInt("grant_count") + 1, GRANT_MAX));
  app.save(grant);
}

// {name: grants left} of openid for each of names (0 when none): one query for all of openid's grants
// (idx_tbl_subscribe_grants_openid_template serves it; a user holds at most one record per template).
function counts(app, openid, names) {
  const held = new Map();
  for (const grant of app.findRecordsByFilter(GRANTS, "grant_openid = {:openid}", "", 0, 0, { openid })) {
    held.set(grant.getString("grant_template"), grant.getInt("grant_count"));
  }
  const result = {};
  for (const name of names) {
    result[name] = held.has(name) ? held.get(name) : 0;
  }
  return result;
}

// The internal route subscribe-grants: {token, names, add} -> {counts: {name: n}} for names, after one
// grant added per entry of add (each bounded by GRANT_MAX), all in one transaction so that concurrent
// reports never lose a grant. Refusals: wechat_users.js tokenUser's (401, 403).
function reportGrants(app, body) {
  const found = require(`${__hooks}/lib/wechat_users.js`).tokenUser(app, body.token, true);
  if (found.refusal) {
    return found.refusal;
  }
  const openid = found.user.getString("openid");
  const names = Array.isArray(body.names) ? body.names.map(String) : [];
  const add = Array.isArray(body.add) ? body.add.map(String).filter((name) => names.includes(name)) : [];
  if (add.length) {
    require(`${__hooks}/lib/write_tx.js`).runInWriteTransaction(app, (txApp) => {
      for (const name of add) {
        addGrant(txApp, openid, name);
      }
    });
  }
  return { status: 200, body: { counts: counts(app, openid, names) } };
}

// The internal route notification-claim: {id, lease_seconds} -> {result, notification?}. In one
// transaction: a 待发送 record whose grant is held (a retry) or can be spent (count - 1) becomes 发送中
// until now + lease (notification_next) -> "claimed" with the record; without a grant it becomes
// 无授权 -> "no_grant"; a record no longer 待发送 -> "taken"; none -> "missing".
function claim(app, body) {
  const lease = Math.min(Math.max(Number(body.lease_seconds) || 60, LEASE_SECONDS.min), LEASE_SECONDS.max);
  let answer = { result: "missing" };
  require(`${__hooks}/lib/write_tx.js`).runInWriteTransaction(app, (txApp) => {
    const message = findMessage(txApp, body.id);
    if (!message) {
      return;
    }
    if (message.getString("notification_status") !== STATUS.pending) {
      answer = { result: "taken" };
      return;
    }
    if (!message.getBool("notification_grant")) {
      const grant = findGrant(txApp, message.getString("notification_openid"),
        message.getString("notification_template"));
      if (!grant || grant.getInt("grant_count") <= 0) {
        message.set("notification_status", STATUS.noGrant);
        txApp.save(message);
        answer = { result: "no_grant" };
        return;
      }
      grant.set("grant_count", grant.getInt("grant_count") - 1);
      txApp.save(grant);
      message.set("notification_grant", true);
    }
    message.set("notification_status", STATUS.sending);
    message.set("notification_attempts", message.getInt("notification_attempts") + 1);
    message.set("notification_next", dbTime(Date.now() + lease * 1000));
    txApp.save(message);
    answer = { result: "claimed", notification: message };
  });
  return answer;
}

// The internal route notification-settle: {id, from, status, error, retry_in, refund, zero_grant} ->
// {result: "settled" | "taken" | "missing"}; 400 {reason: "settle_invalid"} for a status it cannot set.
// In one transaction, only when the record is still `from`:
//   status 待发送 (from 发送中): a retry due in retry_in seconds; the spent grant stays held.
//   a final status: the held grant given back when refund (WeChat answered that it sent nothing),
//   the template's count set to 0 when zero_grant (WeChat's 43101), notification_sent set for 已发送.
function settle(app, body) {
  const from = String(body.from || "");
  const status = String(body.status || "");
  const finals = [STATUS.sent, STATUS.noGrant, STATUS.refused, STATUS.failed];
  const retry = status === STATUS.pending && from === STATUS.sending;
  if (![STATUS.pending, STATUS.sending].includes(from) || !(retry || finals.includes(status))) {
    return domain.refusal("settle_invalid");
  }
  let result = "missing";
  require(`${__hooks}/lib/write_tx.js`).runInWriteTransaction(app, (txApp) => {
    const message = findMessage(txApp, body.id);
    if (!message) {
      return;
    }
    if (message.getString("notification_status") !== from) {
      result = "taken";
      return;
    }
    const openid = message.getString("notification_openid");
    const name = message.getString("notification_template");
    if (retry) {
      message.set("notification_next", dbTime(Date.now() + Math.max(Number(body.retry_in) || 0, 0) * 1000));
    } else {
      if (message.getBool("notification_grant") && body.refund === true) {
        addGrant(txApp, openid, name);
      }
      if (body.zero_grant === true) {
        const grant = findGrant(txApp, openid, name);
        if (grant && grant.getInt("grant_count") !== 0) {
          grant.set("grant_count", 0);
          txApp.save(grant);
        }
      }
      message.set("notification_grant", false);
      if (status === STATUS.sent) {
        message.set("notification_sent", dbTime(Date.now()));
      }
    }
    message.set("notification_status", status);
    message.set("notification_error", String(body.error || "").slice(0, ERROR_MAX));
    txApp.save(message);
    result = "settled";
  });
  return { status: 200, body: { result } };
}

// A message of template name to openid, its data the template's texts with {placeholders} filled from
// values, written with app (the caller's transaction). Nothing when the name is not configured or the
// openid is empty: an event without a template sends nothing.
function enqueue(app, name, openid, values) {
  const template = templates()[name];
  if (!template || !openid) {
    return;
  }
  const data = {};
  for (const keyword of Object.keys(template.data)) {
    data[keyword] = String(template.data[keyword]).replace(/\{(\w+)\}/g,
      (whole, key) => (Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole));
  }
  const message = new Record(app.findCollectionByNameOrId(NOTIFICATIONS));
  message.set("notification_openid", openid);
  message.set("notification_template", name);
  message.set("notification_data", data);
  message.set("notification_page", typeof template.page === "string" ? template.page : "");
  app.save(message);
}

// The event of a picture WeChat judged risky (moderation.pb.js): picture_removed to its uploader.
function pictureRemoved(app, attachment) {
  enqueue(app, "picture_removed", attachment.getString("attachments_owner"), {
    filename: attachment.getString("attachments_filename") || "图片",
    time: chinaTime(Date.now()),
    reason: "图片内容违规",
  });
}

// The event of an operator's change of company_status: company_status to the company's owner.
function companyStatusChanged(app, company) {
  enqueue(app, "company_status", company.getString("company_owner_openid"), {
    company_name: company.getString("company_name") || "企业",
    company_status: company.getString("company_status"),
    time: chinaTime(Date.now()),
  });
}

// A new record starts as the sender expects it, whatever the request said: 待发送, no attempt, no grant.
function startFresh(message) {
  message.set("notification_status", STATUS.pending);
  message.set("notification_attempts", 0);
  message.set("notification_grant", false);
  message.set("notification_sent", "");
  message.set("notification_next", "");
  message.set("notification_error", "");
}

// What an operator's update (not a superuser's) may not change: the sender's bookkeeping. Their status
// may go back to 待发送 from a final status (send again), nothing else.
function keepBookkeeping(message) {
  const original = message.original();
  for (const field of ["notification_attempts", "notification_grant", "notification_sent", "notification_next"]) {
    message.set(field, original.get(field));
  }
  const before = original.getString("notification_status");
  const after = message.getString("notification_status");
  const resend = after === STATUS.pending && before !== STATUS.pending && before !== STATUS.sending;
  if (after !== before && !resend) {
    message.set("notification_status", before);
  }
  if (resend) {
    message.set("notification_attempts", 0);
    message.set("notification_next", "");
  }
}

module.exports = {
  GRANT_MAX, STATUS, templates, reportGrants, claim, settle, pictureRemoved, companyStatusChanged, startFresh,
  keepBookkeeping,
};
