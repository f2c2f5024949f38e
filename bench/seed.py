"""The benches' seed: rows written straight into a stopped PocketBase's SQLite file.

PocketBase's batch API writes ~300 records/s here, so a million users would take an hour. Instead:
PocketBase runs once (its migrations create the schema) and creates one template record per
collection through its own API, which fills every column in its own format (the bcrypt password
hash, tokenKey, timestamps, defaults). PocketBase is stopped, and the template rows are cloned
here in one transaction, with only the columns that must differ per row overridden. The column
list is read from the database (PRAGMA table_info), so a schema change does not break the seed.
"""
from __future__ import annotations

import functools
import operator
import secrets
import sqlite3
import string
import time
from dataclasses import dataclass
from pathlib import Path

import requests

USERS, COMPANIES, ATTACHMENTS, DOCUMENTS = "tbl_auth_users", "tbl_company", "tbl_attachments", "tbl_document"
ALNUM = string.ascii_letters + string.digits
BASE_MS = 1_700_000_000_000       # business ids and timestamps of seeded rows start here
TINY_PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                         "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")


@dataclass(frozen=True)
class Shape:
    """How many rows of each collection a seed of n_users writes (the proportions of `make bench`)."""

    n_users: int
    files: int = 600              # attachments with a real (tiny) file in storage; the rest metadata only

    @property
    def n_companies(self) -> int:
        return max(1, self.n_users // 10)

    @property
    def n_attachments(self) -> int:
        return (self.n_users // 2) * 3    # users 0, 2, 4, ... have three pictures each

    @property
    def n_documents(self) -> int:
        return self.n_users             # the document feed's curve: 10k, 100k, 1M documents


def company_bid(i: int) -> str:
    return f"CMP-{BASE_MS}-b{i:05d}"


def attachment_bid(i: int) -> str:
    return f"ATT-{BASE_MS}-b{i:05d}"


def openid(i: int) -> str:
    return f"dev-openid-benchuser{i}"


N_DICTS, N_ENUMS = 20, 5          # document types: system_dict_id@dict_word_enum (the spec's 文档类型)


def dict_id(k: int) -> str:
    return f"DICT-{BASE_MS + k}-{alnum6(k + 7)}"


def document_type(i: int) -> str:
    """Document i's type as the spec stores it: one pair, or (every third document) two joined by |."""
    first = f"{dict_id(i % N_DICTS)}@UT{i % N_ENUMS + 1}"
    if i % 3:
        return first
    return f"{first}|{dict_id((i * 7 + 3) % N_DICTS)}@UT{(i // N_ENUMS) % N_ENUMS + 1}"


PAIRS = [a + b for b in ALNUM for a in ALNUM]   # 62**2 two-character strings, by value


def alnum6(i: int) -> str:
    """Six alphanumerics, distinct for every i below 62**6 (three base-3844 digits: a million calls a second)."""
    return PAIRS[i % 3844] + PAIRS[i // 3844 % 3844] + PAIRS[i // 14_776_336 % 3844]


def record_id(prefix: str, i: int) -> str:
    """A 15-character PocketBase record id ([a-z0-9]), distinct per prefix letter and i."""
    return f"{prefix}{i:014d}"


@functools.lru_cache(maxsize=4096)
def stamp(seconds_after_base: int) -> str:
    """A timestamp in PocketBase's format (2006-01-02 15:04:05.000Z)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(BASE_MS // 1000 + seconds_after_base)) + ".000Z"


# ----------------------------------------------------------------------------------- with PocketBase up

def create_templates(pb_url: str, token: str) -> dict[str, str]:
    """One record per collection through PocketBase's API; returns {collection: record id}."""
    h = {"Authorization": token}
    password = secrets.token_urlsafe(24)
    bodies = {
        USERS: {"openid": "seed-template", "password": password, "passwordConfirm": password,
                "users_idtype": "WeChat", "users_type": "游客", "users_status": "正常", "users_rank_level": 1,
                "users_auth_type": 0, "users_level": "1", "users_tag": "seed"},
        COMPANIES: {"company_name": "模板公司", "company_type": "有限责任公司", "company_status": "有效"},
        ATTACHMENTS: {"attachments_filename": "template.png", "attachments_filetype": "image/png",
                      "attachments_size": len(TINY_PNG), "attachments_status": "有效"},
        DOCUMENTS: {"document_title": "模板文档", "document_type": "合同", "document_status": "有效"},
    }
    ids = {}
    for collection, body in bodies.items():
        r = requests.post(f"{pb_url}/api/collections/{collection}/records", headers=h, json=body, timeout=30)
        if r.status_code != 200:
            raise RuntimeError(f"template {collection}: HTTP {r.status_code} {r.text[:300]}")
        ids[collection] = r.json()["id"]
    return ids


# ------------------------------------------------------------------------------ with PocketBase stopped

def table_columns(db: sqlite3.Connection, table: str) -> list[str]:
    """The table's columns as the database has them."""
    return [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]


def collection_id(db: sqlite3.Connection, name: str) -> str:
    return db.execute("SELECT id FROM _collections WHERE name = ?", (name,)).fetchone()[0]


def clone_rows(db: sqlite3.Connection, table: str, template_id: str, count: int, overrides) -> int:
    """Replace the template row by `count` copies, row i with overrides(i) applied (a dict by column)."""
    columns = table_columns(db, table)
    db.row_factory = sqlite3.Row
    template = db.execute(f'SELECT * FROM "{table}" WHERE id = ?', (template_id,)).fetchone()
    db.row_factory = None
    if template is None:
        raise RuntimeError(f"template row {template_id} of {table} is missing")
    base = {c: template[c] for c in columns}
    sample = overrides(0)
    unknown = sorted(set(sample) - set(columns))
    if unknown:
        raise RuntimeError(f"{table} has no column(s) {unknown}: update bench/seed.py to the schema")
    varying = [c for c in columns if c in sample]
    fixed = [c for c in columns if c not in sample]
    order = fixed + varying
    fixed_values = tuple(base[c] for c in fixed)
    db.execute(f'DELETE FROM "{table}" WHERE id = ?', (template_id,))

    # itemgetter of one key answers the value, not a 1-tuple
    pick = operator.itemgetter(*varying) if len(varying) > 1 else (lambda o: (o[varying[0]],))

    def rows():
        for i in range(count):
            yield fixed_values + pick(overrides(i))

    sql = (f'INSERT INTO "{table}" (' + ", ".join(f'"{c}"' for c in order) + ") VALUES ("
           + ", ".join("?" * len(order)) + ")")
    db.executemany(sql, rows())
    return count


def registered_user_fields(i: int, n_companies: int) -> dict:
    """What a registered (even) user i has over a visitor: name, phone, a company and three attachments."""
    a = (i // 2) * 3
    return {"users_name": f"测试用户{i}", "users_phone": f"139{i:08d}", "users_type": "注册用户",
            "company_id": company_bid((i // 2) % n_companies), "users_picture": attachment_bid(a),
            "users_id_pic_a": attachment_bid(a + 1), "users_id_pic_b": attachment_bid(a + 2)}


def user_row(i: int, n_companies: int, token_keys: str) -> dict:
    """User i's columns that differ from the template's."""
    row = {"id": record_id("u", i), "openid": openid(i), "unionid": f"dev-unionid-benchuser{i}",
           "users_id": f"USR-{BASE_MS + i}-{alnum6(i)}", "tokenKey": token_keys[50 * i:50 * i + 50],
           "email": "", "created": stamp(i // 1000), "updated": stamp(i // 1000),
           "users_name": "", "users_phone": "", "users_type": "游客", "company_id": "",
           "users_picture": "", "users_id_pic_a": "", "users_id_pic_b": "",
           "users_promo_code": f"B{alnum6(i)}"}   # unique, as pb_hooks/lib/referral.js gives every user one
    if i % 2 == 0:
        row.update(registered_user_fields(i, n_companies))
    return row


def company_row(i: int) -> dict:
    """Company i's columns that differ from the template's."""
    return {"id": record_id("c", i), "company_id": company_bid(i), "company_name": f"基准测试公司{i}有限公司",
            "company_usci": f"91310000{i:010d}", "company_entity": f"法人{i}", "company_add": f"世纪大道{i}号",
            "company_owner_openid": openid(i * 2), "created": stamp(i // 1000), "updated": stamp(i // 1000)}


def attachment_row(i: int, files: int) -> dict:
    """Attachment i's columns that differ from the template's (the first `files` have a file)."""
    return {"id": record_id("a", i), "attachments_id": attachment_bid(i),
            "attachments_filename": f"bench{i}.png",
            "attachments_link": f"bench{i}.png" if i < files else "",
            "attachments_owner": openid((i // 3) * 2),
            "created": stamp(i // 1000), "updated": stamp(i // 1000)}


def document_row(i: int, n_users: int) -> dict:
    """Document i's columns that differ from the template's."""
    return {"id": record_id("d", i), "document_id": f"DOC-{BASE_MS + i}-{alnum6(i)}",
            "document_title": f"基准文档 {i}", "document_owner": openid(i % n_users),
            "document_type": document_type(i),
            "document_create": stamp(i // 1000), "created": stamp(i // 1000), "updated": stamp(i // 1000)}


def drop_indexes_and_triggers(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """Drop the seeded tables' indexes (returned, to be recreated) and the users table's triggers."""
    # Building an index once over sorted keys is several times faster than growing it row by row:
    # the tables' own indexes are dropped and recreated from their exact SQL, in the same transaction.
    tables = (USERS, COMPANIES, ATTACHMENTS, DOCUMENTS)
    indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                         f"AND tbl_name IN ({', '.join('?' * len(tables))})", tables).fetchall()
    for name, _ in indexes:
        db.execute(f'DROP INDEX "{name}"')
    # The users counter's triggers (pb_hooks/lib/users_counter.js) would add a row update to every
    # insert: PocketBase recreates them, and sets the count from COUNT(*), at its next start.
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                              (USERS,)).fetchall():
        db.execute(f'DROP TRIGGER "{name}"')
    return indexes


def clone_all(db: sqlite3.Connection, shape: Shape, templates: dict[str, str]) -> dict[str, int]:
    """Every collection's rows cloned from its template: {collection: rows written}."""
    # Secrets that sign each user's tokens: 50 random characters, like PocketBase's own.
    token_keys = secrets.token_hex(25 * shape.n_users)
    users = functools.partial(user_row, n_companies=shape.n_companies, token_keys=token_keys)
    attachments = functools.partial(attachment_row, files=shape.files)
    documents = functools.partial(document_row, n_users=shape.n_users)
    return {
        COMPANIES: clone_rows(db, COMPANIES, templates[COMPANIES], shape.n_companies, company_row),
        ATTACHMENTS: clone_rows(db, ATTACHMENTS, templates[ATTACHMENTS], shape.n_attachments, attachments),
        USERS: clone_rows(db, USERS, templates[USERS], shape.n_users, users),
        DOCUMENTS: clone_rows(db, DOCUMENTS, templates[DOCUMENTS], shape.n_documents, documents),
    }


def write_files(storage: Path, shape: Shape) -> None:
    """The uploaded file of each attachment that has one, where PocketBase's storage keeps it."""
    for i in range(min(shape.files, shape.n_attachments)):
        folder = storage / record_id("a", i)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"bench{i}.png").write_bytes(TINY_PNG)


def seed_database(data_dir: Path, shape: Shape, templates: dict[str, str]) -> dict[str, int]:
    """Write the shape's rows into <data_dir>/data.db in one transaction; PocketBase must be stopped."""
    db = sqlite3.connect(data_dir / "data.db", isolation_level=None)
    try:
        # One big write: no fsync per page and the rollback journal in memory (PocketBase's own journal
        # mode, WAL, is restored below and is what it opens the file with anyway).
        db.execute("PRAGMA journal_mode = MEMORY")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA cache_size = -262144")   # 256 MiB of page cache for the index inserts
        db.execute("BEGIN")
        indexes = drop_indexes_and_triggers(db)
        counts = clone_all(db, shape, templates)
        for _, sql in indexes:
            db.execute(sql)
        storage = data_dir / "storage" / collection_id(db, ATTACHMENTS)
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode = WAL")
    finally:
        db.close()
    write_files(storage, shape)
    return counts
