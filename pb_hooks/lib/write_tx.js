/// <reference path="../../pb_data/types.d.ts" />

// app.runInTransaction holding SQLite's write lock from its first statement, as BEGIN IMMEDIATE would.
//
// Why: with REPLICA_URL, Litestream is a second writer of data.db: after each WAL checkpoint it commits
// a row of its own (_litestream_seq, https://github.com/benbjohnson/litestream db.go checkpoint). A
// deferred transaction that has read before that commit can no longer write after it: SQLite answers
// SQLITE_BUSY_SNAPSHOT ("database is locked (517)") without waiting, PocketBase retries the statement for
// ~7 s in vain and the request fails. A transaction that writes first waits for the lock instead (busy
// timeout), as every writer does. Without Litestream PocketBase is the only writer and nothing changes.

// A write that changes nothing but makes SQLite take the write lock (any table of ours will do).
const TAKE_WRITE_LOCK = "DELETE FROM sys_phone_attempts WHERE 0";

function runInWriteTransaction(app, fn) {
  app.runInTransaction((txApp) => {
    txApp.db().newQuery(TAKE_WRITE_LOCK).execute();
    fn(txApp);
  });
}

module.exports = { runInWriteTransaction };
