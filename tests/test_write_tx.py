"""pb_hooks/lib/write_tx.js: the internal routes' transactions that read then write take SQLite's write lock
first, so another writer of data.db (Litestream commits a row of its own after each WAL checkpoint) makes
them wait instead of fail with SQLITE_BUSY_SNAPSHOT."""
from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.test_internal_routes import PROFILE, internal_login


@pytest.mark.parametrize("path, body", [
    (PROFILE, lambda token: {"token": token, "changes": {"users_name": "乙"}}),
    ("/api/internal/logout", lambda token: {"token": token}),
])
def test_a_transaction_that_reads_then_writes_waits_for_another_writer(pb, pocketbase, unique, path, body):
    token = internal_login(pb, f"writer-{unique}").json()["token"]
    other = sqlite3.connect(pocketbase.data_dir / "data.db", timeout=10, isolation_level=None)
    try:
        other.execute("CREATE TABLE IF NOT EXISTS _other_writer (n INTEGER)")
        # Another process holds the write lock and then commits, as Litestream does around a checkpoint.
        other.execute("BEGIN IMMEDIATE")
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(pb.request, "POST", path, json=body(token))
            time.sleep(0.5)  # the lock is held a while, as a checkpoint holds it
            assert not answer.done()  # the write waits for the lock
            other.execute("INSERT INTO _other_writer VALUES (1)")
            other.execute("COMMIT")
            response = answer.result(timeout=60)
    finally:
        other.close()
    # A deferred transaction would have read before the commit and failed (after PocketBase's ~7 s of retries).
    assert response.status_code == 200, response.text
