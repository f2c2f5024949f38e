"""Fixtures: a real PocketBase on a free port in a temp dir, and helpers to talk to it."""
from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import jsonschema
import pytest
import requests
import responses
import yaml

from ops.pbserver import PocketBaseServer
from ops.processes import ManagedProcess
from sidecar import create_app
from sidecar.config import Config
from tests.helpers import PB

ROOT = Path(__file__).resolve().parent.parent
SHARED_SPEC = ROOT.parent / "shared" / "spec" / "openapi-wx.yaml"
PROJECT_SPEC = ROOT / "spec" / "openapi-wx.yaml"

SUPERUSER_EMAIL = "root@example.com"
SUPERUSER_PASSWORD = "Test-superuser-" + secrets.token_hex(8)

pytest_plugins = ["tests.stack_fixtures"]


@pytest.fixture(scope="session")
def pocketbase(tmp_path_factory) -> PocketBaseServer:
    """One PocketBase for the session, with the project's migrations and hooks."""
    base = tmp_path_factory.mktemp("pocketbase")
    server = PocketBaseServer(base / "pb_data", SUPERUSER_EMAIL, SUPERUSER_PASSWORD, log_path=base / "pocketbase.log")
    _shared_pocketbase_starting.append(True)
    try:
        server.start()
    finally:
        _shared_pocketbase_starting.clear()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pb(pocketbase) -> PB:
    return PB(pocketbase)


@pytest.fixture
def unique() -> str:
    """A short random token for names that must not collide across tests."""
    return secrets.token_hex(4)


@pytest.fixture(scope="session")
def spec() -> dict:
    """The project's OpenAPI document."""
    return yaml.safe_load(PROJECT_SPEC.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def conforms(spec):
    """conforms(schema_name, body): raise unless body validates against the spec's components schema."""
    def check(schema_name: str, body) -> None:
        schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
        jsonschema.Draft202012Validator(schema).validate(body)
    return check


WECHAT_BASE = "https://wechat.test"
APP_SECRET = "test-app-secret-" + secrets.token_hex(6)


class FakeWeChat:
    """WeChat's server API at the HTTP boundary (responses): code NAME or NAME.x -> openid oid-NAME."""

    SESSION_KEY = "fake-session-key-" + secrets.token_hex(6)

    def __init__(self, mock: responses.RequestsMock):
        self.mock = mock
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1:\d+/"))  # the real PocketBase
        self.errors: dict[str, int] = {}
        # jscode2session: code -> the whole answer WeChat gives (instead of oid-NAME).
        self.sessions: dict[str, dict] = {}
        self.phones: dict[str, str | tuple] = {}
        # msg_sec_check: content -> suggest (default pass); content in errors -> that errcode, in timeouts -> a
        # read timeout.
        self.verdicts: dict[str, str] = {}
        self.timeouts: set[str] = set()
        # media_check_async: the errcode every submission gets (0: accepted, with a trace id).
        self.media_errcode = 0
        self.calls: list[str] = []
        self.phone_openids: list[str] = []  # the openid each getuserphonenumber call named ("" for none)
        mock.add_callback(responses.GET, f"{WECHAT_BASE}/sns/jscode2session", callback=self._session)
        mock.add_callback(responses.POST, f"{WECHAT_BASE}/cgi-bin/stable_token", callback=self._token)
        mock.add_callback(responses.POST, re.compile(re.escape(WECHAT_BASE) + r"/wxa/business/getuserphonenumber.*"),
                          callback=self._phone)
        mock.add_callback(responses.POST, re.compile(re.escape(WECHAT_BASE) + r"/wxa/msg_sec_check.*"),
                          callback=self._text)
        mock.add_callback(responses.POST, re.compile(re.escape(WECHAT_BASE) + r"/wxa/media_check_async.*"),
                          callback=self._media)

    def _session(self, request):
        code = parse_qs(urlparse(request.url).query)["js_code"][0]
        self.calls.append(f"jscode2session:{code}")
        if code in self.errors:
            return 200, {}, json.dumps({"errcode": self.errors[code], "errmsg": "fake"})
        if code in self.sessions:
            return 200, {}, json.dumps(self.sessions[code])
        name = code.split(".")[0]
        return 200, {}, json.dumps({"openid": f"oid-{name}", "session_key": self.SESSION_KEY,
                                    "unionid": f"uid-{name}"})

    def _token(self, request):
        self.calls.append("stable_token")
        return 200, {}, json.dumps({"access_token": "fake-access-token", "expires_in": 7200})

    def _phone(self, request):
        body = json.loads(request.body)
        code = body["code"]
        self.calls.append(f"phone:{code}")
        self.phone_openids.append(body.get("openid", ""))
        if code in self.errors:
            return 200, {}, json.dumps({"errcode": self.errors[code], "errmsg": "fake"})
        if code not in self.phones:
            return 200, {}, json.dumps({"errcode": 40029, "errmsg": "invalid code"})
        phone = self.phones[code]  # "<purePhoneNumber>" (no countryCode, as older answers) or (countryCode, pure)
        info = {"countryCode": phone[0], "purePhoneNumber": phone[1]} if isinstance(phone, tuple) else \
            {"purePhoneNumber": phone}
        return 200, {}, json.dumps({"errcode": 0, "phone_info": info})

    def _text(self, request):
        body = json.loads(request.body)
        self.calls.append(f"msg_sec_check:{body['content']}")
        if body["content"] in self.timeouts:
            return requests.Timeout("read timed out")
        if body["content"] in self.errors:
            return 200, {}, json.dumps({"errcode": self.errors[body["content"]], "errmsg": "fake"})
        suggest = self.verdicts.get(body["content"], "pass")
        return 200, {}, json.dumps({"errcode": 0, "errmsg": "ok", "trace_id": "fake-trace",
                                    "result": {"suggest": suggest, "label": 100 if suggest == "pass" else 20001}})

    def _media(self, request):
        body = json.loads(request.body)
        self.calls.append(f"media_check_async:{body['media_url']}")
        if self.media_errcode:
            return 200, {}, json.dumps({"errcode": self.media_errcode, "errmsg": "fake"})
        return 200, {}, json.dumps({"errcode": 0, "errmsg": "ok", "trace_id": f"fake-trace-{len(self.calls)}"})


@pytest.fixture
def wechat():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeWeChat(mock)


@pytest.fixture(scope="session")
def sidecar_config(pocketbase) -> Config:
    return Config(PB_URL=pocketbase.url, PB_SUPERUSER_EMAIL=SUPERUSER_EMAIL, PB_SUPERUSER_PASSWORD=SUPERUSER_PASSWORD,
                  WECHAT_APPID="wx-test-app", WECHAT_SECRET=APP_SECRET, WECHAT_API_BASE=WECHAT_BASE,
                  PUBLIC_BASE_URL="https://api.example.test")


@pytest.fixture(scope="session")
def app(sidecar_config):
    return create_app(sidecar_config)


@pytest.fixture
def client(app, wechat):
    """A test client of the sidecar; PocketBase is real, WeChat is faked."""
    return app.test_client()


@pytest.fixture
def login(client, unique):
    """login(name=None) -> (token, user) of a WeChat user logged in through the route."""
    def do(name: str | None = None):
        response = client.post("/pb/api/wechat/login", json={"users_wx_code": name or f"user-{unique}"})
        assert response.status_code == 200, response.json
        return response.json["token"], response.json["data"]["user"]
    return do


# -- the fast lane (make test-fast: pytest --fast) ---------------------------------------------------------
# The unit and in-process tests and the session's one PocketBase: a test that uses a whole stack (the
# fixtures below, even through another fixture such as stack_pb) is marked `slow` here, and --fast leaves
# every `slow` test out; one that starts any other process of its own (ManagedProcess: a PocketBase, gunicorn,
# nginx, a stack of a module's own, moto, Litestream) is skipped by --fast when it starts it. `make test`
# runs them all.
STACK_FIXTURES = {"stack", "make_stack"}
_shared_pocketbase_starting: list[bool] = []  # non-empty while the `pocketbase` fixture starts the shared one


def pytest_addoption(parser):
    parser.addoption("--fast", action="store_true",
                     help="the edit-test loop: leave out `slow` tests and skip a test when it starts a process "
                          "other than the session's PocketBase (make test-fast)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    if config.getoption("--fast"):
        slow = [item for item in items if item.get_closest_marker("slow")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture(scope="session", autouse=True)
def fast_lane_starts_no_process(request):
    """Under --fast, starting a process other than the shared PocketBase skips the test (make test runs it)."""
    if not request.config.getoption("--fast"):
        yield
        return
    real_start = ManagedProcess.start

    def start(self, *args, **kwargs):
        if not _shared_pocketbase_starting:
            pytest.skip(f"starts a process of its own ({self.name}): make test runs it")
        return real_start(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ManagedProcess, "start", start)
        yield
