"""Unit tests of sidecar.wechat, faking WeChat at the HTTP boundary with `responses`."""
from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from sidecar.errors import wechat_answer
from sidecar.wechat import (WeChatClient, WeChatCodeMissing, WeChatCodeRejected, WeChatError, WeChatRateLimited,
                            WeChatSession, WeChatUnavailable)

BASE = "https://wx.test"
APPID = "wx-test-appid"
SECRET = "APP-SECRET-9f8e7d6c5b4a"
JS_CODE = "JS-CODE-0a1b2c3d4e"
PHONE_CODE = "PHONE-CODE-5f6a7b8c"
OPENID = "o-openid-123"
UNIONID = "u-unionid-456"
SESSION_KEY = "SESSION-KEY-tUtU+QQ=="
TOKEN_1 = "ACCESS-TOKEN-ONE-111"
TOKEN_2 = "ACCESS-TOKEN-TWO-222"
PHONE = "13800138000"

JSCODE_URL = f"{BASE}/sns/jscode2session"
STABLE_URL = f"{BASE}/cgi-bin/stable_token"
PHONE_URL = f"{BASE}/wxa/business/getuserphonenumber"
OLD_TOKEN_URL = f"{BASE}/cgi-bin/token"

SESSION_OK = {"openid": OPENID, "session_key": SESSION_KEY, "unionid": UNIONID}
PHONE_OK = {"errcode": 0, "errmsg": "ok", "phone_info": {
    "phoneNumber": "+86" + PHONE, "purePhoneNumber": PHONE, "countryCode": "86"}}


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        # The legacy token endpoint invalidates other holders' tokens; the client must never touch it.
        old = [mock.add(method, OLD_TOKEN_URL, json={"access_token": "legacy", "expires_in": 7200})
               for method in (responses.GET, responses.POST)]
        yield mock
        assert sum(r.call_count for r in old) == 0, "cgi-bin/token must never be called"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def client(clock):
    return WeChatClient(APPID, SECRET, api_base=BASE, timeout=2.0, clock=clock)


def stable_token_ok(rsps, token=TOKEN_1, expires_in=7200):
    return rsps.add(responses.POST, STABLE_URL, json={"access_token": token, "expires_in": expires_in})


def query_of(request) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}


def query(call) -> dict:
    return query_of(call.request)


def raise_exc(func, *args):
    with pytest.raises(Exception) as info:
        func(*args)
    return info.value


# --- code_to_session ------------------------------------------------------------------------------


def test_code_to_session_success_sends_all_params(rsps, client):
    rsps.add(responses.GET, JSCODE_URL, json=SESSION_OK)

    session = client.code_to_session(JS_CODE)

    assert session == WeChatSession(openid=OPENID, unionid=UNIONID, session_key=SESSION_KEY)
    assert query(rsps.calls[0]) == {
        "appid": APPID, "secret": SECRET, "js_code": JS_CODE, "grant_type": "authorization_code"}
    assert rsps.calls[0].request.method == "GET"
    assert SESSION_KEY not in repr(session)


def test_code_to_session_without_unionid(rsps, client):
    # WeChat sends text/plain JSON here; the client must not depend on the content type.
    rsps.add(responses.GET, JSCODE_URL, body=json.dumps({"openid": OPENID, "session_key": SESSION_KEY}),
             content_type="text/plain")

    session = client.code_to_session(JS_CODE)

    assert (session.openid, session.unionid, session.session_key) == (OPENID, "", SESSION_KEY)


LOGIN_ERRCODES = [
    (40029, WeChatCodeRejected, 400, "微信登录 code 无效或已过期"),
    (40163, WeChatCodeRejected, 400, "微信登录 code 已被使用"),
    (40226, WeChatCodeRejected, 400, "该微信账号存在风险,暂无法登录"),
    (45011, WeChatRateLimited, 429, None),
    (-1, WeChatError, 502, "微信服务异常,请稍后再试"),
    (40125, WeChatError, 502, None),  # invalid app secret: our fault, not the user's
    (61024, WeChatError, 502, None),
]


@pytest.mark.parametrize("errcode, exc_type, status, msg", LOGIN_ERRCODES)
def test_code_to_session_errcode_mapping_and_no_retry(rsps, client, errcode, exc_type, status, msg):
    fake = rsps.add(responses.GET, JSCODE_URL, json={"errcode": errcode, "errmsg": "x, rid: 1"})

    exc = raise_exc(client.code_to_session, JS_CODE)

    assert type(exc) is exc_type
    assert (exc.endpoint, exc.errcode, exc.errmsg) == ("jscode2session", errcode, "x, rid: 1")
    assert wechat_answer(exc)[0] == status
    if msg:
        assert wechat_answer(exc)[1] == msg
    assert fake.call_count == 1, "a login code is single-use: never retry jscode2session"


TRANSPORT_FAILURES = [
    pytest.param({"status": 500, "json": {"errcode": 0}}, WeChatError, 502, id="http-500"),
    pytest.param({"status": 503, "body": "<html>busy</html>"}, WeChatError, 502, id="http-503"),
    pytest.param({"status": 200, "body": "<html>not json</html>"}, WeChatError, 502, id="garbage-body"),
    pytest.param({"status": 200, "json": ["a", "list"]}, WeChatError, 502, id="json-not-object"),
    pytest.param({"status": 200, "body": requests.exceptions.ConnectTimeout()}, WeChatUnavailable, 503,
                 id="connect-timeout"),
    pytest.param({"status": 200, "body": requests.exceptions.ReadTimeout()}, WeChatUnavailable, 503,
                 id="read-timeout"),
    pytest.param({"status": 200, "body": requests.exceptions.ConnectionError()}, WeChatUnavailable, 503,
                 id="connection-error"),
]


@pytest.mark.parametrize("fake, exc_type, status", TRANSPORT_FAILURES)
def test_code_to_session_transport_failures_and_no_retry(rsps, client, fake, exc_type, status):
    registered = rsps.add(responses.GET, JSCODE_URL, **fake)

    exc = raise_exc(client.code_to_session, JS_CODE)

    assert type(exc) is exc_type and wechat_answer(exc)[0] == status
    assert registered.call_count == 1, "never retry jscode2session, not even on timeout"


# Openids and unionids WeChat never writes (its are 28 characters of [0-9A-Za-z_-]): each a 502, never a user.
NOT_WECHAT_IDS = ["", "   ", " " + OPENID, OPENID + "\n", "o" * 129, "张三", "o-openid-1 ", "o/openid", "o\x00id",
                  "oid\u2028", None, 123, ["o"]]


@pytest.mark.parametrize("body", [
    {"session_key": SESSION_KEY},
    {"openid": OPENID},
    {"openid": "", "session_key": SESSION_KEY},
    {"openid": 123, "session_key": SESSION_KEY},
    {"errcode": "40029"},
    *({"openid": bad, "session_key": SESSION_KEY} for bad in NOT_WECHAT_IDS),
    *({"openid": OPENID, "unionid": bad, "session_key": SESSION_KEY} for bad in NOT_WECHAT_IDS if bad != ""),
    *({"openid": OPENID, "session_key": bad} for bad in ("", "   ", "a b", "k" * 129, 42)),
], ids=["no-openid", "no-session-key", "empty-openid", "openid-not-str", "errcode-not-int",
        *(f"openid-{i}" for i in range(len(NOT_WECHAT_IDS))),
        *(f"unionid-{i}" for i in range(len(NOT_WECHAT_IDS) - 1)),
        *(f"session-key-{i}" for i in range(5))])
def test_code_to_session_malformed_body_is_502(rsps, client, body):
    rsps.add(responses.GET, JSCODE_URL, json=body)

    exc = raise_exc(client.code_to_session, JS_CODE)

    assert type(exc) is WeChatError and wechat_answer(exc)[0] == 502


@pytest.mark.parametrize("code", ["", "   ", None])
def test_empty_codes_are_rejected_without_calling_wechat(rsps, client, code):
    assert type(raise_exc(client.code_to_session, code)) is WeChatCodeMissing
    assert type(raise_exc(client.phone_number, code, OPENID)) is WeChatCodeMissing
    assert len(rsps.calls) == 0


# --- phone_number ---------------------------------------------------------------------------------


def test_phone_number_success_and_request_shape(rsps, client):
    stable = stable_token_ok(rsps)
    phone = rsps.add(responses.POST, PHONE_URL, json=PHONE_OK)

    assert client.phone_number(PHONE_CODE, OPENID) == "+86" + PHONE

    assert stable.call_count == 1 and phone.call_count == 1
    token_call, phone_call = rsps.calls[0], rsps.calls[1]
    assert json.loads(token_call.request.body) == {
        "grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": False}
    assert query(phone_call) == {"access_token": TOKEN_1}
    assert json.loads(phone_call.request.body) == {"code": PHONE_CODE, "openid": OPENID}


def test_phone_number_without_openid_sends_the_code_only(rsps, client):
    stable_token_ok(rsps)
    phone = rsps.add(responses.POST, PHONE_URL, json=PHONE_OK)
    assert client.phone_number(PHONE_CODE) == "+86" + PHONE
    assert json.loads(phone.calls[0].request.body) == {"code": PHONE_CODE}


def test_every_call_has_a_timeout(rsps, client):
    rsps.add(responses.GET, JSCODE_URL, json=SESSION_OK)
    stable_token_ok(rsps)
    rsps.add(responses.POST, PHONE_URL, json=PHONE_OK)

    client.code_to_session(JS_CODE)
    client.phone_number(PHONE_CODE, OPENID)

    assert len(rsps.calls) == 3
    for call in rsps.calls:
        timeout = call.request.req_kwargs["timeout"]
        assert timeout is not None
        assert all(t is not None and 0 < t <= 2.0 for t in (timeout if isinstance(timeout, tuple) else [timeout]))


PHONE_ERRCODES = [
    (40029, WeChatCodeRejected, 400, "手机号授权 code 无效或已过期"),
    (40163, WeChatCodeRejected, 400, "手机号授权 code 无效或已过期"),
    (41001, WeChatCodeRejected, 400, "手机号授权 code 无效或已过期"),
    (40226, WeChatCodeRejected, 400, None),
    (45011, WeChatRateLimited, 429, None),
    (-1, WeChatError, 502, "微信服务异常,请稍后再试"),
    (50001, WeChatError, 502, None),
]


@pytest.mark.parametrize("errcode, exc_type, status, msg", PHONE_ERRCODES)
def test_phone_number_errcode_mapping(rsps, client, errcode, exc_type, status, msg):
    stable = stable_token_ok(rsps)
    phone = rsps.add(responses.POST, PHONE_URL, json={"errcode": errcode, "errmsg": "x"})

    exc = raise_exc(client.phone_number, PHONE_CODE, OPENID)

    assert type(exc) is exc_type and (exc.endpoint, exc.errcode) == ("getuserphonenumber", errcode)
    assert wechat_answer(exc)[0] == status
    if msg:
        assert wechat_answer(exc)[1] == msg
    assert (stable.call_count, phone.call_count) == (1, 1), "only token errors are retried"


PHONE_MALFORMED = [
    *(pytest.param({"status": 200, "json": {"errcode": 0, "phone_info": {"purePhoneNumber": PHONE, "countryCode": cc}}},
                   WeChatError, 502, id=f"country-code-{cc!r}") for cc in ("0086", "8600", "x", True, 1.5, [86])),
    pytest.param({"status": 200, "json": {"errcode": 0, "errmsg": "ok"}}, WeChatError, 502, id="no-phone-info"),
    pytest.param({"status": 200, "json": {"errcode": 0, "phone_info": {"phoneNumber": "+86" + PHONE}}},
                 WeChatError, 502, id="no-pure-number"),
    # purePhoneNumber that is not a number's digits: WeChat's answer is checked as a client's input is.
    *(pytest.param({"status": 200,
                    "json": {"errcode": 0, "phone_info": {"purePhoneNumber": pure, "countryCode": "86"}}},
                   WeChatError, 502, id=f"pure-{i}")
      for i, pure in enumerate(("", "   ", " " + PHONE, PHONE + " ", "1" * 15, "１３８００１３８０００", "138-0013-8000",
                                "+8613800138000", "123", 13800138000, None))),
]


# phone_info's countryCode (a number or a string; absent in older answers) -> the number with its country
@pytest.mark.parametrize("country_code, pure, expected", [
    ("86", PHONE, "+86" + PHONE),
    (86, PHONE, "+86" + PHONE),
    ("+86", PHONE, "+86" + PHONE),
    (None, PHONE, "+86" + PHONE),
    ("", PHONE, "+86" + PHONE),
    ("852", "51234567", "+85251234567"),
    (852, "51234567", "+85251234567"),
    ("1", "13800138073", "+113800138073"),  # what it is; sidecar/phones.py judges it
])
def test_phone_number_comes_with_its_country(rsps, client, country_code, pure, expected):
    stable_token_ok(rsps)
    info = {"purePhoneNumber": pure, **({} if country_code is None else {"countryCode": country_code})}
    rsps.add(responses.POST, PHONE_URL, json={"errcode": 0, "phone_info": info})
    assert client.phone_number(PHONE_CODE, OPENID) == expected


@pytest.mark.parametrize("fake, exc_type, status", TRANSPORT_FAILURES + PHONE_MALFORMED)
def test_phone_number_transport_failures(rsps, client, fake, exc_type, status):
    stable_token_ok(rsps)
    phone = rsps.add(responses.POST, PHONE_URL, **fake)

    exc = raise_exc(client.phone_number, PHONE_CODE, OPENID)

    assert type(exc) is exc_type and wechat_answer(exc)[0] == status
    assert phone.call_count == 1


STABLE_TOKEN_FAILURES = [
    pytest.param({"json": {"errcode": 40125, "errmsg": "invalid appsecret"}}, WeChatError, 502, id="40125"),
    pytest.param({"json": {"errcode": 40013, "errmsg": "invalid appid"}}, WeChatError, 502, id="40013"),
    pytest.param({"json": {"errcode": 40029, "errmsg": "x"}}, WeChatError, 502, id="40029-is-not-400"),
    pytest.param({"json": {"errcode": -1, "errmsg": "busy"}}, WeChatError, 502, id="busy"),
    pytest.param({"json": {"errcode": 45011, "errmsg": "limit"}}, WeChatRateLimited, 429, id="45011"),
    pytest.param({"status": 500, "body": "oops"}, WeChatError, 502, id="http-500"),
    pytest.param({"body": "not json"}, WeChatError, 502, id="garbage"),
    pytest.param({"json": {"expires_in": 7200}}, WeChatError, 502, id="no-token"),
    pytest.param({"json": {"access_token": TOKEN_1}}, WeChatError, 502, id="no-expires-in"),
    pytest.param({"json": {"access_token": TOKEN_1, "expires_in": 0}}, WeChatError, 502, id="zero-expiry"),
    pytest.param({"body": requests.exceptions.ConnectTimeout()}, WeChatUnavailable, 503, id="connect-timeout"),
    pytest.param({"body": requests.exceptions.ConnectionError()}, WeChatUnavailable, 503, id="conn-error"),
]


@pytest.mark.parametrize("fake, exc_type, status", STABLE_TOKEN_FAILURES)
def test_stable_token_failures_are_502_or_503_and_skip_the_phone_call(rsps, client, fake, exc_type, status):
    rsps.add(responses.POST, STABLE_URL, **fake)
    phone = rsps.add(responses.POST, PHONE_URL, json=PHONE_OK)

    exc = raise_exc(client.phone_number, PHONE_CODE, OPENID)

    assert type(exc) is exc_type and wechat_answer(exc)[0] == status
    assert phone.call_count == 0


def test_failed_token_fetch_is_not_cached(rsps, client):
    rsps.add(responses.POST, STABLE_URL, json={"errcode": -1, "errmsg": "busy"})
    stable_token_ok(rsps)
    rsps.add(responses.POST, PHONE_URL, json=PHONE_OK)

    with pytest.raises(WeChatError):
        client.phone_number(PHONE_CODE, OPENID)
    assert client.phone_number(PHONE_CODE, OPENID) == "+86" + PHONE
    assert len([c for c in rsps.calls if c.request.url.startswith(STABLE_URL)]) == 2


# --- access_token cache ---------------------------------------------------------------------------


def test_token_is_cached_across_calls_and_refetched_after_expiry(rsps, client, clock):
    stable_token_ok(rsps, TOKEN_1)
    stable_token_ok(rsps, TOKEN_2)  # served once the first has been used
    phone = rsps.add(responses.POST, PHONE_URL, json=PHONE_OK)

    for _ in range(3):
        assert client.phone_number(PHONE_CODE, OPENID) == "+86" + PHONE
    clock.advance(7200 - 300 - 1)  # still inside the safety margin
    client.phone_number(PHONE_CODE, OPENID)
    stable_calls = [c for c in rsps.calls if c.request.url.startswith(STABLE_URL)]
    assert len(stable_calls) == 1

    clock.advance(2)  # now within 5 minutes of WeChat's expiry
    client.phone_number(PHONE_CODE, OPENID)

    stable_calls = [c for c in rsps.calls if c.request.url.startswith(STABLE_URL)]
    assert len(stable_calls) == 2
    assert all(json.loads(c.request.body)["force_refresh"] is False for c in stable_calls)
    used = [query(c)["access_token"] for c in rsps.calls if c.request.url.startswith(PHONE_URL)]
    assert used == [TOKEN_1] * 4 + [TOKEN_2]
    assert phone.call_count == 5


def test_short_lived_token_is_kept_at_least_half_its_lifetime(rsps, client, clock):
    stable = stable_token_ok(rsps, TOKEN_1, expires_in=400)  # 400 - 300 would be only 100 s
    rsps.add(responses.POST, PHONE_URL, json=PHONE_OK)

    client.phone_number(PHONE_CODE, OPENID)
    clock.advance(199)
    client.phone_number(PHONE_CODE, OPENID)
    assert stable.call_count == 1
    clock.advance(2)
    client.phone_number(PHONE_CODE, OPENID)
    assert stable.call_count == 2


@pytest.mark.parametrize("errcode", [40001, 42001, 40014])
def test_token_error_refetches_once_and_retries_once(rsps, client, errcode):
    stable_token_ok(rsps, TOKEN_1)
    stable_token_ok(rsps, TOKEN_2)
    rsps.add(responses.POST, PHONE_URL, json={"errcode": errcode, "errmsg": "invalid credential"})
    rsps.add(responses.POST, PHONE_URL, json=PHONE_OK)

    assert client.phone_number(PHONE_CODE, OPENID) == "+86" + PHONE

    stable_calls = [c for c in rsps.calls if c.request.url.startswith(STABLE_URL)]
    phone_calls = [c for c in rsps.calls if c.request.url.startswith(PHONE_URL)]
    assert len(stable_calls) == 2 and len(phone_calls) == 2
    assert [query(c)["access_token"] for c in phone_calls] == [TOKEN_1, TOKEN_2]
    assert all(json.loads(c.request.body) == {"code": PHONE_CODE, "openid": OPENID} for c in phone_calls)

    # The fresh token is the one now cached.
    client.phone_number(PHONE_CODE, OPENID)
    assert query(rsps.calls[-1])["access_token"] == TOKEN_2
    assert len([c for c in rsps.calls if c.request.url.startswith(STABLE_URL)]) == 2


def test_two_consecutive_token_errors_fail_without_a_third_attempt(rsps, client):
    stable_token_ok(rsps, TOKEN_1)
    stable_token_ok(rsps, TOKEN_2)
    phone = rsps.add(responses.POST, PHONE_URL, json={"errcode": 40001, "errmsg": "invalid credential"})

    exc = raise_exc(client.phone_number, PHONE_CODE, OPENID)

    assert type(exc) is WeChatError and wechat_answer(exc)[0] == 502
    assert phone.call_count == 2
    assert len([c for c in rsps.calls if c.request.url.startswith(STABLE_URL)]) == 2


# --- concurrency ----------------------------------------------------------------------------------


def run_in_threads(n, func):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def worker():
        barrier.wait()
        try:
            results.append(func())
        except Exception as exc:  # collected and asserted on by the test
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    return results, errors


def test_concurrent_calls_with_empty_cache_fetch_the_token_once(rsps, client):
    def slow_stable_token(request):
        time.sleep(0.2)
        return 200, {}, json.dumps({"access_token": TOKEN_1, "expires_in": 7200})

    rsps.add_callback(responses.POST, STABLE_URL, callback=slow_stable_token)
    phone = rsps.add(responses.POST, PHONE_URL, json=PHONE_OK)

    results, errors = run_in_threads(8, lambda: client.phone_number(PHONE_CODE, OPENID))

    assert errors == [] and results == ["+86" + PHONE] * 8
    assert len([c for c in rsps.calls if c.request.url.startswith(STABLE_URL)]) == 1
    assert phone.call_count == 8


def test_concurrent_token_errors_drop_only_the_failed_token(rsps, client):
    fetched = []

    def stable_token(request):
        time.sleep(0.05)
        fetched.append(f"ACCESS-TOKEN-{len(fetched) + 1}")
        return 200, {}, json.dumps({"access_token": fetched[-1], "expires_in": 7200})

    def phone(request):
        # The first token is rejected; any later one works.
        if query_of(request)["access_token"] == "ACCESS-TOKEN-1":
            return 200, {}, json.dumps({"errcode": 40001, "errmsg": "invalid credential"})
        return 200, {}, json.dumps(PHONE_OK)

    rsps.add_callback(responses.POST, STABLE_URL, callback=stable_token)
    rsps.add_callback(responses.POST, PHONE_URL, callback=phone)

    results, errors = run_in_threads(8, lambda: client.phone_number(PHONE_CODE, OPENID))

    assert errors == [] and results == ["+86" + PHONE] * 8
    # One fetch for the empty cache, one after the 40001s: a thread must not drop the fresh token.
    assert fetched == ["ACCESS-TOKEN-1", "ACCESS-TOKEN-2"]


# --- secrets --------------------------------------------------------------------------------------


SECRETS = [SECRET, SESSION_KEY, TOKEN_1, TOKEN_2, JS_CODE, PHONE_CODE]


def test_secrets_never_reach_logs_reprs_or_error_messages(rsps, client, caplog):
    caplog.set_level(logging.DEBUG)
    # requests puts the full URL, secret included, into its exception text: make that visible here.
    leaky_url = f"{JSCODE_URL}?appid={APPID}&secret={SECRET}&js_code={JS_CODE}"
    rsps.add(responses.GET, JSCODE_URL, json=SESSION_OK)
    rsps.add(responses.GET, JSCODE_URL, json={"errcode": 40029, "errmsg": "invalid code"})
    rsps.add(responses.GET, JSCODE_URL, body=requests.exceptions.ConnectTimeout(f"timed out: {leaky_url}"))
    rsps.add(responses.GET, JSCODE_URL, body=requests.exceptions.ReadTimeout(f"read timed out: {leaky_url}"))
    rsps.add(responses.GET, JSCODE_URL, status=500, body=f"error {SECRET}")
    stable_token_ok(rsps, TOKEN_1)
    stable_token_ok(rsps, TOKEN_2)
    rsps.add(responses.POST, PHONE_URL, json={"errcode": 40001, "errmsg": f"invalid credential {TOKEN_1}"})
    rsps.add(responses.POST, PHONE_URL, json=PHONE_OK)
    rsps.add(responses.POST, PHONE_URL,
             body=requests.exceptions.ConnectionError(f"{PHONE_URL}?access_token={TOKEN_2}"))
    rsps.add(responses.POST, PHONE_URL, json={"errcode": 40029, "errmsg": "invalid code"})

    errors = []
    assert client.code_to_session(JS_CODE).session_key == SESSION_KEY
    for _ in range(4):
        errors.append(raise_exc(client.code_to_session, JS_CODE))
    assert client.phone_number(PHONE_CODE, OPENID) == "+86" + PHONE
    for _ in range(2):
        errors.append(raise_exc(client.phone_number, PHONE_CODE, OPENID))
    assert [wechat_answer(e)[0] for e in errors] == [400, 503, 503, 502, 503, 400]
    assert [e.errcode for e in errors] == [40029, 0, 0, 0, 0, 40029]

    # The failures were logged, by endpoint and errcode, so an absent secret is not just an absent log.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # The user's code refused: a refusal, at DEBUG (the request's log line names it).
    assert any("jscode2session" in r.getMessage() and "errcode=40029" in r.getMessage() for r in caplog.records)
    assert any("ConnectTimeout" in m for m in warnings)
    assert any("getuserphonenumber" in m and "errcode=40001" in m for m in warnings)

    texts = [r.getMessage() for r in caplog.records] + [caplog.text, repr(client), str(client)]
    for exc in errors:
        texts += [str(exc), repr(exc), wechat_answer(exc)[1],
                  "".join(traceback.format_exception(exc))]
    for secret in SECRETS:
        for text in texts:
            assert secret not in text


def test_urllib3_request_lines_are_redacted(client, caplog):
    caplog.set_level(logging.DEBUG)
    # The exact call urllib3's connection pool makes for every request it sends.
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s', "https", "api.weixin.qq.com", 443, "GET",
        f"/sns/jscode2session?appid={APPID}&secret={SECRET}&js_code={JS_CODE}&grant_type=authorization_code",
        "HTTP/1.1", 200, 120)
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s', "https", "api.weixin.qq.com", 443, "POST",
        f"/wxa/business/getuserphonenumber?access_token={TOKEN_1}", "HTTP/1.1", 200, 90)

    assert "/sns/jscode2session?appid=" + APPID in caplog.text
    for secret in (SECRET, JS_CODE, TOKEN_1):
        assert secret not in caplog.text


def test_repr_of_client_shows_only_appid_and_base():
    client = WeChatClient(APPID, SECRET, api_base=BASE)
    assert repr(client) == f"WeChatClient(appid={APPID!r}, api_base={BASE!r})"
    client.close()


@pytest.mark.parametrize("env, expected", [
    ({}, {}),
    ({"HTTPS_PROXY": "http://proxy.test:3128"}, {"https": "http://proxy.test:3128"}),
    ({"HTTPS_PROXY": "http://proxy.test:3128", "NO_PROXY": "api.weixin.qq.com"}, {}),
])
def test_proxy_settings_are_read_once_from_the_environment(monkeypatch, env, expected):
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "http_proxy",
                 "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = WeChatClient("wx-app", "secret-value", "https://api.weixin.qq.com")
    assert {k: v for k, v in client._session.proxies.items() if k == "https"} == expected
    assert client._session.trust_env is False


@pytest.mark.parametrize("errcode, level", [
    (40029, logging.DEBUG),  # the user's code refused: the request's own log line says so (sidecar/errors.py)
    (-1, logging.WARNING),  # WeChat failed
])
def test_an_errcode_is_logged_with_wechat_rid_but_not_errmsg(rsps, client, caplog, errcode, level):
    caplog.set_level(logging.DEBUG)
    rsps.add(responses.GET, JSCODE_URL, json={"errcode": errcode, "errmsg": f"invalid code {JS_CODE}, rid: 64b7-1e0b"})

    exc = raise_exc(client.code_to_session, JS_CODE)

    assert exc.errmsg == f"invalid code {JS_CODE}, rid: 64b7-1e0b"  # kept for whoever handles it, not printed
    assert exc.rid == "64b7-1e0b"
    [record] = [r for r in caplog.records if "jscode2session failed" in r.getMessage()]
    assert f"jscode2session failed: errcode={errcode} rid=64b7-1e0b" in record.getMessage() and record.levelno == level
    assert JS_CODE not in caplog.text + str(exc) + repr(exc)
