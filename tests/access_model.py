"""The access model the access tests prove: who may do what to which collection, from schema.yaml.

Expected outcomes are derived from schema.yaml's rules (RULE_MEANINGS says what each rule string
means) plus the attachment list guard (pb_hooks/attachments.pb.js), so the table and the rules
cannot drift: a new rule string, or a collection without a row in SAMPLE_BODIES, fails
tests/test_access.py.

Adding a superuser-only collection (all rules null) is one line in SAMPLE_BODIES: its name and a
body that creates a record, e.g. `"tbl_login_log": {},`.
"""
from __future__ import annotations

import secrets

import pytest
import requests

from ops.schema import load_schema
from tests.helpers import login_through, route

GUEST, WECHAT, WECHAT2, MANAGER, SUPERUSER = "guest", "wechat", "wechat2", "manager", "superuser"
ACTORS = (GUEST, WECHAT, WECHAT2, MANAGER, SUPERUSER)
# The request context of a list whose filter is the exact-id form attachments_id="<id>" (see LIST_GUARD).
NAMES_ID = "names attachments_id"
WECHAT_OPENID = "dev-openid-access-one"  # WECHAT's openid (login code access-one): the owner of its rows
VIEW_ONLY = None  # a view collection: nothing is ever written through the API


def _password() -> str:
    return "Pw-" + secrets.token_urlsafe(24)


def _auth_body(**fields) -> dict:
    password = _password()
    return {"password": password, "passwordConfirm": password, **fields}


# One row per collection: a body (or a function making one) that creates a record as superuser; None
# for a view collection. A superuser-only collection is one line: "tbl_login_log": {},
SAMPLE_BODIES = {
    "tbl_auth_users": lambda: _auth_body(openid="access-" + secrets.token_hex(6)),
    "tbl_company": lambda: {"company_name": "access-" + secrets.token_hex(4)},
    "tbl_attachments": lambda: {"attachments_remark": "access", "attachments_ocr": "OCR-" + secrets.token_hex(6)},
    "tbl_document": lambda: {"document_title": "access", "document_status": "有效"},
    "view_user_info": VIEW_ONLY,
    "view_invitee_counts": VIEW_ONLY,
    "tbl_share_codes": lambda: {"share_user": "access-" + secrets.token_hex(4), "share_page": "pages/index/index",
                                "share_width": 430},
    "_superusers": lambda: _auth_body(email=f"access-{secrets.token_hex(4)}@example.com"),
    "tbl_login_log": lambda: {"route": "login", "result": "ok"},
    "sys_counters": lambda: {"name": "access-" + secrets.token_hex(4), "value": 1},
    "sys_phone_attempts": lambda: {"user": "access", "phone": "13800138000", "at": 1},
    "tbl_subscribe_grants": lambda: {"grant_openid": "access-" + secrets.token_hex(6), "grant_template": "access",
                                     "grant_count": 1},
    # No template of that name: the sender settles it 失败 without calling WeChat.
    "tbl_notifications": lambda: {"notification_openid": "access-" + secrets.token_hex(6),
                                  "notification_template": "access", "notification_data": {"thing1": "access"}},
    "sys_push_nonces": lambda: {"nonce": "access-" + secrets.token_hex(4), "at": 1},
}



def _owns(actor: str, owner: str | None) -> bool:
    """The actor is a user (every one here has an openid) and the row is theirs."""
    return actor == owner and actor in (WECHAT, WECHAT2, MANAGER)


def sample_body(name: str) -> dict:
    """A fresh body that creates a record of the collection (a row may be a dict or a function)."""
    row = SAMPLE_BODIES[name]
    return dict(row() if callable(row) else row)


# What each rule of schema.yaml means, as a predicate of (actor, owner of the row, request context).
# Superusers bypass every rule; null means superusers only. A rule missing here fails the test.
RULE_MEANINGS = {
    "": lambda actor, owner, context: True,
    "{admin}": lambda actor, owner, context: actor == MANAGER,
    "id = @request.auth.id || ({admin})": lambda actor, owner, context: actor == MANAGER or actor == owner,
    'id = @request.auth.id && @request.auth.collectionName = "tbl_auth_users"':
        lambda actor, owner, context: actor == owner and actor in (WECHAT, WECHAT2, MANAGER),
    '@request.context != "realtime"': lambda actor, owner, context: context != "realtime",
    # A WeChat user's own attachment (attachments_owner = their openid: every WECHAT-like actor has one) on every
    # surface; anyone's to a list whose filter names attachments_id (NAMES_ID), which the guard below keeps exact.
    '({own_attachment}) || (@request.context != "realtime" && @request.query.filter ~ "%attachments_id%")':
        lambda actor, owner, context: _owns(actor, owner) or context == NAMES_ID,
    '({own_attachment}) || @request.context != "realtime"':
        lambda actor, owner, context: _owns(actor, owner) or context != "realtime",
}

# The attachment guard (pb_hooks/attachments.pb.js): a list not filtered by exactly this field = "<value>" is
# refused to GUARDED actors (no openid: not a WeChat user); a WeChat user's is answered by the rule (their own).
LIST_GUARD = {"tbl_attachments": "attachments_id"}
GUARDED = (GUEST,)
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
    wechat_id = stack_pb.users(f'openid="{WECHAT_OPENID}"')[0]["id"]
    tokens = {GUEST: "", WECHAT: wechat_token, WECHAT2: wechat2_token,
              MANAGER: stack_pb.user_token(manager["id"]), SUPERUSER: stack_pb.superuser_token}
    apis = {actor: Api(base, token) for actor, token in tokens.items()}
    su = apis[SUPERUSER]
    rows, owners, created = {}, {}, []
    for name in SAMPLE_BODIES:
        if name in ("tbl_auth_users", "view_user_info"):
            rows[name], owners[name] = wechat_id, WECHAT
            continue
        if name == "view_invitee_counts":  # the wechat user's row, once they brought someone (issue #29)
            invited = route(stack, "wechat/login", json={"users_wx_code": "access-invitee",
                                                         "inviter_promo_code": wechat_user["users_promo_code"]})
            assert invited.status_code == 200 and invited.json()["data"]["user"]["users_parent_id"], invited.text
            rows[name], owners[name] = wechat_id, None
            continue
        if name == "tbl_attachments":  # WECHAT's own upload
            response = su.call("POST", f"/api/collections/{name}/records",
                               data=dict(sample_body(name), attachments_owner=WECHAT_OPENID),
                               files={"attachments_link": ("scan.png", b"\x89PNG-access", "image/png")})
        else:
            response = su.call("POST", f"/api/collections/{name}/records", json=sample_body(name))
        assert response.status_code == 200, (name, response.text)
        rows[name], owners[name] = response.json()["id"], (WECHAT if name == "tbl_attachments" else None)
        created.append((name, response.json()["id"]))
    yield {"apis": apis, "rows": rows, "owners": owners, "su": su, "wechat_user": wechat_user,
           "created": created,
           "superuser_email": stack.config.superuser_email}
    for name, record_id in created:
        su.call("DELETE", f"/api/collections/{name}/records/{record_id}")


def writable(name: str) -> bool:
    """Whether records of the collection are written through the API (a view's are not)."""
    return COLLECTIONS[name]["type"] != "view"


CASES = [(name, actor) for name in SAMPLE_BODIES for actor in ACTORS]
