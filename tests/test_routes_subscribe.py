"""Bad inputs to the routes of issues #28 and #29 (GET/POST /pb/api/wechat/subscribe, POST /pb/api/wechat/share-code,
the login's inviter_promo_code): each one is our envelope with CORS, naming what is wrong, and changes nothing.

Unit level (Flask's test client): the app's PocketBase gateway is replaced by one that fails the test when called, so
a refusal that reached PocketBase (and might have written) cannot pass. The stack tests (test_subscribe_stack.py,
test_share.py, test_referral.py) prove the same refusals through nginx for a few of these."""
from __future__ import annotations

import pytest

from ops.stack_config import DEV_SUBSCRIBE_TEMPLATES
from sidecar import create_app
from sidecar.config import Config

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJpZCI6ImFiYyJ9.c2lnbmF0dXJl"
ORIGIN = "https://h5.example.test"


class Untouchable:
    """A PocketBase gateway that must not be asked anything."""

    def __getattr__(self, name):
        raise AssertionError(f"PocketBase reached ({name}) by a request that should have been refused")


@pytest.fixture(scope="module")
def client():
    app = create_app(Config(PB_SUPERUSER_EMAIL="unused@example.test", PB_SUPERUSER_PASSWORD="unused",
                            WECHAT_APPID="wx-unused", WECHAT_SECRET="unused",
                            SUBSCRIBE_TEMPLATES=DEV_SUBSCRIBE_TEMPLATES))
    for name in ("subscribe", "share"):
        app.extensions[name].pb = Untouchable()
    app.extensions["users"].pb = Untouchable()
    app.testing = False  # errors answered as in production, never raised into the test
    return app.test_client()


# (method, path, raw body or None, Authorization, status, the field named in data or None)
CASES = [
    # no token, or one not shaped like a token: 401 before anything else
    ("GET", "/pb/api/wechat/subscribe", None, None, 401, None),
    ("POST", "/pb/api/wechat/subscribe", '{"accepted": []}', None, 401, None),
    ("POST", "/pb/api/wechat/subscribe", '{"accepted": []}', "Bearer not-a-token", 401, None),
    ("POST", "/pb/api/wechat/share-code", "{}", None, 401, None),
    ("POST", "/pb/api/wechat/share-code", "{}", "Bearer a.b", 401, None),
    # bodies that are not a JSON object
    ("POST", "/pb/api/wechat/subscribe", "[1]", JWT, 400, None),
    ("POST", "/pb/api/wechat/subscribe", '{"accepted": ', JWT, 415, None),
    ("POST", "/pb/api/wechat/share-code", '"pages/index/index"', JWT, 400, None),
    ("POST", "/pb/api/wechat/share-code", "null", JWT, 400, None),
    # the report's lists
    ("POST", "/pb/api/wechat/subscribe", '{"accepted": "x"}', JWT, 400, "accepted"),
    ("POST", "/pb/api/wechat/subscribe", '{"accepted": null}', JWT, 400, "accepted"),
    ("POST", "/pb/api/wechat/subscribe", '{"accepted": [1]}', JWT, 400, "accepted"),
    ("POST", "/pb/api/wechat/subscribe", '{"accepted": [""]}', JWT, 400, "accepted"),
    ("POST", "/pb/api/wechat/subscribe", '{"accepted": ["a","b","c","d","e","f"]}', JWT, 400, "accepted"),
    ("POST", "/pb/api/wechat/subscribe", '{"accepted": ["' + "x" * 129 + '"]}', JWT, 400, "accepted"),
    ("POST", "/pb/api/wechat/subscribe", '{"accepted": ["\\ud800"]}', JWT, 400, "accepted"),
    ("POST", "/pb/api/wechat/subscribe", '{"rejected": ["a\\u0000b"]}', JWT, 400, "rejected"),
    ("POST", "/pb/api/wechat/subscribe", '{"rejected": {"id": 1}}', JWT, 400, "rejected"),
    # an id not configured: named (template_id), nothing written
    ("POST", "/pb/api/wechat/subscribe", '{"accepted": ["not-configured"]}', JWT, 400, None),
    # the share code's page and width
    ("POST", "/pb/api/wechat/share-code", '{"page": 5}', JWT, 400, "page"),
    ("POST", "/pb/api/wechat/share-code", '{"page": "\\ud800"}', JWT, 400, "page"),
    ("POST", "/pb/api/wechat/share-code", '{"page": "pages/not/shared"}', JWT, 400, "page"),
    ("POST", "/pb/api/wechat/share-code", '{"page": "' + "p" * 129 + '"}', JWT, 400, "page"),
    ("POST", "/pb/api/wechat/share-code", '{"width": "430"}', JWT, 400, "width"),
    ("POST", "/pb/api/wechat/share-code", '{"width": true}', JWT, 400, "width"),
    ("POST", "/pb/api/wechat/share-code", '{"width": 279}', JWT, 400, "width"),
    ("POST", "/pb/api/wechat/share-code", '{"width": 430.5}', JWT, 400, "width"),
    ("POST", "/pb/api/wechat/share-code", '{"width": [430]}', JWT, 400, "width"),
    # the login's inviter code gets every string's checks (a code of the right shape but unknown is ignored:
    # tests/test_referral.py)
    ("POST", "/pb/api/wechat/login", '{"users_wx_code": "c", "inviter_promo_code": 5}', None, 400,
     "inviter_promo_code"),
    ("POST", "/pb/api/wechat/login", '{"users_wx_code": "c", "inviter_promo_code": "\\ud800"}', None, 400,
     "inviter_promo_code"),
    ("POST", "/pb/api/wechat/login", '{"users_wx_code": "c", "inviter_promo_code": "' + "A" * 33 + '"}', None, 400,
     "inviter_promo_code"),
]


@pytest.mark.parametrize("method, path, raw, authorization, status, field", CASES)
def test_bad_inputs_are_an_envelope_with_cors_and_change_nothing(client, method, path, raw, authorization, status,
                                                                  field):
    headers = {"Origin": ORIGIN}
    if authorization:
        headers["Authorization"] = authorization if " " in authorization else f"Bearer {authorization}"
    response = client.open(path, method=method, headers=headers, data=raw,
                           content_type="application/json" if raw is not None else None)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] in ("*", ORIGIN)
    body = response.get_json()
    assert body["code"] == status and body["msg"] and isinstance(body["data"], dict), body
    if field:
        assert body["data"].get("field") == field, body
