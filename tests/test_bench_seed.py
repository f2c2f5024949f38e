"""bench/seed_sql.py: rows written straight into SQLite are records PocketBase serves like its own."""
from __future__ import annotations

import re
import sqlite3

import pytest
import requests

from bench import seed_sql
from ops.pbserver import PocketBaseServer
from tests.conftest import SUPERUSER_EMAIL, SUPERUSER_PASSWORD

SHAPE = seed_sql.Shape(n_users=60, files=4)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A PocketBase whose data was seeded by seed_sql while it was stopped, then started again."""
    base = tmp_path_factory.mktemp("bench-seed")
    server = PocketBaseServer(base / "pb_data", SUPERUSER_EMAIL, SUPERUSER_PASSWORD, log_path=base / "pb.log")
    server.start()
    try:
        templates = seed_sql.create_templates(server.url, server.superuser_token())
    finally:
        server.stop()
    counts = seed_sql.seed_database(server.data_dir, SHAPE, templates)
    server.start()
    yield server, counts, {"Authorization": server.superuser_token()}
    server.stop()


def records(server, headers, collection, **params):
    r = requests.get(f"{server.url}/api/collections/{collection}/records", headers=headers, params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_every_collection_holds_exactly_the_seeded_rows(seeded):
    server, counts, su = seeded
    expected = {"tbl_auth_users": 60, "tbl_company": 6, "tbl_attachments": 90, "tbl_document": 30}
    assert counts == expected
    for collection, n in expected.items():
        assert records(server, su, collection, perPage=1)["totalItems"] == n  # the templates are gone


def test_seeded_user_has_business_id_timestamps_and_its_userinfo(seeded):
    server, _, su = seeded
    user = records(server, su, "tbl_auth_users", filter='openid="dev-openid-benchuser2"')["items"][0]
    assert re.fullmatch(r"USR-\d{13}-[A-Za-z0-9]{6}", user["users_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z", user["created"])
    assert user["email"] == "" and user["users_type"] == "注册用户"
    row = records(server, su, "view_user_info", filter=f'id="{user["id"]}"')["items"][0]
    assert row["company_name"] == "基准测试公司1有限公司"
    assert row["users_picture_link"] == "bench3.png" and row["users_id_pic_a_link"] == ""


def test_seeded_user_token_is_accepted(seeded):
    """tokenKey and the rest of the auth columns are valid: a minted token reads the user's own record."""
    server, _, su = seeded
    user = records(server, su, "tbl_auth_users", filter='openid="dev-openid-benchuser7"')["items"][0]
    r = requests.post(f"{server.url}/api/collections/tbl_auth_users/impersonate/{user['id']}", headers=su,
                      json={"duration": 60}, timeout=10)
    assert r.status_code == 200, r.text
    own = requests.get(f"{server.url}/api/collections/tbl_auth_users/records/{user['id']}",
                       headers={"Authorization": r.json()["token"]}, timeout=10)
    assert own.status_code == 200 and own.json()["openid"] == "dev-openid-benchuser7"


def test_new_user_after_seed_gets_created_beside_the_seeded_ones(seeded):
    """Empty emails do not collide (partial unique index) and the hooks still give a business id."""
    server, _, su = seeded
    r = requests.post(f"{server.url}/api/collections/tbl_auth_users/records", headers=su, timeout=10,
                      json={"openid": "after-seed", "password": "p" * 12, "passwordConfirm": "p" * 12})
    assert r.status_code == 200, r.text
    assert r.json()["users_id"].startswith("USR-")


def test_seeded_attachment_file_is_served(seeded):
    server, _, su = seeded
    att = records(server, su, "tbl_attachments", filter='attachments_id="ATT-1700000000000-b00000"')["items"][0]
    r = requests.get(f"{server.url}/api/files/{att['collectionId']}/{att['id']}/{att['attachments_link']}", timeout=10)
    assert r.status_code == 200 and r.content == seed_sql.TINY_PNG


def test_clone_rows_refuses_a_column_the_schema_lacks():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO t VALUES ('tpl', 'x')")
    with pytest.raises(RuntimeError, match="no column"):
        seed_sql.clone_rows(db, "t", "tpl", 3, lambda i: {"id": f"r{i}", "renamed": "y"})
    assert seed_sql.clone_rows(db, "t", "tpl", 3, lambda i: {"id": f"r{i}"}) == 3
    assert db.execute("SELECT id, name FROM t ORDER BY id").fetchall() == [("r0", "x"), ("r1", "x"), ("r2", "x")]


def test_ids_are_distinct_and_shaped_like_pocketbase_ones():
    ids = {seed_sql.record_id("u", i) for i in range(0, 2_000_000, 997)}
    assert all(re.fullmatch(r"[a-z0-9]{15}", i) for i in ids)
    assert len({seed_sql.alnum6(i) for i in range(100_000)}) == 100_000


def test_users_counter_is_reconciled_after_the_seed_and_counts_on(seeded):
    """The seed drops the counter's triggers; PocketBase's next start recreates them and recounts."""
    server, _, su = seeded

    def total() -> int:
        r = requests.get(f"{server.url}/api/internal/users-count", headers=su, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["total"]

    before = total()
    assert before == records(server, su, "tbl_auth_users", perPage=1)["totalItems"]
    r = requests.post(f"{server.url}/api/collections/tbl_auth_users/records", headers=su, timeout=10,
                      json={"openid": "counted-after-seed", "password": "p" * 12, "passwordConfirm": "p" * 12})
    assert r.status_code == 200, r.text
    assert total() == before + 1
    requests.delete(f"{server.url}/api/collections/tbl_auth_users/records/{r.json()['id']}", headers=su,
                    timeout=10).raise_for_status()
    assert total() == before
