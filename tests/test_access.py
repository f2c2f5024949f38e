"""One access model, proven on every PocketBase surface through nginx, for every collection and actor.

The model (SAMPLE_BODIES, RULE_MEANINGS, allowed()) is tests/access_model.py; realtime is proven in
tests/test_access_realtime.py. A collection without a row in SAMPLE_BODIES fails here, by name.
"""
from __future__ import annotations

import secrets

import pytest

from ops.schema import load_schema
from tests.access_model import (ACTORS, CASES, COLLECTIONS, GUARDED, GUEST, LIST_GUARD, MANAGER, NAMES_ID,
                                RULE_MEANINGS, SAMPLE_BODIES, SUPERUSER, WECHAT, WECHAT2, allowed, sample_body,
                                world, writable)  # noqa: F401 (world is a fixture)


def test_every_collection_has_a_row_in_the_table():
    missing = sorted(set(COLLECTIONS) - set(SAMPLE_BODIES))
    assert not missing, f"collections without a row in SAMPLE_BODIES (tests/access_model.py): {missing}"
    stale = sorted(set(SAMPLE_BODIES) - set(COLLECTIONS))
    assert not stale, f"SAMPLE_BODIES rows for collections that do not exist: {stale}"
    for name, spec in COLLECTIONS.items():
        for action, rule in spec["rules"].items():
            assert rule is None or rule in RULE_MEANINGS, f"{name}.{action}: unknown rule {rule!r}"


def test_no_relation_fields_so_expand_reaches_nothing():
    """expand only follows relation fields; the day one is added, this table must cover expand."""
    relations = [(c["name"], f["name"]) for c in load_schema()["collections"]
                 for f in c.get("fields", []) if f["type"] == "relation"]
    assert relations == [], f"relation fields need expand rows in tests/test_access.py: {relations}"


@pytest.mark.parametrize("name, actor", CASES)
def test_list_and_view(world, name, actor):
    api, row, owner = world["apis"][actor], world["rows"][name], world["owners"][name]
    listed = api.call("GET", f"/api/collections/{name}/records", params={"filter": f'id="{row}"'})
    if name in LIST_GUARD and actor in GUARDED:
        assert listed.status_code == 400, listed.text
    else:
        sees = listed.status_code == 200 and [i["id"] for i in listed.json()["items"]] == [row]
        assert sees is allowed(name, "list", actor, owner), (listed.status_code, listed.text[:200])
    viewed = api.call("GET", f"/api/collections/{name}/records/{row}")
    assert (viewed.status_code == 200) is allowed(name, "view", actor, owner), (viewed.status_code, viewed.text[:200])


@pytest.mark.parametrize("actor", ACTORS)
def test_attachments_exact_id_and_own_lists(world, actor):
    """Anyone finds an attachment by its exact business id; a list without it holds the caller's own rows only
    (WECHAT owns the row), refused to those without an openid; naming attachments_id otherwise is refused to all."""
    api, su, row, owner = world["apis"][actor], world["su"], world["rows"]["tbl_attachments"], WECHAT
    business_id = su.call("GET", f"/api/collections/tbl_attachments/records/{row}").json()["attachments_id"]
    path = "/api/collections/tbl_attachments/records"
    exact = api.call("GET", path, params={"filter": f'attachments_id="{business_id}"'})
    assert exact.status_code == 200 and [i["id"] for i in exact.json()["items"]] == [row], exact.text[:200]
    assert allowed("tbl_attachments", "list", actor, owner, NAMES_ID)
    unfiltered = api.call("GET", path, params={"perPage": 500})
    if actor in GUARDED:
        assert unfiltered.status_code == 400, unfiltered.text[:200]
    else:
        assert unfiltered.status_code == 200, unfiltered.text[:200]
        assert (row in [i["id"] for i in unfiltered.json()["items"]]) is allowed("tbl_attachments", "list", actor,
                                                                                 owner)
        if actor in (WECHAT, WECHAT2):
            openid = "dev-openid-access-" + ("one" if actor == WECHAT else "two")
            assert {i["attachments_owner"] for i in unfiltered.json()["items"]} <= {openid}
    loose = api.call("GET", path, params={"filter": f'attachments_id ~ "{business_id[:8]}"'})
    assert (loose.status_code == 200) is (actor == SUPERUSER), loose.text[:200]


@pytest.mark.parametrize("name, actor", CASES)
def test_create_update_delete(world, name, actor):
    api, su, row, owner = world["apis"][actor], world["su"], world["rows"][name], world["owners"][name]
    path = f"/api/collections/{name}/records"
    body = sample_body(name) if writable(name) else {}
    created = api.call("POST", path, json=body)
    assert (created.status_code == 200) is allowed(name, "create", actor), (created.status_code, created.text[:200])
    if created.status_code == 200:
        world["created"].append((name, created.json()["id"]))
    updated = api.call("PATCH", f"{path}/{row}", json={})
    assert (updated.status_code == 200) is allowed(name, "update", actor, owner), (updated.status_code,
                                                                                   updated.text[:200])
    if not writable(name):
        deleted = api.call("DELETE", f"{path}/{row}")
        assert deleted.status_code >= 400
        return
    victim = su.call("POST", path, json=sample_body(name)).json()["id"]
    deleted = api.call("DELETE", f"{path}/{victim}")
    assert (deleted.status_code == 204) is allowed(name, "delete", actor), (deleted.status_code, deleted.text[:200])
    if deleted.status_code != 204:
        su.call("DELETE", f"{path}/{victim}")


@pytest.mark.parametrize("name, actor", CASES)
def test_batch_applies_the_same_rules(world, name, actor):
    api, su, row, owner = world["apis"][actor], world["su"], world["rows"][name], world["owners"][name]
    path = f"/api/collections/{name}/records"
    body = sample_body(name) if writable(name) else {}
    victim = su.call("POST", path, json=sample_body(name)).json()["id"] if writable(name) else row
    for action, request in (("create", {"method": "POST", "url": path, "body": body}),
                            ("update", {"method": "PATCH", "url": f"{path}/{row}", "body": {}}),
                            ("delete", {"method": "DELETE", "url": f"{path}/{victim}"})):
        response = api.call("POST", "/api/batch", json={"requests": [request]})
        expected = allowed(name, action, actor, owner if action == "update" else None)
        assert (response.status_code == 200) is expected, (action, response.status_code, response.text[:200])
        if action == "create" and response.status_code == 200:
            world["created"].append((name, response.json()[0]["body"]["id"]))
    if writable(name):
        su.call("DELETE", f"{path}/{victim}")


@pytest.mark.parametrize("actor", ACTORS)
def test_attachment_files_are_served_by_exact_name_only(world, actor):
    """The file field is not protected: its URL (record id + random file name) is the capability, as the
    contract's UserInfo file URLs need; what must not leak is the id and name, which the rest of this file proves."""
    su, row = world["su"], world["rows"]["tbl_attachments"]
    record = su.call("GET", f"/api/collections/tbl_attachments/records/{row}").json()
    fields = next(c for c in load_schema()["collections"] if c["name"] == "tbl_attachments")["fields"]
    assert not next(f for f in fields if f["name"] == "attachments_link").get("protected")
    api = world["apis"][actor]
    download = api.call("GET", f"/api/files/{record['collectionId']}/{row}/{record['attachments_link']}")
    assert download.status_code == 200 and download.content == b"\x89PNG-access"
    guessed = api.call("GET", f"/api/files/{record['collectionId']}/{row}/scan.png")
    assert guessed.status_code == 404


def _can_enumerate(collection: str, actor: str) -> bool:
    return actor == SUPERUSER or (collection not in LIST_GUARD and allowed(collection, "list", actor))


@pytest.mark.parametrize("actor", [GUEST, WECHAT, WECHAT2, MANAGER])
def test_cross_collection_filters_and_hidden_fields_are_no_oracle(world, actor):
    """A filter or sort naming another collection, or a hidden field, must not tell true from false."""
    api, su, rows = world["apis"][actor], world["su"], world["rows"]
    attachment = su.call("GET", f"/api/collections/tbl_attachments/records/{rows['tbl_attachments']}").json()
    user = su.call("GET", f"/api/collections/tbl_auth_users/records/{rows['tbl_auth_users']}").json()
    ocr, openid = attachment["attachments_ocr"], user["openid"]
    # Issue #28's and #29's rows: whose grant, message, share code; who brought whom.
    share, grant, message = (su.call("GET", f"/api/collections/{name}/records/{rows[name]}").json()
                             for name in ("tbl_share_codes", "tbl_subscribe_grants", "tbl_notifications"))
    inviter = world["wechat_user"]
    # (collection listed, collection probed, filter that holds, filter that does not). A join of another collection
    # is many rows: `?=` holds when any row matches (PocketBase's `=` would need every row to).
    probes = [
        ("tbl_document", "tbl_attachments", f'@collection.tbl_attachments.attachments_ocr ?= "{ocr}"',
         '@collection.tbl_attachments.attachments_ocr ?= "no-such-text"'),
        ("tbl_company", "tbl_attachments", f'@collection.tbl_attachments.attachments_ocr ?~ "{ocr[:6]}"',
         '@collection.tbl_attachments.attachments_ocr ?~ "no-such-text"'),
        ("tbl_document", "tbl_auth_users", f'@collection.tbl_auth_users.openid ?= "{openid}"',
         '@collection.tbl_auth_users.openid ?= "no-such-openid"'),
        ("tbl_company", "_superusers", '@collection._superusers.email != ""', '@collection._superusers.email ?= "x@y"'),
        ("tbl_document", "view_user_info", f'@collection.view_user_info.openid ?= "{openid}"',
         '@collection.view_user_info.openid ?= "no-such-openid"'),
        ("tbl_auth_users", "tbl_auth_users", 'tokenKey != "" || password != ""', 'id = "none"'),
        ("tbl_document", "tbl_share_codes", f'@collection.tbl_share_codes.share_user ?= "{share["share_user"]}"',
         '@collection.tbl_share_codes.share_user ?= "no-such-user"'),
        ("tbl_company", "tbl_subscribe_grants",
         f'@collection.tbl_subscribe_grants.grant_openid ?= "{grant["grant_openid"]}"',
         '@collection.tbl_subscribe_grants.grant_openid ?= "no-such-openid"'),
        ("tbl_document", "tbl_notifications",
         f'@collection.tbl_notifications.notification_openid ?= "{message["notification_openid"]}"',
         '@collection.tbl_notifications.notification_openid ?= "no-such-openid"'),
        ("tbl_document", "view_invitee_counts",
         f'@collection.view_invitee_counts.users_promo_code ?= "{inviter["users_promo_code"]}"',
         '@collection.view_invitee_counts.users_promo_code ?= "NOSUCHCODE"'),
        ("tbl_company", "tbl_auth_users", f'@collection.tbl_auth_users.users_parent_id ?= "{inviter["users_id"]}"',
         '@collection.tbl_auth_users.users_parent_id ?= "no-such-parent"'),
    ]
    for listed, probed, holds, fails in probes:
        # Each probe tells the truth to a superuser: a probe that held for nobody could not fail the test.
        truth = [su.call("GET", f"/api/collections/{listed}/records", params={"filter": f, "perPage": 1})
                 .json()["totalItems"] for f in (holds, fails)]
        assert truth[0] > 0 and truth[1] == 0, (listed, holds, truth)
        if _can_enumerate(probed, actor) and listed != probed:
            continue
        answers = []
        for filter_ in (holds, fails):
            response = api.call("GET", f"/api/collections/{listed}/records", params={"filter": filter_, "perPage": 1})
            answers.append(response.json()["totalItems"] if response.status_code == 200 else 0)
        assert answers[0] == answers[1] == 0, (actor, listed, holds, answers)
    for sort in ("tokenKey", "password", "@collection.tbl_attachments.attachments_ocr"):
        response = api.call("GET", "/api/collections/tbl_document/records"
                            if sort.startswith("@") else "/api/collections/tbl_auth_users/records",
                            params={"sort": sort})
        assert response.status_code in (400, 403), (actor, sort, response.status_code, response.text[:200])


AUTH_ENDPOINTS = [
    ("auth-with-password", {"identity": "{email}", "password": "wrong-password-123"}),
    ("request-otp", {"email": "{email}"}),
    ("auth-with-otp", {"otpId": "x" * 15, "password": "123456"}),
    ("auth-with-oauth2", {"provider": "google", "code": "x", "codeVerifier": "x", "redirectURL": "http://x"}),
    ("request-password-reset", {"email": "{email}"}),
    ("request-verification", {"email": "{email}"}),
    ("confirm-password-reset", {"token": "x", "password": "x" * 10, "passwordConfirm": "x" * 10}),
    ("confirm-verification", {"token": "x"}),
]


@pytest.mark.parametrize("collection", [n for n, c in COLLECTIONS.items() if c["type"] == "auth"])
@pytest.mark.parametrize("endpoint, body", AUTH_ENDPOINTS)
def test_auth_endpoints_give_no_token_and_no_oracle(world, collection, endpoint, body):
    """Without the real password nobody gets a token; answers do not tell a known account from an unknown one."""
    known = world["superuser_email"] if collection == "_superusers" else "x@y.z"
    guest = world["apis"][GUEST]
    answers = []
    for email in (known, "nobody-" + secrets.token_hex(3) + "@example.com"):
        filled = {k: (v.format(email=email) if isinstance(v, str) else v) for k, v in body.items()}
        response = guest.call("POST", f"/api/collections/{collection}/{endpoint}", json=filled)
        assert response.status_code in (204, 400, 403, 404), (endpoint, response.status_code, response.text[:200])
        assert response.status_code != 200 and "token" not in (response.json() if response.content else {})
        answers.append(response.status_code)
    assert answers[0] == answers[1], (collection, endpoint, answers)


def test_user_password_login_otp_and_oauth2_are_off(world):
    methods = world["apis"][GUEST].call("GET", "/api/collections/tbl_auth_users/auth-methods").json()
    assert methods["password"]["enabled"] is False
    assert methods["otp"]["enabled"] is False and methods["oauth2"]["enabled"] is False


@pytest.mark.parametrize("actor", ACTORS)
def test_only_superusers_impersonate(world, actor):
    """Impersonation mints a token for any user: PocketBase allows it to superusers only."""
    row = world["rows"]["tbl_auth_users"]
    response = world["apis"][actor].call("POST", f"/api/collections/tbl_auth_users/impersonate/{row}",
                                         json={"duration": 60})
    assert (response.status_code == 200 and "token" in response.json()) is (actor == SUPERUSER), response.text[:200]


@pytest.mark.parametrize("actor", ACTORS)
def test_attachments_moderation_fields_are_superusers_only(world, actor):
    """attachments_trace_id (WeChat's trace id of the check) and attachments_suggest (its verdict) are hidden
    fields: a guest's or user's exact-id list and view carry neither, a superuser's both; the owner stays."""
    su, api = world["su"], world["apis"][actor]
    attachment_id = "ATT-ACCESS-" + secrets.token_hex(6)
    created = su.call("POST", "/api/collections/tbl_attachments/records", data={
        "attachments_id": attachment_id, "attachments_owner": "access-owner", "attachments_status": "审核中",
        "attachments_trace_id": "trace-" + secrets.token_hex(6), "attachments_suggest": "review"},
        files={"attachments_link": ("scan.png", b"\x89PNG-access", "image/png")})
    assert created.status_code == 200, created.text
    record_id = created.json()["id"]
    try:
        listed = api.call("GET", "/api/collections/tbl_attachments/records",
                          params={"filter": f'attachments_id="{attachment_id}"'})
        assert listed.status_code == 200 and len(listed.json()["items"]) == 1, listed.text
        viewed = api.call("GET", f"/api/collections/tbl_attachments/records/{record_id}")
        assert viewed.status_code == 200, viewed.text
        for record in (listed.json()["items"][0], viewed.json()):
            assert record["attachments_owner"] == "access-owner"
            shown = {name for name in ("attachments_trace_id", "attachments_suggest") if name in record}
            assert shown == ({"attachments_trace_id", "attachments_suggest"} if actor == SUPERUSER else set())
    finally:
        su.call("DELETE", f"/api/collections/tbl_attachments/records/{record_id}")
