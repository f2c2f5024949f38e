/// <reference path="../../pb_data/types.d.ts" />

// Business ids: <PREFIX>-<epoch ms>-<6 alphanumerics>, e.g. ATT-1774599142438-8n1UcU.
// Loaded with require() from the handlers: PocketBase runs each handler in an isolated
// context, so shared code must be a module rather than a top-level function.

const { USERS, COMPANY, ATTACHMENTS, DOCUMENT } = require(`${__hooks}/lib/domain.js`);

const PREFIXES = {
  [USERS]: { field: "users_id", prefix: "USR" },
  [COMPANY]: { field: "company_id", prefix: "CMP" },
  [ATTACHMENTS]: { field: "attachments_id", prefix: "ATT" },
  [DOCUMENT]: { field: "document_id", prefix: "DOC" },
};

function newId(prefix) {
  return `${prefix}-${Date.now()}-${$security.randomString(6)}`;
}

// Sets the collection's business id on record when it is empty (or always, with force).
function assign(record, force) {
  const spec = PREFIXES[record.collection().name];
  if (!spec) {
    return;
  }
  if (force || !record.getString(spec.field)) {
    record.set(spec.field, newId(spec.prefix));
  }
}

module.exports = { PREFIXES, newId, assign };
