"""Promo codes and who brought whom (issue #29): pb_hooks/lib/referral.js, pb_hooks/referral.pb.js, the login's
inviter_promo_code, the back-fill migration and the invitee counts, through the whole stack."""
from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ops.pbserver import PocketBaseServer
from tests.conftest import SUPERUSER_EMAIL, SUPERUSER_PASSWORD
from tests.helpers import PB, assert_envelope, login_through, route

ROOT = Path(__file__).resolve().parent.parent
# pb_hooks/lib/referral.js: 8 of the 31 digits and capitals that are no look-alikes (no 0 O 1 I L).
PROMO_CODE = re.compile(r"^[2-9A-HJKMNP-Z]{8}$")
BANNED = "禁用"


def login_with(stack, code: str, inviter) -> dict:
    """UserInfo of a login with inviter_promo_code = inviter (any JSON value)."""
    response = route(stack, "wechat/login", json={"users_wx_code": code, "inviter_promo_code": inviter})
    return assert_envelope(response, 200)["data"]["user"]


def invite_rows(pb: PB, user_pb_id: str) -> list[dict]:
    response = pb.request("GET", "/api/collections/tbl_login_log/records",
                          params={"filter": f'route = "invite" && user_id = "{user_pb_id}"'})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_every_new_user_gets_a_promo_code_in_userinfo(stack, stack_pb, unique):
    _, user = login_through(stack, f"promo{unique}")
    assert PROMO_CODE.match(user["users_promo_code"]), user["users_promo_code"]
    assert stack_pb.user(user["pb_id"])["users_promo_code"] == user["users_promo_code"]
    _, again = login_through(stack, f"promo{unique}.2")
    assert again["users_promo_code"] == user["users_promo_code"]


def test_codes_are_unique_under_concurrent_registrations(stack, stack_pb, unique):
    count = 40
    barrier = threading.Barrier(count)

    def one(i):
        barrier.wait()
        return route(stack, "wechat/login", json={"users_wx_code": f"many{unique}{i}"})

    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(one, range(count)))
    codes = [assert_envelope(a, 200)["data"]["user"]["users_promo_code"] for a in answers]
    assert all(PROMO_CODE.match(code) for code in codes) and len(set(codes)) == count
    stored = stack_pb.users(f'openid ~ "dev-openid-many{unique}"')
    assert sorted(row["users_promo_code"] for row in stored) == sorted(codes)


def test_a_taken_code_is_refused_by_the_unique_index(stack_pb, unique):
    taken = stack_pb.create_user(openid=f"taken-{unique}")["users_promo_code"]
    clash = stack_pb.create("tbl_auth_users", {"password": "p" * 40, "passwordConfirm": "p" * 40,
                                               "openid": f"clash-{unique}", "users_promo_code": taken})
    assert clash.status_code == 400, clash.text


def test_a_collision_is_retried_with_a_fresh_code():
    """lib/referral.js withFreshCode under node, with $security's codes scripted: the first two collide."""
    script = """
    globalThis.__hooks = process.argv[2];
    globalThis.$security = {randomStringWithAlphabet: () => codes.shift()};
    const codes = ["AAAAAAAA", "AAAAAAAA", "BBBBBBBB"];
    const referral = require(process.argv[1]);
    const saved = [];
    const record = {code: "", getString() { return this.code; }, set(_, v) { this.code = v; }};
    const result = referral.withFreshCode((attempt) => {
      record.code = "";
      referral.assign(record);
      if (record.code === "AAAAAAAA") throw new Error("users_promo_code: Value must be unique.");
      saved.push(record.code);
      return attempt;
    });
    let other = null;
    try { referral.withFreshCode(() => { throw new Error("openid: Value must be unique."); }); }
    catch (err) { other = String(err); }
    console.log(JSON.stringify({result, saved, other}));
    """
    out = subprocess.run(["node", "-e", script, str(ROOT / "pb_hooks" / "lib" / "referral.js"), str(ROOT / "pb_hooks")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"result": 3, "saved": ["BBBBBBBB"],
                                      "other": "Error: openid: Value must be unique."}


@pytest.mark.parametrize("actor", ["superuser", "own token"])
def test_the_code_never_changes(stack, stack_pb, unique, actor):
    token, user = login_through(stack, f"fixed{unique}")
    auth = None if actor == "superuser" else token
    changed = stack_pb.request("PATCH", f"/api/collections/tbl_auth_users/records/{user['pb_id']}", token=auth,
                               json={"users_promo_code": "22222222"})
    assert changed.status_code in (400, 403, 404), changed.text
    batch = stack_pb.request("POST", "/api/batch", token=auth, json={"requests": [
        {"method": "PATCH", "url": f"/api/collections/tbl_auth_users/records/{user['pb_id']}",
         "body": {"users_promo_code": "33333333"}}]})
    assert batch.status_code >= 400, batch.text
    # Neither does the profile route take it.
    profile = route(stack, "wechat/profile", token=token, json={"users_promo_code": "44444444"})
    assert assert_envelope(profile, 200)["data"]["user"]["users_promo_code"] == user["users_promo_code"]
    assert stack_pb.user(user["pb_id"])["users_promo_code"] == user["users_promo_code"]


def test_the_inviter_is_set_at_registration_only(stack, stack_pb, unique):
    _, alice = login_through(stack, f"alice{unique}")
    _, carol = login_through(stack, f"carol{unique}")
    bob = login_with(stack, f"bob{unique}", alice["users_promo_code"].lower())  # typed in lower case
    assert bob["users_parent_id"] == alice["users_id"]
    rows = invite_rows(stack_pb, bob["pb_id"])
    assert len(rows) == 1 and rows[0]["result"] == "ok" and alice["users_id"] in rows[0]["reason"]
    assert rows[0]["openid"] == f"dev-openid-bob{unique}"
    # A later login naming another inviter changes nothing, and writes no invite row.
    again = login_with(stack, f"bob{unique}.2", carol["users_promo_code"])
    assert again["users_parent_id"] == alice["users_id"] and len(invite_rows(stack_pb, bob["pb_id"])) == 1
    # A returning user who had none gets none either.
    late = login_with(stack, f"carol{unique}.2", alice["users_promo_code"])
    assert late["users_parent_id"] == "" and invite_rows(stack_pb, carol["pb_id"]) == []
    # The operator's dashboard filter of alice's invitees, and the count.
    assert [row["id"] for row in stack_pb.users(f'users_parent_id = "{alice["users_id"]}"')] == [bob["pb_id"]]
    counted = stack_pb.request("GET", f"/api/collections/view_invitee_counts/records/{alice['pb_id']}")
    assert counted.status_code == 200 and counted.json()["invitees"] == 1, counted.text


@pytest.mark.parametrize("kind", ["unknown", "own", "banned", "odd scene", "blank", "null"])
def test_bad_inviter_codes_are_ignored(stack, stack_pb, unique, kind):
    inviter_token, inviter = login_through(stack, f"inv{kind[:3]}{unique}")
    if kind == "banned":
        banned = stack_pb.request("PATCH", f"/api/collections/tbl_auth_users/records/{inviter['pb_id']}",
                                  json={"users_status": BANNED})
        assert banned.status_code == 200, banned.text
    code = {"unknown": "ZZZZZZZZ", "own": inviter["users_promo_code"], "banned": inviter["users_promo_code"],
            "odd scene": "a=1&b=不是码", "blank": "   ", "null": None}[kind]
    name = f"inv{kind[:3]}{unique}.2" if kind == "own" else f"new{kind[:3]}{unique}"
    user = login_with(stack, name, code)
    assert user["users_parent_id"] == "" and invite_rows(stack_pb, user["pb_id"]) == []


@pytest.mark.parametrize("value, status", [(123, 400), (["ABC"], 400), ("A" * 33, 400), ("A\ud800", 400)])
def test_the_inviter_field_gets_the_string_checks(stack, unique, value, status):
    body = json.dumps({"users_wx_code": f"chk{unique}", "inviter_promo_code": value})
    response = route(stack, "wechat/login", data=body.encode(), headers={"Content-Type": "application/json"})
    assert assert_envelope(response, status)["data"] == {"field": "inviter_promo_code"}


def test_users_without_a_code_are_back_filled_by_the_migration(tmp_path):
    server = PocketBaseServer(tmp_path / "pb_data", SUPERUSER_EMAIL, SUPERUSER_PASSWORD,
                              log_path=tmp_path / "pocketbase.log").start()
    try:
        pb = PB(server)
        ids = [pb.create_user(openid=f"old-{i}")["id"] for i in range(5)]
    finally:
        server.stop()
    # As before this change: rows without a code, and the back-fill not applied yet. More users than the
    # back-fill's page (lib/referral.js BACKFILL_PAGE, 500), written straight into the table.
    db = sqlite3.connect(tmp_path / "pb_data" / "data.db")
    with db:
        db.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) "
                   "INSERT INTO tbl_auth_users (id, openid, tokenKey, password) "
                   "SELECT printf('bulk%011d', i), 'bulk-' || i, printf('bulk-key-%030d', i), 'x' FROM n")
        db.execute("UPDATE tbl_auth_users SET users_promo_code = ''")
        db.execute("DELETE FROM _migrations WHERE file LIKE '%promo_codes_backfill%'")
    db.close()
    server.start()
    try:
        codes = [PB(server).user(pb_id)["users_promo_code"] for pb_id in ids]
    finally:
        server.stop()
    assert all(PROMO_CODE.match(code) for code in codes) and len(set(codes)) == len(ids), codes
    db = sqlite3.connect(tmp_path / "pb_data" / "data.db")
    try:
        total, distinct, bad = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT users_promo_code), SUM(length(users_promo_code) != 8) "
            "FROM tbl_auth_users").fetchone()
    finally:
        db.close()
    assert (total, distinct, bad) == (1205, 1205, 0)
    shutil.rmtree(tmp_path / "pb_data", ignore_errors=True)
