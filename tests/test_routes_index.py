"""GET /pb/api/ (the sidecar's index) and the first URLs a newcomer tries through nginx: /pb, /pb/, /pb/api."""
from __future__ import annotations

import pytest
import requests

from tests.helpers import assert_envelope


def test_index_lists_every_route_of_ours_from_the_url_map(app, client):
    response = client.get("/pb/api/")
    assert response.status_code == 200 and response.json["code"] == 200 and response.json["msg"]
    data = response.json["data"]
    assert (data["docs"], data["dashboard"]) == ("/pb/api/docs/", "/pb/_/")
    assert data["records"] == "/pb/api/collections/{collection}/records"
    listed = [(route["method"], route["path"]) for route in data["routes"]]
    wanted = sorted((method, rule.rule) for rule in app.url_map.iter_rules()
                    if rule.rule.startswith(("/pb/api/wechat/", "/pb/api/system/"))
                    for method in rule.methods - {"HEAD", "OPTIONS"})
    assert sorted(listed) == wanted
    assert ("POST", "/pb/api/wechat/login") in listed and ("GET", "/pb/api/system/health") in listed
    # Sorted by path; the docs page's files and the index itself are not routes to call.
    assert [path for _, path in listed] == sorted(path for _, path in listed)
    assert not any(path.startswith("/pb/api/docs") or path == "/pb/api/" for _, path in listed)


def test_index_conforms_to_the_spec(client, conforms):
    conforms("ApiIndexResponse", client.get("/pb/api/").json)


@pytest.mark.slow
def test_pb_api_is_the_index_through_nginx_and_its_urls_work(stack):
    body = assert_envelope(requests.get(stack.base_url + "/pb/api/", timeout=10), 200)
    for key in ("docs", "dashboard"):
        page = requests.get(stack.base_url + body["data"][key], timeout=10)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html"), key
    records = body["data"]["records"].format(collection="tbl_document")
    assert requests.get(stack.base_url + records, timeout=10).status_code == 200
    # Every GET route answers a plain GET, but WeChat's push verification, which refuses an unsigned one.
    gets = {route["path"]: requests.get(stack.base_url + route["path"], timeout=10).status_code
            for route in body["data"]["routes"] if route["method"] == "GET"}
    assert gets == {"/pb/api/system/health": 200, "/pb/api/wechat/push": 401, "/pb/api/wechat/subscribe": 401}
    without_slash = requests.get(stack.base_url + "/pb/api", timeout=10, allow_redirects=False)
    assert without_slash.status_code == 301 and without_slash.headers["Location"] == "/pb/api/"


@pytest.mark.slow
def test_pb_slash_leads_to_the_dashboard(stack):
    redirect = requests.get(stack.base_url + "/pb/", timeout=10, allow_redirects=False)
    assert redirect.status_code == 302 and redirect.headers["Location"] == "/pb/_/"
    page = requests.get(stack.base_url + "/pb/", timeout=10)
    assert page.url == stack.base_url + "/pb/_/" and page.status_code == 200
