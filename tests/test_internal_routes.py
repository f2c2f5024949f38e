"""pb_hooks/internal.pb.js: the sidecar's one-request internal routes, called directly and through nginx."""
from __future__ import annotations

import sqlite3
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ops.pbserver import PocketBaseServer
from sidecar.pocketbase import token_claims
from tests.helpers import assert_envelope

LOGIN, PROFILE, COUNT = "/api/internal/wechat-login", "/api/internal/profile", "/api/internal/users-count"
RENEW = "/api/internal/renew-token"


def internal_login(pb, openid: str, create: bool = True, **extra) -> requests.Response:
    return pb.request("POST", LOGIN, json={"openid": openid, "create": create, **extra})


def count(pb) -> int:
    response = pb.request("GET", COUNT)
    assert response.status_code == 200, response.text
    return response.json()["total"]


@pytest.mark.parametrize("method, path, body", [
    ("POST", LOGIN, {"openid": "intruder", "create": True}),
    ("POST", PROFILE, {"token": "x", "changes": {"users_name": "x"}}),
    ("GET", COUNT, None),
    ("POST", RENEW, {"token": "x"}),
])
def test_internal_routes_refuse_guests_and_users(pb, unique, method, path, body):
    user_token = internal_login(pb, f"insider-{unique}").json()["token"]
    assert pb.request(method, path, token="", json=body).status_code == 401
    assert pb.request(method, path, token=user_token, json=body).status_code == 403
    assert not pb.users('openid = "intruder"')


@pytest.mark.parametrize("method, path", [("POST", LOGIN), ("POST", PROFILE), ("GET", COUNT), ("POST", RENEW),
                                          ("GET", "/api/internal/")])
def test_internal_routes_are_not_reachable_through_nginx(stack, stack_pb, method, path):
    for auth in ("", stack_pb.superuser_token):
        response = requests.request(method, stack.base_url + "/pb" + path, json={"openid": "x"},
                                    headers={"Authorization": auth} if auth else {}, timeout=10)
        assert_envelope(response, 404)


def test_login_creates_once_then_finds_and_keeps_the_unionid(pb, unique):
    first = internal_login(pb, f"oid-{unique}", unionid="")
    assert first.status_code == 200 and first.json()["registered"] is True
    user = first.json()["user"]
    assert (user["users_idtype"], user["users_type"], user["unionid"]) == ("WeChat", "游客", "")
    assert user["users_id"].startswith("USR-")
    again = internal_login(pb, f"oid-{unique}", unionid=f"uid-{unique}").json()
    assert again["registered"] is False and again["user"]["id"] == user["id"]
    assert pb.user(user["id"])["unionid"] == f"uid-{unique}"
    assert internal_login(pb, f"oid-{unique}", unionid="other").json()["user"]["unionid"] == f"uid-{unique}"


def test_login_without_create_answers_404_and_writes_nothing(pb, unique):
    response = internal_login(pb, f"nobody-{unique}", create=False)
    assert (response.status_code, response.json()) == (404, {"reason": "user_not_found"})
    assert not pb.users(f'openid = "nobody-{unique}"')


def test_concurrent_first_logins_make_one_user(pb, unique):
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: internal_login(pb, f"racer-{unique}"), range(8)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["user"]["id"] for a in answers}) == 1
    assert sum(a.json()["registered"] for a in answers) == 1
    assert len(pb.users(f'openid = "racer-{unique}"')) == 1


def test_profile_applies_changes_and_promotes_a_complete_visitor(pb, unique):
    token = internal_login(pb, f"prof-{unique}").json()["token"]
    phone = f"135{int(unique, 16) % 10**8:08d}"
    response = pb.request("POST", PROFILE, json={"token": token, "changes": {"users_name": "甲", "users_phone": phone}})
    assert response.status_code == 200, response.text
    assert (response.json()["user"]["users_type"], response.json()["user"]["users_phone"]) == ("注册用户", phone)


# (changes, typed_phone, whether the holder's number is WeChat-verified) -> refusal
@pytest.mark.parametrize("changes, typed, holder_verified, status, reason", [
    ({"users_picture": "ATT-0-missing"}, False, False, 400, "attachment_missing"),
    ({"users_phone": "taken"}, True, False, 400, "phone_taken"),   # a typed claim never takes a number
    ({"users_phone": "taken"}, True, True, 400, "phone_taken"),
    ({"users_phone": "taken"}, False, True, 400, "phone_taken"),  # a verified holder keeps it against anyone
])
def test_profile_refusals_write_nothing(pb, unique, changes, typed, holder_verified, status, reason):
    phone = f"136{int(unique, 16) % 10**8:08d}"
    holder = pb.create_user(openid=f"holder-{unique}", users_name="乙", users_phone=phone,
                            users_phone_verified=holder_verified)
    token = internal_login(pb, f"refused-{unique}").json()["token"]
    changes = {k: (phone if v == "taken" else v) for k, v in changes.items()}
    response = pb.request("POST", PROFILE, json={"token": token, "changes": {**changes, "users_tag": "t"},
                                                 "typed_phone": typed})
    assert (response.status_code, response.json()["reason"]) == (status, reason)
    assert pb.users(f'openid = "refused-{unique}"')[0]["users_tag"] == ""
    kept = pb.user(holder["id"])
    assert (kept["users_phone"], kept["users_phone_verified"], kept["users_type"]) == (phone, holder_verified, "注册用户")
    assert pb.total("tbl_login_log", f'route = "phone-takeover" && user_id = "{holder["id"]}"') == 0


def test_a_verified_claim_takes_the_number_from_a_typed_holder(pb, unique):
    phone = f"137{int(unique, 16) % 10**8:08d}"
    holder = pb.create_user(openid=f"typist-{unique}", users_name="甲", users_phone=phone)
    assert pb.user(holder["id"])["users_type"] == "注册用户"
    token = internal_login(pb, f"prover-{unique}").json()["token"]
    response = pb.request("POST", PROFILE, json={"token": token, "changes": {"users_name": "乙", "users_phone": phone},
                                                 "typed_phone": False},
                          headers={"X-Real-IP": "203.0.113.7", "User-Agent": "takeover-test"})
    assert response.status_code == 200, response.text
    assert (response.json()["user"]["users_phone"], response.json()["user"]["users_type"]) == (phone, "注册用户")
    prover = pb.users(f'openid = "prover-{unique}"')[0]
    assert prover["users_phone_verified"] is True
    loser = pb.user(holder["id"])
    assert (loser["users_phone"], loser["users_phone_verified"], loser["users_type"]) == ("", False, "游客")
    rows = pb.request("GET", "/api/collections/tbl_login_log/records",
                      params={"filter": f'route = "phone-takeover" && user_id = "{holder["id"]}"'}).json()["items"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["openid"], row["ip"], row["user_agent"], row["result"]) == (
        f"typist-{unique}", "203.0.113.7", "takeover-test", "ok")
    assert prover["id"] in row["reason"] and phone not in row["reason"]


def test_typing_the_number_one_holds_keeps_its_proof_and_typing_another_drops_it(pb, unique):
    phone, other = (f"{prefix}{int(unique, 16) % 10**8:08d}" for prefix in ("139", "147"))
    token = internal_login(pb, f"keeper-{unique}").json()["token"]

    def claim(number: str, typed: bool) -> bool:
        response = pb.request("POST", PROFILE, json={"token": token, "changes": {"users_phone": number},
                                                     "typed_phone": typed})
        assert response.status_code == 200, response.text
        return pb.users(f'openid = "keeper-{unique}"')[0]["users_phone_verified"]

    assert claim(phone, typed=True) is False
    assert claim(phone, typed=False) is True
    assert claim(phone, typed=True) is True
    assert claim(other, typed=True) is False


@pytest.mark.parametrize("token", ["", "garbage", "superuser"])
def test_profile_refuses_tokens_that_are_not_a_users(pb, token):
    token = pb.superuser_token if token == "superuser" else token
    response = pb.request("POST", PROFILE, json={"token": token, "changes": {"users_name": "x"}})
    assert (response.status_code, response.json()["reason"]) == (401, "token_invalid")


def test_profile_refuses_a_user_without_openid(pb):
    token = pb.user_token(pb.create_user(openid="")["id"])
    response = pb.request("POST", PROFILE, json={"token": token, "changes": {"users_name": "x"}})
    assert (response.status_code, response.json()["reason"]) == (401, "no_openid")


def test_renew_token_gives_a_refreshable_token_for_a_valid_impersonation_token(pb):
    user = pb.create_user(openid="")
    response = pb.request("POST", RENEW, json={"token": pb.user_token(user["id"])})
    assert response.status_code == 200
    assert token_claims(response.json()["token"])["id"] == user["id"]
    assert token_claims(response.json()["token"])["refreshable"] is True
    for token in ("", "garbage", pb.superuser_token, pb.user_token(user["id"])[:-2] + "xx"):
        refused = pb.request("POST", RENEW, json={"token": token})
        assert (refused.status_code, refused.json()) == (401, {"reason": "token_invalid"})


def test_users_counter_follows_concurrent_registrations_and_deletions(pb, unique):
    existing = [internal_login(pb, f"del-{unique}-{i}").json()["user"]["id"] for i in range(10)]

    def work(i: int) -> int:
        if i % 2:
            return internal_login(pb, f"new-{unique}-{i}").status_code
        return pb.request("DELETE", f"/api/collections/tbl_auth_users/records/{existing[i // 2]}").status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(work, range(20)))
    assert statuses.count(200) == 10 and statuses.count(204) == 10
    assert count(pb) == pb.total("tbl_auth_users")


def test_users_counter_is_reconciled_with_count_at_start(tmp_path):
    server = PocketBaseServer(tmp_path / "pb_data", "count@example.com", "Count-pass-123", log_path=tmp_path / "pb.log")
    server.start()
    try:
        from tests.helpers import PB
        pb = PB(server)
        for i in range(3):
            assert internal_login(pb, f"c-{i}").status_code == 200
        assert count(pb) == 3
        server.stop()
        with sqlite3.connect(tmp_path / "pb_data" / "data.db") as db:  # as an import or a restore would
            db.execute("UPDATE sys_counters SET value = 999")
            db.execute("DELETE FROM tbl_auth_users WHERE openid = 'c-0'")  # the trigger still counts it
        server.start()
        pb = PB(server)
        assert count(pb) == 2 == pb.total("tbl_auth_users")
        assert internal_login(pb, "c-" + secrets.token_hex(3)).status_code == 200 and count(pb) == 3
    finally:
        server.stop()
