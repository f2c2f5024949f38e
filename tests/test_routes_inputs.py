"""sidecar/routes/inputs.py: body and header parsing, under app.test_request_context (no route, no backend)."""
from __future__ import annotations

import pytest
from flask import Flask

from sidecar.errors import BadRequest, Unauthorized, UnsupportedMediaType
from sidecar.limits import MAX_TOKEN_LENGTH
from sidecar.routes.inputs import bearer_token, json_object, optional_string, required_string

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
    (b"\xff\xfe\x00", JSON, UnsupportedMediaType, "请求体不是合法的 JSON"),
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
