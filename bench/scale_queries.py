"""The SQL statements behind the routes, timed and explained on a seeded database file."""
from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from bench import seed_sql

# Statements of the kind PocketBase runs for our routes and the native baselines (its record lookups bind
# the value as a parameter), timed on the seeded file and explained, to see which ones grow with the data.
QUERIES = [
    ("user by openid (login)", "SELECT * FROM tbl_auth_users WHERE openid = ? LIMIT 1", "openid"),
    ("view_user_info by openid (login)", "SELECT * FROM view_user_info WHERE openid = ? LIMIT 1", "openid"),
    ("view_user_info by id (profile, token check)", "SELECT * FROM view_user_info WHERE id = ? LIMIT 1", "id"),
    ("user by id (auth-refresh, token check)", "SELECT * FROM tbl_auth_users WHERE id = ? LIMIT 1", "id"),
    ("company by company_id (native list)",
     "SELECT * FROM tbl_company WHERE company_id = ? LIMIT 1", "company_id"),
    ("its totalItems (native list)",
     "SELECT COUNT(DISTINCT tbl_company.id) FROM tbl_company WHERE company_id = ?", "company_id"),
    # users-count reads one row that triggers keep (pb_hooks/lib/users_counter.js); every PocketBase start
    # resets it with COUNT(*). Before the counter it was a records list's totalItems, which PocketBase
    # counts with COUNT(DISTINCT <table>.id): kept here to show what the counter saves.
    ("users counter (users-count)", "SELECT value FROM sys_counters WHERE name = 'tbl_auth_users'", None),
    ("COUNT(*) of users (the counter's reset at start)", "SELECT COUNT(*) FROM tbl_auth_users", None),
    ("totalItems of all users (users-count before the counter)",
     "SELECT COUNT(DISTINCT tbl_auth_users.id) FROM tbl_auth_users", None),
]


def query_params(key: str | None, shape: seed_sql.Shape) -> tuple:
    """A random seeded value for the statement's parameter (none for the counts)."""
    i = random.randrange(shape.n_users)
    if key == "openid":
        return (seed_sql.openid(i),)
    if key == "id":
        return (seed_sql.record_id("u", i),)
    if key == "company_id":
        return (seed_sql.company_bid(random.randrange(shape.n_companies)),)
    return ()


def median_ms(db: sqlite3.Connection, sql: str, key: str | None, shape: seed_sql.Shape, n: int) -> float:
    """The median of n runs of the statement, each with a fresh parameter."""
    times = []
    for _ in range(n):
        params = query_params(key, shape)
        t0 = time.perf_counter()
        db.execute(sql, params).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)[len(times) // 2]


def query_costs(db_path: Path, shape: seed_sql.Shape, rounds: int = 200) -> list[dict]:
    """Median ms and EXPLAIN QUERY PLAN of each QUERIES statement on the seeded database (read-only)."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    out = []
    try:
        for label, sql, key in QUERIES:
            ms = median_ms(db, sql, key, shape, rounds if key else 5)
            plan = "; ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + sql, query_params(key, shape)))
            out.append({"query": label, "sql": sql, "ms": ms, "plan": plan})
    finally:
        db.close()
    return out
