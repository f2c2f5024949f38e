"""The WeChat dev stub (ops/wechat_stub/): code conventions, credentials, token expiry, stats, logging."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from ops.processes import ROOT, free_port
from ops.wechat_stub import WeChatStub, codes

APPID, SECRET, SESSION_KEY = "wx-test-appid", "wx-test-secret-123", "c2Vzc2lvbi1rZXktMTIzNA=="


@pytest.fixture()
def stub():
    """An in-process stub on a free port."""
    stub = WeChatStub(appid=APPID, secret=SECRET, session_key=SESSION_KEY).start()
    yield stub
    stub.stop()


def login(stub: WeChatStub, code: str, appid: str = APPID, secret: str = SECRET, timeout: float = 10):
    return requests.get(stub.url + "/sns/jscode2session", timeout=timeout, params={
        "appid": appid, "secret": secret, "js_code": code, "grant_type": "authorization_code"})


def token(stub: WeChatStub, force_refresh: bool = False, **overrides) -> requests.Response:
    body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": force_refresh}
    body.update(overrides)
    return requests.post(stub.url + "/cgi-bin/stable_token", json=body, timeout=10)


def phone(stub: WeChatStub, code: str, access_token: str | None = None) -> requests.Response:
    access_token = access_token or token(stub).json()["access_token"]
    return requests.post(stub.url + "/wxa/business/getuserphonenumber", params={"access_token": access_token},
                         json={"code": code, "openid": "dev-openid-alice"}, timeout=10)


def test_login_code_name_gives_stable_openid_and_unionid(stub):
    first, second = login(stub, "alice.1").json(), login(stub, "alice.2").json()
    assert first == second == {"openid": "dev-openid-alice", "session_key": SESSION_KEY,
                               "unionid": "dev-unionid-alice"}
    assert login(stub, "bob").json()["openid"] == "dev-openid-bob"


@pytest.mark.parametrize("code", [
    "0c3Xk8000ZnVnR1ZxJ200rB2Ko2Xk80N",  # the form of a real wx.login code: 32 letters and digits
    "0c3Xk8000ZnVnR1ZxJ200rB2Ko2Xk80N.2", "张三", "a b", "x" * 32, "a+b/c=",
])
def test_a_code_the_stub_does_not_know_is_the_one_devtools_user(stub, code):
    """WeChat's developer tools send real, single-use codes: each logs in as the same dev user, not a new one."""
    body = login(stub, code).json()
    assert (body["openid"], body["unionid"]) == ("dev-openid-devtools", "dev-unionid-devtools")


@pytest.mark.parametrize("code, name", [("alice", "alice"), ("x" * 31, "x" * 31), ("A_b-9.7", "A_b-9")])
def test_a_name_of_31_letters_digits_underscores_or_hyphens_is_its_own_user(stub, code, name):
    assert login(stub, code).json()["openid"] == f"dev-openid-{name}"


def test_session_key_is_per_user_and_deterministic_without_override():
    with WeChatStub() as stub:
        alice, bob = login(stub, "alice", "dev-appid", "dev-secret").json(), login(stub, "bob", "dev-appid", "dev-secret").json()
    with WeChatStub() as again:
        alice_again = login(again, "alice.x", "dev-appid", "dev-secret").json()
    assert alice["session_key"] != bob["session_key"]
    assert alice["session_key"] == alice_again["session_key"]


@pytest.mark.parametrize("appid,secret,errcode", [("wrong", SECRET, 40013), (APPID, "wrong", 40125)])
def test_wrong_credentials_are_rejected_like_wechat(stub, appid, secret, errcode):
    body = login(stub, "alice", appid=appid, secret=secret).json()
    assert body["errcode"] == errcode and body["errmsg"]
    assert "openid" not in body
    assert token(stub, appid=appid, secret=secret).json()["errcode"] == errcode


@pytest.mark.parametrize("code,errcode", [
    ("fail-40029", 40029), ("fail-40163", 40163), ("fail-40226", 40226), ("fail-45011", 45011),
    ("fail--1", -1), ("fail-40029.again", 40029),
])
def test_fail_codes_answer_the_errcode_for_login_and_phone(stub, code, errcode):
    for response in (login(stub, code), phone(stub, code)):
        assert response.status_code == 200
        body = response.json()
        assert body["errcode"] == errcode and isinstance(body["errmsg"], str) and body["errmsg"]


def test_slow_codes_sleep_then_answer_as_the_rest(stub):
    started = time.monotonic()
    body = login(stub, "slow-0.3.carol").json()
    assert time.monotonic() - started >= 0.3
    assert body["openid"] == "dev-openid-carol"
    assert login(stub, "slow-0.1").json()["openid"] == "dev-openid-slow"
    assert login(stub, "slow-0.1.fail-40163").json()["errcode"] == 40163
    started = time.monotonic()
    assert phone(stub, "slow-0.2.phone-13900001111").json()["phone_info"]["purePhoneNumber"] == "13900001111"
    assert time.monotonic() - started >= 0.2


def test_slow_code_beyond_the_client_timeout_times_out(stub):
    with pytest.raises(requests.Timeout):
        login(stub, "slow-2.dave", timeout=0.3)


def test_http500_and_garbage_codes(stub):
    for response in (login(stub, "http500.1"), phone(stub, "http500")):
        assert response.status_code == 500
        assert response.headers["Content-Type"].startswith("text/html")
    for response in (login(stub, "garbage"), phone(stub, "garbage.2")):
        assert response.status_code == 200
        with pytest.raises(ValueError):
            response.json()


def test_phone_code_gives_the_number_and_other_codes_are_invalid(stub):
    body = phone(stub, "phone-13800138000.7").json()
    assert body["errcode"] == 0 and body["errmsg"] == "ok"
    info = body["phone_info"]
    assert info["purePhoneNumber"] == "13800138000"
    assert info["phoneNumber"] == "+86 13800138000"
    assert info["countryCode"] == "86"
    assert info["watermark"]["appid"] == APPID
    assert phone(stub, "alice").json()["errcode"] == 40029
    assert phone(stub, "phone-12ab").json()["errcode"] == 40029
    assert phone(stub, "phone-0852-51234567").json()["errcode"] == 40029


@pytest.mark.parametrize("code, country, pure", [
    ("phone-852-51234567", "852", "51234567"),
    ("phone-1-6502530000.3", "1", "6502530000"),
    ("phone-86-13800138000", "86", "13800138000"),
])
def test_phone_code_may_name_a_country(stub, code, country, pure):
    info = phone(stub, code).json()["phone_info"]
    assert (info["countryCode"], info["purePhoneNumber"], info["phoneNumber"]) == (country, pure, f"+{country} {pure}")


def test_stable_token_is_reused_until_forced_or_expired(stub):
    first = token(stub).json()
    assert first == {"access_token": "stub-token-1", "expires_in": 7200}
    assert token(stub).json()["access_token"] == "stub-token-1"
    forced = token(stub, force_refresh=True).json()["access_token"]
    assert forced == "stub-token-2"
    # The replaced token is no longer valid, the new one is.
    assert phone(stub, "phone-13800138000", access_token="stub-token-1").json()["errcode"] == 40001
    assert phone(stub, "phone-13800138000", access_token=forced).json()["errcode"] == 0


def test_expire_token_over_http_invalidates_the_current_token(stub):
    current = token(stub).json()["access_token"]
    assert requests.post(stub.url + "/__stub/expire-token", timeout=5).status_code == 200
    rejected = phone(stub, "phone-13800138000", access_token=current).json()
    assert rejected == {"errcode": 40001, "errmsg": rejected["errmsg"]}
    renewed = token(stub).json()["access_token"]
    assert renewed != current
    assert phone(stub, "phone-13800138000", access_token=renewed).json()["errcode"] == 0


def test_expire_token_in_process(stub):
    current = token(stub).json()["access_token"]
    stub.expire_token()
    assert phone(stub, "phone-13800138000", access_token=current).json()["errcode"] == 40001


def test_phone_without_token_or_code(stub):
    response = requests.post(stub.url + "/wxa/business/getuserphonenumber", json={"code": "phone-1"}, timeout=5)
    assert response.json()["errcode"] == 41001
    valid = token(stub).json()["access_token"]
    response = requests.post(stub.url + "/wxa/business/getuserphonenumber", params={"access_token": valid},
                             json={"openid": "x"}, timeout=5)
    assert response.json()["errcode"] == 47001


def test_stats_count_calls_per_endpoint_and_reset_clears_them(stub):
    login(stub, "alice")
    login(stub, "fail-40029")
    phone(stub, "phone-13800138000")  # one stable_token + one getuserphonenumber
    stats = requests.get(stub.url + "/__stub/stats", timeout=5).json()
    assert stats["calls"] == {"/sns/jscode2session": 2, "/cgi-bin/stable_token": 1,
                              "/wxa/business/getuserphonenumber": 1, "/wxa/msg_sec_check": 0,
                              "/wxa/media_check_async": 0, "/cgi-bin/message/subscribe/send": 0,
                              "/wxa/getwxacodeunlimit": 0}
    assert stats == stub.stats()
    assert requests.post(stub.url + "/__stub/reset", timeout=5).status_code == 200
    assert set(stub.stats()["calls"].values()) == {0}
    assert token(stub).json()["access_token"] == "stub-token-1"
    stub.reset()
    assert stub.stats()["calls"]["/cgi-bin/stable_token"] == 0


def test_reused_keepalive_connection_answers_without_a_delayed_ack_stall(stub):
    # A response written in two TCP segments waits ~40 ms for the client's delayed ACK on a reused
    # connection; that made every dev login look 40 ms slower than it is.
    session = requests.Session()
    params = {"appid": APPID, "secret": SECRET, "js_code": "alice", "grant_type": "authorization_code"}
    session.get(stub.url + "/sns/jscode2session", params=params, timeout=5)
    durations = []
    for _ in range(15):
        started = time.perf_counter()
        assert session.get(stub.url + "/sns/jscode2session", params=params, timeout=5).status_code == 200
        durations.append(time.perf_counter() - started)
    assert sorted(durations)[len(durations) // 2] < 0.02, durations


def test_unknown_path_is_404(stub):
    assert requests.get(stub.url + "/cgi-bin/nope", timeout=5).status_code == 404


def test_logs_never_contain_secret_or_session_key(stub, caplog):
    with caplog.at_level(logging.INFO, logger="ops.wechat_stub"):
        login(stub, "alice")
        phone(stub, "phone-13800138000")
    text = caplog.text
    assert "/sns/jscode2session" in text
    assert SECRET not in text and SESSION_KEY not in text and "stub-token" not in text


def test_runs_as_a_process_and_stops_on_sigterm(tmp_path):
    port = free_port()
    log_path = tmp_path / "stub.log"
    env = dict(os.environ, WECHAT_STUB_SESSION_KEY=SESSION_KEY)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ops.wechat_stub", "--port", str(port), "--appid", APPID, "--secret", SECRET],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                requests.get(url + "/__stub/stats", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and process.poll() is None, log_path.read_text()
                time.sleep(0.05)
        body = requests.get(url + "/sns/jscode2session", timeout=5, params={
            "appid": APPID, "secret": SECRET, "js_code": "erin.9", "grant_type": "authorization_code"}).json()
        assert body == {"openid": "dev-openid-erin", "session_key": SESSION_KEY, "unionid": "dev-unionid-erin"}
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=10)
    assert returncode == 0
    logged = log_path.read_text()
    assert "GET /sns/jscode2session 200" in logged
    assert SECRET not in logged and SESSION_KEY not in logged


def test_stats_count_the_requests_being_answered_until_a_slow_codes_answer_is_sent(stub):
    slow = threading.Thread(target=login, args=(stub, "slow-0.5.bob"))
    slow.start()
    deadline = time.monotonic() + 30
    while stub.stats()["answering"] == 0 and slow.is_alive():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert requests.get(stub.url + "/__stub/stats", timeout=5).json()["answering"] == 1  # the stats call: not counted
    slow.join(30)
    # The count drops when the stub's handler returns, just after the answer reached the client: poll for it.
    deadline = time.monotonic() + 10
    while stub.stats()["answering"] != 0:
        assert time.monotonic() < deadline, stub.stats()
        time.sleep(0.01)


# -- the code conventions, written once (ops/wechat_stub/codes.py) ------------------------------------------------


def holds(answer, expected) -> bool:
    """answer holds every item of expected (nested dicts: their items)."""
    if isinstance(expected, dict):
        return isinstance(answer, dict) and all(k in answer and holds(answer[k], v) for k, v in expected.items())
    return answer == expected


@pytest.mark.parametrize("endpoint, code, expected",
                         [example for rule in codes.CODE_RULES for example in rule.examples],
                         ids=lambda value: value if isinstance(value, str) else None)
def test_each_code_rule_answers_as_its_examples_say(stub, endpoint, code, expected):
    response = login(stub, code) if endpoint == "login" else phone(stub, code)
    if isinstance(expected, int):   # an answer that is not JSON
        assert response.status_code == expected
        with pytest.raises(ValueError):
            response.json()
    else:
        assert response.status_code == 200 and holds(response.json(), expected), response.text


def test_every_code_rule_has_examples_and_the_generated_documents_are_current():
    from ops import settings_docs
    assert all(rule.examples and rule.note and rule.answer for rule in codes.CODE_RULES)
    assert settings_docs.stale_stub_code_documents() == [], "run `make docs` (ops/wechat_stub/codes.py)"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert codes.readme_summary() in "\n".join(readme.splitlines()[:60])   # on the first screens


def test_docs_check_names_a_document_whose_stub_codes_are_stale(tmp_path, monkeypatch):
    from ops import settings_docs
    page = tmp_path / "operations.md"
    page.write_text(f"{codes.MARKDOWN_BEGIN}\n| code | answer |\n{codes.MARKDOWN_END}\n")
    monkeypatch.setattr(settings_docs, "ROOT", tmp_path)
    monkeypatch.setattr(settings_docs, "STUB_CODE_BLOCKS", {page: codes.operations_table})
    assert settings_docs.stale_stub_code_documents() == ["operations.md"]
    page.write_text(settings_docs.with_stub_codes(page, page.read_text()))
    assert settings_docs.stale_stub_code_documents() == []
