"""One access model, proven on every PocketBase surface through nginx, for every collection and actor.

Expected outcomes are derived from schema.yaml's rules (RULE_MEANINGS says what each rule string
means) plus the attachment list guard (pb_hooks/attachments.pb.js), so the table and the rules
cannot drift: a new rule string, or a collection without a row in SAMPLE_BODIES, fails the test.

Adding a superuser-only collection (all rules null) is one line in SAMPLE_BODIES: its name and a
body that creates a record, e.g. `"tbl_login_log": {},`.
"""
from __future__ import annotations

import json
import secrets
import threading
import time

import pytest
import requests

from ops.schema import load_schema
from tests.helpers import login_through

GUEST, WECHAT, WECHAT2, MANAGER, SUPERUSER = "guest", "wechat", "wechat2", "manager", "superuser"
ACTORS = (GUEST, WECHAT, WECHAT2, MANAGER, SUPERUSER)
VIEW_ONLY = None  # a view collection: nothing is ever written through the API


def _password() -> str:
    return "Pw-" + secrets.token_urlsafe(24)


def _auth_body(**fields) -> dict:
    password = _password()
    return {"password": password, "passwordConfirm": password, **fields}


# One row per collection: a body that creates a record as superuser (None for a view collection).
SAMPLE_BODIES = {
    "tbl_auth_users": lambda: _auth_body(openid="access-" + secrets.token_hex(6)),
    "tbl_company": lambda: {"company_name": "access-" + secrets.token_hex(4)},
    "tbl_attachments": lambda: {"attachments_remark": "access", "attachments_ocr": "OCR-" + secrets.token_hex(6)},
    "tbl_document": lambda: {"document_title": "access", "document_status": "有效"},
    "view_user_info": VIEW_ONLY,
    "_superusers": lambda: _auth_body(email=f"access-{secrets.token_hex(4)}@example.com"),
}

# What each rule of schema.yaml means, as a predicate of (actor, owner of the row, request context).
# Superusers bypass every rule; null means superusers only. A rule missing here fails the test.
RULE_MEANINGS = {
    "": lambda actor, owner, context: True,
    "{admin}": lambda actor, owner, context: actor == MANAGER,
    "id = @request.auth.id || ({admin})": lambda actor, owner, context: actor == MANAGER or actor == owner,
    'id = @request.auth.id && @request.auth.collectionName = "tbl_auth_users"':
        lambda actor, owner, context: actor == owner and actor in (WECHAT, WECHAT2, MANAGER),
    '@request.context != "realtime"': lambda actor, owner, context: context != "realtime",
}

# The attachment guard: a non-superuser list must be filtered by exactly this field = "<value>".
LIST_GUARD = {"tbl_attachments": "attachments_id"}
SUPERUSERS_COLLECTION = {"name": "_superusers", "type": "auth",
                         "rules": {action: None for action in ("list", "view", "create", "update", "delete")}}


def schema_collections() -> dict[str, dict]:
    """schema.yaml's collections plus PocketBase's own _superusers, by name."""
    collections = {c["name"]: c for c in load_schema()["collections"]}
    collections["_superusers"] = SUPERUSERS_COLLECTION
    return collections


COLLECTIONS = schema_collections()


def allowed(collection: str, action: str, actor: str, owner: str | None = None, context: str = "default") -> bool:
    """Whether schema.yaml's rule for collection/action lets actor at a row of owner, in context."""
    spec = COLLECTIONS[collection]
    if spec["type"] == "view" and action in ("create", "update", "delete"):
        return False
    if actor == SUPERUSER:
        return True
    rule = spec["rules"][action]
    if rule is None:
        return False
    assert rule in RULE_MEANINGS, f"{collection}.{action}: rule {rule!r} has no meaning in RULE_MEANINGS"
    return RULE_MEANINGS[rule](actor, owner, context)


def test_every_collection_has_a_row_in_the_table():
    missing = sorted(set(COLLECTIONS) - set(SAMPLE_BODIES))
    assert not missing, f"collections without a row in tests/test_access.py SAMPLE_BODIES: {missing}"
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


class Api:
    """PocketBase's API through the stack's nginx as one actor."""

    def __init__(self, base: str, token: str):
        self.base = base + "/pb"
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = token

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=15, **kwargs)


@pytest.fixture(scope="module")
def world(stack, stack_pb):
    """Actors' clients and one shared row per writable collection (a user's own row for auth)."""
    base = stack.base_url
    wechat_token, wechat_user = login_through(stack, "access-one")
    wechat2_token, _ = login_through(stack, "access-two")
    manager = stack_pb.create_user(openid="access-manager-" + secrets.token_hex(4), users_idtype="ManagePlatform")
    wechat_id = stack_pb.users(f'openid="dev-openid-access-one"')[0]["id"]
    tokens = {GUEST: "", WECHAT: wechat_token, WECHAT2: wechat2_token,
              MANAGER: stack_pb.user_token(manager["id"]), SUPERUSER: stack_pb.superuser_token}
    apis = {actor: Api(base, token) for actor, token in tokens.items()}
    su = apis[SUPERUSER]
    rows, owners, created = {}, {}, []
    for name, body in SAMPLE_BODIES.items():
        if name in ("tbl_auth_users", "view_user_info"):
            rows[name], owners[name] = wechat_id, WECHAT
            continue
        if name == "tbl_attachments":
            response = su.call("POST", f"/api/collections/{name}/records", data=body(),
                               files={"attachments_link": ("scan.png", b"\x89PNG-access", "image/png")})
        else:
            response = su.call("POST", f"/api/collections/{name}/records", json=body())
        assert response.status_code == 200, (name, response.text)
        rows[name], owners[name] = response.json()["id"], None
        created.append((name, response.json()["id"]))
    yield {"apis": apis, "rows": rows, "owners": owners, "su": su, "wechat_user": wechat_user,
           "created": created,
           "superuser_email": stack.config.superuser_email}
    for name, record_id in created:
        su.call("DELETE", f"/api/collections/{name}/records/{record_id}")


def _writable(name):
    return COLLECTIONS[name]["type"] != "view"


CASES = [(name, actor) for name in SAMPLE_BODIES for actor in ACTORS]


@pytest.mark.parametrize("name, actor", CASES)
def test_list_and_view(world, name, actor):
    api, row, owner = world["apis"][actor], world["rows"][name], world["owners"][name]
    listed = api.call("GET", f"/api/collections/{name}/records", params={"filter": f'id="{row}"'})
    if name in LIST_GUARD and actor != SUPERUSER:
        assert listed.status_code == 400, listed.text
    else:
        sees = listed.status_code == 200 and [i["id"] for i in listed.json()["items"]] == [row]
        assert sees is allowed(name, "list", actor, owner), (listed.status_code, listed.text[:200])
    viewed = api.call("GET", f"/api/collections/{name}/records/{row}")
    assert (viewed.status_code == 200) is allowed(name, "view", actor, owner), (viewed.status_code, viewed.text[:200])


@pytest.mark.parametrize("name, actor", CASES)
def test_create_update_delete(world, name, actor):
    api, su, row, owner = world["apis"][actor], world["su"], world["rows"][name], world["owners"][name]
    path = f"/api/collections/{name}/records"
    body = SAMPLE_BODIES[name]() if _writable(name) else {}
    created = api.call("POST", path, json=body)
    assert (created.status_code == 200) is allowed(name, "create", actor), (created.status_code, created.text[:200])
    if created.status_code == 200:
        world["created"].append((name, created.json()["id"]))
    updated = api.call("PATCH", f"{path}/{row}", json={})
    assert (updated.status_code == 200) is allowed(name, "update", actor, owner), (updated.status_code,
                                                                                   updated.text[:200])
    if not _writable(name):
        deleted = api.call("DELETE", f"{path}/{row}")
        assert deleted.status_code >= 400
        return
    victim = su.call("POST", path, json=SAMPLE_BODIES[name]()).json()["id"]
    deleted = api.call("DELETE", f"{path}/{victim}")
    assert (deleted.status_code == 204) is allowed(name, "delete", actor), (deleted.status_code, deleted.text[:200])
    if deleted.status_code != 204:
        su.call("DELETE", f"{path}/{victim}")


@pytest.mark.parametrize("name, actor", CASES)
def test_batch_applies_the_same_rules(world, name, actor):
    api, su, row, owner = world["apis"][actor], world["su"], world["rows"][name], world["owners"][name]
    path = f"/api/collections/{name}/records"
    body = SAMPLE_BODIES[name]() if _writable(name) else {}
    victim = su.call("POST", path, json=SAMPLE_BODIES[name]()).json()["id"] if _writable(name) else row
    for action, request in (("create", {"method": "POST", "url": path, "body": body}),
                            ("update", {"method": "PATCH", "url": f"{path}/{row}", "body": {}}),
                            ("delete", {"method": "DELETE", "url": f"{path}/{victim}"})):
        response = api.call("POST", "/api/batch", json={"requests": [request]})
        expected = allowed(name, action, actor, owner if action == "update" else None)
        assert (response.status_code == 200) is expected, (action, response.status_code, response.text[:200])
        if action == "create" and response.status_code == 200:
            world["created"].append((name, response.json()[0]["body"]["id"]))
    if _writable(name):
        su.call("DELETE", f"{path}/{victim}")


@pytest.mark.parametrize("actor", ACTORS)
def test_attachment_files_are_served_by_exact_name_only(world, actor):
    """The file field is not protected: its URL (record id + random file name) is the capability, as the
    contract's UserInfo file URLs need; what must not leak is the id and name, which the rest of this file proves."""
    su, row = world["su"], world["rows"]["tbl_attachments"]
    record = su.call("GET", f"/api/collections/tbl_attachments/records/{row}").json()
    file_field = next(f for f in load_schema()["collections"] if f["name"] == "tbl_attachments")["fields"][1]
    assert file_field["name"] == "attachments_link" and not file_field.get("protected")
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
    # (collection listed, collection probed, filter that holds, filter that does not)
    probes = [
        ("tbl_document", "tbl_attachments", f'@collection.tbl_attachments.attachments_ocr = "{ocr}"',
         '@collection.tbl_attachments.attachments_ocr = "no-such-text"'),
        ("tbl_company", "tbl_attachments", f'@collection.tbl_attachments.attachments_ocr ~ "{ocr[:6]}"',
         '@collection.tbl_attachments.attachments_ocr ~ "no-such-text"'),
        ("tbl_document", "tbl_auth_users", f'@collection.tbl_auth_users.openid = "{openid}"',
         '@collection.tbl_auth_users.openid = "no-such-openid"'),
        ("tbl_company", "_superusers", '@collection._superusers.email != ""', '@collection._superusers.email = "x@y"'),
        ("tbl_document", "view_user_info", f'@collection.view_user_info.openid = "{openid}"',
         '@collection.view_user_info.openid = "no-such-openid"'),
        ("tbl_auth_users", "tbl_auth_users", 'tokenKey != "" || password != ""', 'id = "none"'),
    ]
    for listed, probed, holds, fails in probes:
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


def _realtime_reader(base: str, token: str, topics: list[str], events: list, ready: threading.Event,
                     stop: threading.Event) -> None:
    with requests.get(base + "/pb/api/realtime", stream=True, timeout=(5, 3)) as stream:
        lines = stream.iter_lines(decode_unicode=True)
        name, data = "", ""
        try:
            for line in lines:
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and name:
                    if name == "PB_CONNECT":
                        headers = {"Authorization": token} if token else {}
                        response = requests.post(base + "/pb/api/realtime", headers=headers, timeout=5,
                                                 json={"clientId": json.loads(data)["clientId"],
                                                       "subscriptions": topics})
                        assert response.status_code == 204, response.text
                        ready.set()
                    else:
                        payload = json.loads(data)
                        events.append((name, payload["action"], payload["record"]["id"]))
                    name, data = "", ""
                if stop.is_set():
                    return
        except requests.exceptions.ConnectionError:
            return  # the read timeout after the last event


def test_realtime_delivers_exactly_what_the_rules_allow(world, stack):
    su, rows, owners = world["su"], world["rows"], world["owners"]
    topics = [t for name in SAMPLE_BODIES for t in (f"{name}/*", f"{name}/{rows[name]}")]
    tokens = {actor: world["apis"][actor].session.headers.get("Authorization", "") for actor in ACTORS}
    events = {actor: [] for actor in ACTORS}
    stop, threads, readies = threading.Event(), [], []
    for actor in ACTORS:
        ready = threading.Event()
        thread = threading.Thread(target=_realtime_reader, daemon=True,
                                  args=(stack.base_url, tokens[actor], topics, events[actor], ready, stop))
        thread.start()
        threads.append(thread)
        readies.append(ready)
    assert all(ready.wait(10) for ready in readies), "a realtime subscription did not complete"
    new_rows = {}
    for name in SAMPLE_BODIES:
        if not _writable(name):
            continue
        created = su.call("POST", f"/api/collections/{name}/records", json=SAMPLE_BODIES[name]())
        assert created.status_code == 200, created.text
        new_rows[name] = created.json()["id"]
        world["created"].append((name, new_rows[name]))
        assert su.call("PATCH", f"/api/collections/{name}/records/{rows[name]}", json={}).status_code == 200
    time.sleep(1.5)
    stop.set()
    for actor in ACTORS:
        expected = set()
        for name in SAMPLE_BODIES:
            if not _writable(name):
                continue  # a view's rows are never saved, so no event is ever sent for them
            if allowed(name, "list", actor, None, "realtime"):
                expected.add((f"{name}/*", "create", new_rows[name]))
            if allowed(name, "list", actor, owners[name], "realtime"):
                expected.add((f"{name}/*", "update", rows[name]))
            if allowed(name, "view", actor, owners[name], "realtime"):
                expected.add((f"{name}/{rows[name]}", "update", rows[name]))
        mine = set(rows.values()) | set(new_rows.values())
        got = {event for event in events[actor] if event[2] in mine}
        assert got == expected, f"{actor}: unexpected {sorted(got - expected)}, missing {sorted(expected - got)}"
    assert not any(e[0].startswith("tbl_attachments") for a in ACTORS if a != SUPERUSER for e in events[a])


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
