"""sidecar/routes/inputs.py: body and header parsing, under app.test_request_context (no route, no backend)."""
from __future__ import annotations

import pytest
from flask import Flask

from sidecar.errors import BadRequest, Unauthorized, UnsupportedMediaType
from sidecar.limits import MAX_TOKEN_LENGTH
from sidecar.pocketbase import ClientInfo
from sidecar.routes.inputs import (
    NOT_UTF8, bearer_token, client_info, json_object, optional_string, required_string, trim_invisible,
    visible_string,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJpZCI6ImFiYyJ9.c2lnbmF0dXJl"
JSON = "application/json"
NOT_JSON = "请求体必须是 JSON (Content-Type: application/json)"


@pytest.fixture(scope="module")
def app():
    return Flask(__name__)


@pytest.mark.parametrize("data, content_type, expected", [
    ("", None, {}),
    ("   \n", JSON, {}),
    ("", "text/plain", {}),  # an empty body is no body, whatever its type
    ('{"a": 1}', JSON, {"a": 1}),
    ('{"a": 1}', "application/json; charset=utf-8", {"a": 1}),
    ('{"a": {"b": [1, null]}}', "application/vnd.api+json", {"a": {"b": [1, None]}}),
    ('{"名": "值"}', JSON, {"名": "值"}),
])
def test_json_object_accepts(app, data, content_type, expected):
    with app.test_request_context(method="POST", data=data, content_type=content_type):
        assert json_object() == expected


@pytest.mark.parametrize("data, content_type, error, msg", [
    ('{"a": 1}', "text/plain", UnsupportedMediaType, NOT_JSON),
    ("a=1", "application/x-www-form-urlencoded", UnsupportedMediaType, NOT_JSON),
    ('{"a": 1}', None, UnsupportedMediaType, NOT_JSON),
    ('{"a": ', JSON, UnsupportedMediaType, "请求体不是合法的 JSON"),
    (b"\xff\xfe\x00", JSON, BadRequest, NOT_UTF8),
    ('{"a": "b"}'.encode("utf-16"), JSON, BadRequest, NOT_UTF8),
    ('{"a": "b"}'.encode("utf-32"), JSON, BadRequest, NOT_UTF8),
    ('{"a": "名"}'.encode("gbk"), JSON, BadRequest, NOT_UTF8),
    ("[" * 5000 + "]" * 5000, JSON, UnsupportedMediaType, "请求体不是合法的 JSON"),
    ("NaN-ish", JSON, UnsupportedMediaType, "请求体不是合法的 JSON"),
    ("[1]", JSON, BadRequest, "请求体必须是 JSON 对象"),
    ('"text"', JSON, BadRequest, "请求体必须是 JSON 对象"),
    ("null", JSON, BadRequest, "请求体必须是 JSON 对象"),
    ("42", JSON, BadRequest, "请求体必须是 JSON 对象"),
])
def test_json_object_refuses(app, data, content_type, error, msg):
    with app.test_request_context(method="POST", data=data, content_type=content_type):
        with pytest.raises(error) as raised:
            json_object()
    assert type(raised.value) is error and raised.value.msg == msg


@pytest.mark.parametrize("body, expected", [
    ({}, ""),
    ({"name": None}, ""),
    ({"name": ""}, ""),
    ({"name": "  \t "}, ""),
    ({"name": " 张三 "}, "张三"),
    ({"name": "x" * 8}, "x" * 8),
    ({"name": " " + "x" * 8 + " "}, "x" * 8),  # the limit applies after stripping
    ({"other": 5}, ""),
])
def test_optional_string_accepts(app, body, expected):
    with app.test_request_context():
        assert optional_string(body, "name", 8) == expected


@pytest.mark.parametrize("body, msg", [
    ({"name": 5}, "name 必须是字符串"),
    ({"name": True}, "name 必须是字符串"),
    ({"name": ["a"]}, "name 必须是字符串"),
    ({"name": {"a": 1}}, "name 必须是字符串"),
    ({"name": "x" * 9}, "name 过长(最多 8 个字符)"),
])
def test_optional_string_refuses(app, body, msg):
    with app.test_request_context(), pytest.raises(BadRequest) as raised:
        optional_string(body, "name", 8)
    assert (raised.value.msg, raised.value.data) == (msg, {"field": "name"})


@pytest.mark.parametrize("body, msg", [
    ({}, "name 不能为空"),
    ({"name": None}, "name 不能为空"),
    ({"name": "   "}, "name 不能为空"),
    ({"name": 5}, "name 必须是字符串"),
    ({"name": "x" * 9}, "name 过长(最多 8 个字符)"),
])
def test_required_string_refuses(app, body, msg):
    with app.test_request_context(), pytest.raises(BadRequest) as raised:
        required_string(body, "name", 8)
    assert (raised.value.msg, raised.value.data) == (msg, {"field": "name"})


def test_required_string_answers_the_stripped_value(app):
    with app.test_request_context():
        assert required_string({"name": " code "}, "name", 8) == "code"


@pytest.mark.parametrize("header, expected", [
    (f"Bearer {JWT}", JWT),
    (f"bearer {JWT}", JWT),
    (f"BEARER   {JWT}  ", JWT),
    (JWT, JWT),  # a bare token, as the spec's examples send it
    (f"  {JWT}", JWT),
])
@pytest.mark.parametrize("required", [True, False])
def test_bearer_token_accepts(app, header, expected, required):
    with app.test_request_context(headers={"Authorization": header}):
        assert bearer_token(required=required) == expected


# (Authorization header or None for none, message when the token is required)
UNUSABLE = [
    (None, "缺少 Authorization token"),
    ("", "缺少 Authorization token"),
    ("Bearer", "token 无效或已过期"),  # the header is stripped first: "Bearer" alone is a (malformed) token
    ("Bearer    ", "token 无效或已过期"),
    ("Bearer junk", "token 无效或已过期"),
    ("Basic dXNlcjpwYXNz", "token 无效或已过期"),
    ("Bearer a.b", "token 无效或已过期"),
    ("Bearer a.b.c.d", "token 无效或已过期"),
    ("Bearer a.b+.c", "token 无效或已过期"),
    ("Bearer a.b.c" + "c" * MAX_TOKEN_LENGTH, "token 无效或已过期"),
]


@pytest.mark.parametrize("header, msg", UNUSABLE)
def test_bearer_token_required_refuses(app, header, msg):
    headers = {} if header is None else {"Authorization": header}
    with app.test_request_context(headers=headers), pytest.raises(Unauthorized) as raised:
        bearer_token(required=True)
    assert raised.value.msg == msg


@pytest.mark.parametrize("header, _", UNUSABLE)
def test_bearer_token_optional_answers_empty(app, header, _):
    headers = {} if header is None else {"Authorization": header}
    with app.test_request_context(headers=headers):
        assert bearer_token(required=False) == ""


def test_bearer_token_at_the_length_limit_is_accepted(app):
    token = "a.b." + "c" * (MAX_TOKEN_LENGTH - 4)
    with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
        assert bearer_token(required=True) == token


# A body that is not UTF-8 names the field whose string holds the bad bytes, when one does.
@pytest.mark.parametrize("data, field", [
    (b'{"users_name": "ab\xed\xa0\xbd"}', "users_name"),      # CESU-8: half an emoji as raw bytes
    (b'{"a": 1, "users_tag": "\xff"}', "users_tag"),
    ('{"users_name": "张三"}'.encode("gbk"), "users_name"),
    (b'{"\xff": 1}', None),
])
def test_json_object_names_the_field_of_non_utf8_bytes(app, data, field):
    with app.test_request_context(method="POST", data=data, content_type=JSON), pytest.raises(BadRequest) as raised:
        json_object()
    assert (raised.value.msg, raised.value.data) == (NOT_UTF8, {"field": field} if field else {})


def test_json_object_tolerates_a_utf8_bom(app):
    with app.test_request_context(method="POST", data='\ufeff{"a": "名"}'.encode(), content_type=JSON):
        assert json_object() == {"a": "名"}


# Lone surrogates (JSON escapes of half an emoji) are not text, wherever they sit in the value.
@pytest.mark.parametrize("value", ["ab\ud83d", "\ud83d", "\ude00ab", "a\udc80b", " \ud83d "])
@pytest.mark.parametrize("parse", [optional_string, required_string, visible_string])
def test_strings_with_lone_surrogates_are_refused_naming_the_field(app, value, parse):
    with app.test_request_context(), pytest.raises(BadRequest) as raised:
        parse({"name": value}, "name", 8)
    assert (raised.value.msg, raised.value.data) == ("name 包含无效字符", {"field": "name"})


def test_a_whole_emoji_is_text(app):
    with app.test_request_context():
        assert optional_string({"name": "ab\U0001f600"}, "name", 8) == "ab\U0001f600"


# A name or tag: invisible characters at its edges are trimmed; nothing visible is "" (not given).
VISIBLE = [
    ("\u200b", ""),                       # zero width space
    ("\u2060", ""),                       # word joiner
    ("\ufeff", ""),                       # BOM
    ("\u3164", ""),                       # Hangul filler
    ("\uffa0\u115f\u1160", ""),           # more Hangul fillers
    ("\u2800", ""),                       # Braille blank
    ("\u3000\u00a0\u2003", ""),           # ideographic, no-break, em spaces
    ("\u00ad\u061c\u180e\u200e\u202e", ""),  # soft hyphen, marks and direction controls
    ("\ufe0f\u0301", ""),                 # a variation selector and an accent with nothing to apply to
    ("\U000e0001\U000e0067", ""),         # tag characters
    ("\u200b张三\u200b", "张三"),
    ("\u3164 张三 \u2060", "张三"),
    ("张\u200b三", "张\u200b三"),            # inside the name it stays
    ("❤\ufe0f", "❤\ufe0f"),                # an emoji's variation selector stays
    ("e\u0301", "e\u0301"),
    ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),
    ("🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
     "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"),  # a flag's tags stay
    ("Zoë", "Zoë"),
]


@pytest.mark.parametrize("value, expected", VISIBLE)
def test_visible_string_trims_what_shows_nothing(app, value, expected):
    assert trim_invisible(value) == expected
    with app.test_request_context():
        assert visible_string({"name": value}, "name", 100) == expected


def test_visible_string_limit_applies_after_trimming(app):
    with app.test_request_context():
        assert visible_string({"name": "\u200b" * 5 + "x" * 8}, "name", 8) == "x" * 8
        with pytest.raises(BadRequest) as raised:
            visible_string({"name": "x" * 9}, "name", 8)
    assert raised.value.data == {"field": "name"}


@pytest.mark.parametrize("headers, ip, user_agent", [
    ({}, "", ""),
    ({"X-Real-IP": "203.0.113.9", "User-Agent": "Mozilla/5.0 MicroMessenger/8.0"}, "203.0.113.9",
     "Mozilla/5.0 MicroMessenger/8.0"),
    # WSGI hands header bytes over as ISO-8859-1: UTF-8 text is passed on byte for byte
    ({"User-Agent": "微信".encode().decode("latin-1")}, "", "微信".encode().decode("latin-1")),
])
def test_client_info_passes_headers_on(app, headers, ip, user_agent):
    with app.test_request_context(headers=headers):
        assert client_info() == ClientInfo(ip=ip, user_agent=user_agent)


@pytest.mark.parametrize("name", ["User-Agent", "X-Real-IP"])
def test_client_info_refuses_a_header_that_is_not_utf8(app, name):
    with app.test_request_context(headers={name: "\xff\xfe"}), pytest.raises(BadRequest) as raised:
        client_info()
    assert raised.value.data == {"field": name}
