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


@pytest.mark.slow
def test_preflight_is_rate_limited_like_the_routes(make_stack):
    limited = make_stack(RATE_LIMITS="2r/m,burst=1")
    statuses = [preflight(limited.base_url, "wechat/login").status_code for _ in range(4)]
    assert statuses[0] == 204 and 429 in statuses, statuses


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


def test_preflight_to_an_unknown_path_is_the_404_envelope(client):
    response = client.options("/pb/api/wechat/nope", headers={"Origin": PAGE, "Access-Control-Request-Method": "POST"})
    assert response.status_code == 404 and response.json["code"] == 404


@pytest.mark.parametrize("value", ["h5.example.com", "https://h5.example.com/path", "ftp://x.example.com"])
def test_a_malformed_origin_setting_is_refused(sidecar_config, value):
    with pytest.raises(ConfigError, match="CORS_ALLOWED_ORIGINS"):
        dataclasses.replace(sidecar_config, CORS_ALLOWED_ORIGINS=value).validated()
