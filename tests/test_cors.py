"""CORS on our routes (sidecar/cors.py): preflights through nginx, the allow-origin header, the allow list."""
from __future__ import annotations

import dataclasses

import pytest
import requests

from sidecar import create_app
from sidecar.config import ConfigError
from tests.helpers import assert_envelope

OUR_ROUTES = ["wechat/login", "wechat/profile", "system/refresh-token", "system/users-count",
              "wechat/logout", "wechat/close-account"]
PAGE = "https://h5.example.com"


def preflight(base_url: str, path: str, origin: str = PAGE) -> requests.Response:
    return requests.options(f"{base_url}/pb/api/{path}", timeout=15, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})


@pytest.mark.slow
@pytest.mark.parametrize("path", OUR_ROUTES)
def test_preflight_through_nginx_is_a_bodiless_204_with_the_allow_headers(stack, path):
    response = preflight(stack.base_url, path)
    assert response.status_code == 204 and response.content == b""
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == "authorization,content-type"


@pytest.mark.slow
def test_answers_and_errors_carry_the_allow_origin_header(stack):
    answered = requests.post(stack.base_url + "/pb/api/system/users-count", headers={"Origin": PAGE}, timeout=15)
    assert_envelope(answered, 200)
    assert answered.headers["Access-Control-Allow-Origin"] == "*"
    refused = requests.post(stack.base_url + "/pb/api/wechat/logout", headers={"Origin": PAGE}, timeout=15)
    assert_envelope(refused, 401)
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    # PocketBase answers its own API the same way.
    native = requests.options(stack.base_url + "/pb/api/collections/tbl_company/records", timeout=15,
                              headers={"Origin": PAGE, "Access-Control-Request-Method": "GET"})
    assert native.headers["Access-Control-Allow-Origin"] == "*"


# Paths under /pb/api/ that no route serves, one per nginx location that could receive them: the sidecar's
# families, the internal routes nginx refuses, PocketBase's API, the index.
UNKNOWN_PATHS = ["wechat/nope", "system/nope", "docs/nope", "internal/wechat-login", "internal/", "nope",
                 "collections/nope/records"]


@pytest.mark.slow
@pytest.mark.parametrize("path", UNKNOWN_PATHS + [""])
def test_preflight_to_any_path_under_pb_api_is_a_204_with_the_allowed_origin(stack, path):
    response = preflight(stack.base_url, path)
    assert response.status_code == 204 and response.content == b"", (path, response.status_code, response.text)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


@pytest.mark.slow
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_the_404_after_the_preflight_carries_the_allowed_origin(stack, path):
    response = requests.get(f"{stack.base_url}/pb/api/{path}", headers={"Origin": PAGE}, timeout=15)
    assert response.status_code == 404, (path, response.text)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    if not path.startswith("collections/") and path != "nope":  # PocketBase answers its own shape
        assert_envelope(response, 404)


BIG_BODY = b"{" + b" " * 70_000 + b"}"
EVIL = "https://evil.example.com"


def big_post(base_url: str, origin: str | None) -> requests.Response:
    return requests.post(base_url + "/pb/api/wechat/login", data=BIG_BODY, timeout=15,
                         headers={"Content-Type": "application/json", **({"Origin": origin} if origin else {})})


def assert_cors(response: requests.Response, origin: str | None) -> None:
    """The answer carries Access-Control-Allow-Origin: origin (None: no CORS header at all)."""
    assert response.headers.get("Access-Control-Allow-Origin") == origin, (response.status_code, response.headers)
    assert response.headers.get("Access-Control-Expose-Headers") == ("X-Request-Id" if origin else None)


@pytest.mark.slow
def test_nginx_envelopes_carry_the_allow_origin_header_for_any_origin(stack):
    # CORS_ALLOWED_ORIGINS=* (the session stack): nginx's own 413 and 494 answer `*` to a page, as the sidecar.
    too_big = big_post(stack.base_url, PAGE)
    assert_envelope(too_big, 413)
    assert_cors(too_big, "*")
    assert "Origin" not in too_big.headers.get("Vary", "")
    assert_cors(big_post(stack.base_url, None), None)
    too_long = requests.post(stack.base_url + "/pb/api/wechat/profile", json={}, timeout=15,
                             headers={"Origin": PAGE, "Authorization": "Bearer " + "a" * 20480})
    assert_envelope(too_long, 400)
    assert_cors(too_long, "*")


@pytest.mark.slow
def test_nginx_envelopes_name_only_listed_origins_and_preflights_are_rate_limited(make_stack):
    listed = make_stack(RATE_LIMITS="2r/m,burst=1", CORS_ALLOWED_ORIGINS=PAGE)
    statuses = [preflight(listed.base_url, "wechat/login") for _ in range(4)]
    assert statuses[0].status_code == 204 and statuses[0].headers["Access-Control-Allow-Origin"] == PAGE
    limited = [response for response in statuses if response.status_code == 429]
    assert limited, [response.status_code for response in statuses]
    # nginx's 429: readable by the listed page, not by another one; a cache keys it on Origin.
    assert_envelope(limited[0], 429)
    assert_cors(limited[0], PAGE)
    assert limited[0].headers["Vary"] == "Origin" and limited[0].headers["Retry-After"] == "1"
    refused = preflight(listed.base_url, "wechat/login", origin=EVIL)
    assert_envelope(refused, 429)
    assert_cors(refused, None)
    assert refused.headers["Vary"] == "Origin"
    # 413 (not rate limited: nginx refuses the body before the limit applies).
    assert_cors(big_post(listed.base_url, PAGE), PAGE)
    assert_cors(big_post(listed.base_url, EVIL), None)
    # 502: the sidecar is down (the health route is not rate limited).
    listed.processes["sidecar"].stop()
    for origin, expected in ((PAGE, PAGE), (EVIL, None)):
        down = requests.get(listed.base_url + "/pb/api/system/health", headers={"Origin": origin}, timeout=15)
        assert_envelope(down, 502)
        assert_cors(down, expected)
        assert down.headers["Vary"] == "Origin"


@pytest.fixture(scope="module")
def listed_client(sidecar_config):
    """A sidecar allowing two origins only."""
    config = dataclasses.replace(sidecar_config, CORS_ALLOWED_ORIGINS=f"{PAGE}, http://localhost:5173")
    return create_app(config.validated()).test_client()


@pytest.mark.parametrize("origin,allowed", [(PAGE, True), ("http://localhost:5173", True),
                                            ("https://evil.example.com", False)])
def test_allow_list_names_only_the_listed_origins(listed_client, origin, allowed):
    response = listed_client.options("/pb/api/wechat/login", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204
    assert response.headers.get("Access-Control-Allow-Origin") == (origin if allowed else None)
    assert "Origin" in response.headers["Vary"]


def test_a_request_without_origin_gets_no_cors_headers(client):
    response = client.post("/pb/api/system/users-count")
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers


def test_preflight_to_an_unknown_path_is_a_204_so_the_page_reads_the_404_envelope(client):
    preflight = client.options("/pb/api/wechat/nope", headers={"Origin": PAGE, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and preflight.get_data() == b""
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    answer = client.post("/pb/api/wechat/nope", headers={"Origin": PAGE})
    assert answer.status_code == 404 and answer.json["code"] == 404
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_a_plain_options_to_an_unknown_path_is_still_the_404_envelope(client):
    """Only a preflight (Access-Control-Request-Method) is answered 204."""
    response = client.options("/pb/api/wechat/nope", headers={"Origin": PAGE})
    assert response.status_code == 404 and response.json["code"] == 404


@pytest.mark.parametrize("value", ["h5.example.com", "https://h5.example.com/path", "ftp://x.example.com",
                                   'https://h5.example.com";'])
def test_a_malformed_origin_setting_is_refused(sidecar_config, value):
    with pytest.raises(ConfigError, match="CORS_ALLOWED_ORIGINS"):
        dataclasses.replace(sidecar_config, CORS_ALLOWED_ORIGINS=value).validated()


@pytest.mark.parametrize("headers", [{}, {"Origin": PAGE}], ids=["bare", "with-origin"])
def test_a_bare_options_is_a_bodiless_204_with_allow(app, headers):
    response = app.test_client().options("/pb/api/wechat/login", headers=headers)
    assert (response.status_code, response.data, response.headers["Allow"]) == (204, b"", "OPTIONS, POST")
    assert "Content-Type" not in response.headers and "Access-Control-Allow-Methods" not in response.headers


def test_options_on_an_unknown_path_is_the_404_envelope(app):
    response = app.test_client().options("/pb/api/wechat/nope")
    assert response.status_code == 404 and response.json["code"] == 404
