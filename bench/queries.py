"""The SQL statements behind the routes, timed and explained on a seeded database file: which ones grow
with the data."""
from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from bench import seed

FEED_WHERE = ("WHERE document_type LIKE ? ESCAPE '\\' AND document_type LIKE '%@UT1%' ESCAPE '\\'")
# Statements of the kind PocketBase runs (it binds a record lookup's value as a parameter); key: the parameter.
QUERIES = [
    ("user by openid (login)", "SELECT * FROM tbl_auth_users WHERE openid = ? LIMIT 1", "openid"),
    ("view_user_info by id (profile, token check)", "SELECT * FROM view_user_info WHERE id = ? LIMIT 1", "id"),
    ("company by company_id (native list)", "SELECT * FROM tbl_company WHERE company_id = ? LIMIT 1", "company_id"),
    # users-count reads the row the triggers of pb_hooks/lib/users_counter.js keep; a list's totalItems
    # (what it replaced) is a COUNT(DISTINCT id) over the table.
    ("users counter (users-count)", "SELECT value FROM sys_counters WHERE name = 'tbl_auth_users'", None),
    ("totalItems of all users (users-count without the counter)",
     "SELECT COUNT(DISTINCT tbl_auth_users.id) FROM tbl_auth_users", None),
    ("feed page, newest first", "SELECT * FROM tbl_document ORDER BY document_create DESC, id DESC LIMIT 30", None),
    ("its totalItems", "SELECT COUNT(DISTINCT tbl_document.id) FROM tbl_document", None),
    ("feed page of one type", f"SELECT * FROM tbl_document {FEED_WHERE} ORDER BY document_create DESC, id DESC "
     "LIMIT 30", "dict"),
    ("its totalItems", f"SELECT COUNT(DISTINCT tbl_document.id) FROM tbl_document {FEED_WHERE}", "dict"),
    ("feed page of a type no document has", f"SELECT * FROM tbl_document {FEED_WHERE} ORDER BY "
     "document_create DESC, id DESC LIMIT 30", "no dict"),
]


def params(key: str | None, shape: seed.Shape) -> tuple:
    """A random seeded value for the statement's parameter (none for the others)."""
    i = random.randrange(shape.n_users)
    return {"openid": (seed.openid(i),), "id": (seed.record_id("u", i),),
            "company_id": (seed.company_bid(i % shape.n_companies),),
            "dict": (f"%{seed.dict_id(0)}%",), "no dict": ("%DICT-none%",)}.get(key, ())


def query_costs(db_path: Path, shape: seed.Shape, budget_s: float = 2.0) -> list[dict]:
    """Median ms (of up to 200 runs, within budget_s per statement) and EXPLAIN QUERY PLAN of each statement."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    out = []
    try:
        for label, sql, key in QUERIES:
            times: list[float] = []
            while len(times) < 200 and sum(times) < budget_s * 1000:
                p = params(key, shape)
                t0 = time.perf_counter()
                db.execute(sql, p).fetchall()
                times.append((time.perf_counter() - t0) * 1000)
            plan = "; ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params(key, shape)))
            out.append({"query": label, "ms": sorted(times)[len(times) // 2], "plan": plan})
    finally:
        db.close()
    return out
