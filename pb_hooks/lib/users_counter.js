/// <reference path="../../pb_data/types.d.ts" />

// The number of tbl_auth_users records, kept in sys_counters by SQLite triggers: every INSERT and
// DELETE on the table, whatever its path (API, dashboard, a hook, a direct SQLite import), moves
// the counter in the same statement, hence the same transaction. Reading it is one indexed row,
// whatever the number of users. reconcile() (at every start) recreates the triggers and sets the
// figure to COUNT(*), for data that arrived while PocketBase was stopped (restores, seeding).

const { COUNTERS, USERS } = require(`${__hooks}/lib/domain.js`);

function reconcile(app) {
  // Reads then writes: the write lock first (lib/write_tx.js says why).
  require(`${__hooks}/lib/write_tx.js`).runInWriteTransaction(app, (txApp) => {
    try {
      txApp.findFirstRecordByData(COUNTERS, "name", USERS);
    } catch (_) {
      const row = new Record(txApp.findCollectionByNameOrId(COUNTERS));
      row.set("name", USERS);
      txApp.save(row);
    }
    const db = txApp.db();
    for (const [event, delta] of [["INSERT", "+ 1"], ["DELETE", "- 1"]]) {
      db.newQuery(`CREATE TRIGGER IF NOT EXISTS sys_counters_${USERS}_${event.toLowerCase()} ` +
        `AFTER ${event} ON ${USERS} BEGIN ` +
        `UPDATE ${COUNTERS} SET value = value ${delta} WHERE name = '${USERS}'; END`).execute();
    }
    db.newQuery(`UPDATE ${COUNTERS} SET value = (SELECT COUNT(*) FROM ${USERS}) WHERE name = '${USERS}'`).execute();
  });
}

// reconcile() once the collections exist; false when the migrations have not run yet.
function reconcileIfReady(app) {
  try {
    app.findCollectionByNameOrId(COUNTERS);
  } catch (_) {
    return false;
  }
  reconcile(app);
  return true;
}

function usersCount(app) {
  try {
    return app.findFirstRecordByData(COUNTERS, "name", USERS).getInt("value");
  } catch (_) {
    reconcile(app);  // first read after migrations that ran after bootstrap
    return app.findFirstRecordByData(COUNTERS, "name", USERS).getInt("value");
  }
}

module.exports = { reconcile, reconcileIfReady, usersCount };
