"""GET /pb/api/docs: the Swagger UI page, its assets allow-list, the contract as YAML and JSON, cache headers.

Unit level (Flask's test client, no PocketBase: the docs routes never call it), and the dev-mode page in
headless Chromium. The page through nginx and its rendering in a real browser are in tests/test_stack.py.
"""
from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser

import pytest
import yaml

from sidecar import create_app
from sidecar.config import Config
from sidecar.errors import NotFound
from sidecar.routes import docs
from tests.helpers import chromium_page

DOCS = "/pb/api/docs"
SPEC_BYTES = docs.SPEC_PATH.read_bytes()


@pytest.fixture(scope="module")
def client():
    return create_app(Config(PB_SUPERUSER_EMAIL="unused@example.test", PB_SUPERUSER_PASSWORD="unused",
                             WECHAT_APPID="wx-unused", WECHAT_SECRET="unused")).test_client()


class _Urls(HTMLParser):
    """Every href/src of a page."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("href", "src") and value]


def page_urls(html: str) -> list[str]:
    parser = _Urls()
    parser.feed(html)
    return parser.urls


def test_docs_without_slash_redirects_relatively(client):
    response = client.get(DOCS)
    assert response.status_code == 301 and response.headers["Location"] == "docs/"


def test_page_is_swagger_ui_with_relative_urls_only(client):
    response = client.get(DOCS + "/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    urls = page_urls(html)
    assert {url.split("?")[0] for url in urls} >= {"swagger-ui.css", "swagger-ui-bundle.js",
                                                    "swagger-ui-standalone-preset.js", "openapi.yaml"}
    # Relative: no scheme, no host, no leading slash, so nginx's /pb prefix and any host name work.
    assert all(not re.match(r"^(/|[a-z]+:)", url) for url in urls), urls
    assert not re.search(r"[a-z]+://|[\"']//", html), "an absolute URL in the page"
    # The page renders the contract unchanged (Swagger UI 5 reads OpenAPI 3.1).
    assert 'fetch("openapi.json")' in html and "openapi-ui.json" not in html


def test_page_asset_urls_carry_the_swagger_ui_version(client):
    """A browser's cached Swagger UI of another version is never paired with this page."""
    html = client.get(DOCS + "/").get_data(as_text=True)
    assets = [url for url in page_urls(html) if url.split("?")[0] in docs.SWAGGER_UI_ASSETS]
    assert len(assets) == 4 and all(url.endswith("?v=" + docs.ASSET_VERSION) for url in assets)
    assert re.fullmatch(r"swagger-ui-5\.\d+\.\d+", docs.ASSET_VERSION)


def test_page_puts_this_origin_first_in_the_server_list(client):
    """Try it out goes to the stack that served the page; the contract's servers (production) follow."""
    script = client.get(DOCS + "/").get_data(as_text=True).split("<script>")[1]
    assert re.search(r"spec\.servers = \[\{ url: here,[^\]]*\}, \.\.\.others\]", script)
    assert "const here = window.location.origin;" in script


@pytest.mark.parametrize("name", sorted(docs.SWAGGER_UI_ASSETS))
def test_every_allowed_asset_is_served_from_the_bundle_with_a_day_of_cache(client, name):
    response = client.get(f"{DOCS}/{name}?v={docs.ASSET_VERSION}")
    assert response.status_code == 200
    assert response.get_data() == (docs.SWAGGER_UI_DIR / name).read_bytes()
    assert f"max-age={docs.ASSET_MAX_AGE}" in response.headers["Cache-Control"]
    response.close()


@pytest.mark.parametrize("path", [
    "index.html",            # in the bundle's folder, not on the list
    "swagger-ui.js",         # idem
    "swagger-ui-bundle.js.map",
    "oauth2-redirect.html",
    "openapi-ui.json",       # the Swagger UI 4 era 3.0 copy is gone
    "../__init__.py",
    "..%2f__init__.py",
    "%2e%2e/%2e%2e/sidecar/config.py",
    "static/../swagger-ui.css",
])
def test_anything_off_the_asset_list_is_a_404_envelope(client, path):
    response = client.get(f"{DOCS}/{path}")
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert response.json["code"] == 404 and response.json["msg"] and response.json["data"] == {}


@pytest.mark.parametrize("filename", ["../__init__.py", "../../sidecar/config.py", "/etc/passwd",
                                      "./swagger-ui.css", "vendor/../swagger-ui.css"])
def test_the_asset_view_refuses_traversal_whatever_the_url_normalization(client, filename):
    """The view itself, not only the URL router, refuses a file name off the list."""
    with client.application.test_request_context(f"{DOCS}/x"):
        with pytest.raises(NotFound):
            docs.asset(filename)


def test_the_bundle_folder_holds_files_off_the_list(client):
    """The allow-list is not vacuous: the package ships files the page must not expose."""
    shipped = {path.name for path in docs.SWAGGER_UI_DIR.iterdir() if path.is_file()}
    assert docs.SWAGGER_UI_ASSETS <= shipped and shipped - docs.SWAGGER_UI_ASSETS


def test_openapi_yaml_is_the_contract_byte_for_byte(client):
    response = client.get(DOCS + "/openapi.yaml")
    assert response.status_code == 200 and response.mimetype == "application/yaml"
    assert response.get_data() == SPEC_BYTES


def test_openapi_json_is_the_contract_unchanged_in_its_order(client):
    response = client.get(DOCS + "/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    served, contract = json.loads(response.get_data()), yaml.safe_load(SPEC_BYTES)
    assert served == contract and served["openapi"].startswith("3.1.")
    # Key order is the contract's: Swagger UI lists operations and properties in document order.
    assert list(served["paths"]) == list(contract["paths"])
    assert json.dumps(served, ensure_ascii=False) == json.dumps(contract, ensure_ascii=False)


def test_the_contract_servers_stay_in_their_order_production_first(client):
    """The page adds this origin in front; the served contract itself is not rewritten."""
    servers = client.get(DOCS + "/openapi.json").json["servers"]
    assert servers == yaml.safe_load(SPEC_BYTES)["servers"]
    assert servers[0]["url"] == "https://bai-api.blv-oa.com"


def test_the_contract_lists_no_server_that_lacks_the_pb_paths():
    """PocketBase on its own port (8090) serves none of the /pb/... paths: Try it out there would answer 404."""
    servers = yaml.safe_load(SPEC_BYTES)["servers"]
    assert [server["url"] for server in servers] == ["https://bai-api.blv-oa.com"]


@pytest.mark.parametrize("path", ["/", "/openapi.yaml", "/openapi.json"])
def test_page_and_contract_are_revalidated_on_every_visit(client, path):
    assert client.get(DOCS + path).headers["Cache-Control"] == "no-cache"


def test_spec_cache_reads_the_file_again_when_it_changes(tmp_path):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("openapi: 3.1.0\ninfo: {title: a}\n")
    cache = docs._SpecCache(spec_file)
    assert json.loads(cache.as_json())["info"]["title"] == "a"
    spec_file.write_text("openapi: 3.1.0\ninfo: {title: 乙}\n")
    os.utime(spec_file, ns=(1, 1))  # a different mtime even within the filesystem's resolution
    assert json.loads(cache.as_json())["info"]["title"] == "乙"
    assert cache.raw() == spec_file.read_bytes()


# -- dev mode: the WeChat dev stub's examples and note ------------------------------------------------------


@pytest.fixture(scope="module")
def dev_client():
    return create_app(Config(PB_SUPERUSER_EMAIL="unused@example.test", PB_SUPERUSER_PASSWORD="unused",
                             WECHAT_APPID="dev-appid", WECHAT_SECRET="dev-secret",
                             WECHAT_DEV_STUB=True)).test_client()


def page_dev_stub(client) -> dict | None:
    """The page's devStub object (None in live mode)."""
    script = client.get(DOCS + "/").get_data(as_text=True)
    return json.loads(re.search(r"const devStub = (.*);\n", script).group(1))


def test_live_page_carries_no_dev_examples(client):
    assert page_dev_stub(client) is None


def test_dev_page_carries_the_stub_examples_and_note(dev_client):
    assert page_dev_stub(dev_client) == {"examples": docs.DEV_EXAMPLES, "note": docs.DEV_NOTE}
    # The contract itself is served unchanged in dev mode too.
    assert dev_client.get(DOCS + "/openapi.yaml").get_data() == SPEC_BYTES


def test_dev_examples_are_request_bodies_of_the_contract():
    spec = yaml.safe_load(SPEC_BYTES)
    for path, example in docs.DEV_EXAMPLES.items():
        ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        properties = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
        assert set(example) <= set(properties), path


def test_dev_examples_are_codes_the_stub_accepts():
    from ops.wechat_stub.answers import WeChatAnswers
    stub = WeChatAnswers()
    login_codes = [example["users_wx_code"] for example in docs.DEV_EXAMPLES.values() if "users_wx_code" in example]
    assert len(login_codes) == 2
    for code in login_codes:
        answer = stub.jscode2session({"appid": stub.appid, "secret": stub.secret, "js_code": code,
                                      "grant_type": "authorization_code"})
        assert answer.get("openid", "").startswith("dev-openid-"), (code, answer)
    token = stub.stable_token({"grant_type": "client_credential", "appid": stub.appid,
                               "secret": stub.secret})["access_token"]
    phone_code = docs.DEV_EXAMPLES["/pb/api/wechat/profile"]["users_phone_code"]
    answer = stub.get_phone_number({"access_token": token}, {"code": phone_code})
    assert answer["errcode"] == 0 and answer["phone_info"]["purePhoneNumber"] == "13800138000"
    # The contract's own example is one the stub refuses: the reason the page swaps them.
    spec = yaml.safe_load(SPEC_BYTES)
    contract_code = spec["components"]["schemas"]["WechatProfileRequest"]["properties"]["users_phone_code"]["example"]
    assert stub.get_phone_number({"access_token": token}, {"code": contract_code})["errcode"] == 40029


def test_dev_note_names_every_code_rule_of_the_stub():
    from ops.wechat_stub import answers
    prefixes = [re.match(r"\^(\w+)", rule.pattern).group(1)
                for rule in (answers.FAIL_CODE, answers.SLOW_CODE, answers.PHONE_CODE, answers.HTTP500_CODE,
                             answers.GARBAGE_CODE)]
    assert prefixes == ["fail", "slow", "phone", "http500", "garbage"]
    for prefix in prefixes:
        assert f"`{prefix}" in docs.DEV_NOTE, prefix
    assert "dev-openid-NAME" in docs.DEV_NOTE and "dev-openid-devtools" in docs.DEV_NOTE
    assert "docs/operations.md" in docs.DEV_NOTE


@pytest.mark.slow
def test_dev_page_shows_the_stub_examples_and_note_in_headless_chromium(stack):
    """The session stack runs the dev stub: the profile operation's example is the stub's, the note is on top."""
    dom, console = chromium_page(stack.base_url + "/pb/api/docs/#/%E5%BE%AE%E4%BF%A1%E8%AE%A4%E8%AF%81/postWechatProfile")
    assert console == []
    assert "开发模式" in dom and "dev-openid-NAME" in dom and "fail-40029" in dom
    opened = dom.split('id="operations-微信认证-postWechatProfile"')[1].split('class="opblock ')[0]
    assert "phone-13800138000" in opened
    contract_code = yaml.safe_load(SPEC_BYTES)["components"]["schemas"]["WechatProfileRequest"]["properties"][
        "users_phone_code"]["example"]
    assert contract_code not in opened
