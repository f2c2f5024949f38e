"""sidecar/jsonprovider.py: orjson gives the bytes Flask's default provider gives, with the app's settings."""
from __future__ import annotations

import dataclasses
import datetime
import decimal
import uuid

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from sidecar.jsonprovider import OrjsonProvider


@dataclasses.dataclass
class Point:
    x: int
    label: str


VALUES = [
    {"code": 200, "msg": "查询成功", "data": {"total_users": 12}},
    {"code": 400, "msg": "请求参数错误", "data": {"field": "users_name"}, "token": "a.b.c"},
    {"z": 1, "a": [1, 2.5, None, True, False, ""], "m": {"nested": {"emoji": "😀", "quote": "\"\\\n\t<"}}},
    {"when": datetime.datetime(2026, 11, 29, 14, 0, tzinfo=datetime.timezone.utc), "day": datetime.date(2026, 1, 2)},
    {"point": Point(3, "p"), "amount": decimal.Decimal("1.50"), "id": uuid.UUID(int=7), 3: "int key"},
    [1, "two", {"three": 3}],
]


def providers(**settings) -> tuple[Flask, Flask]:
    """Two apps with the same settings: one on Flask's default provider, one on ours."""
    apps = []
    for provider in (DefaultJSONProvider, OrjsonProvider):
        app = Flask(__name__)
        app.json = provider(app)
        for name, value in settings.items():
            setattr(app.json, name, value)
        apps.append(app)
    return apps[0], apps[1]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("debug", [False, True])
def test_responses_are_byte_for_byte_those_of_flasks_provider_with_the_apps_settings(value, debug):
    default, ours = providers(ensure_ascii=False, sort_keys=False)
    default.debug = ours.debug = debug
    with default.app_context():
        expected = default.json.response(value)
    with ours.app_context():
        got = ours.json.response(value)
    assert got.get_data() == expected.get_data()
    assert got.mimetype == expected.mimetype == "application/json"


@pytest.mark.parametrize("settings", [{}, {"ensure_ascii": False, "sort_keys": True},
                                      {"ensure_ascii": True, "sort_keys": False}])
def test_dumps_and_responses_follow_the_providers_settings_as_flasks_do(settings):
    default, ours = providers(**settings)
    for value in VALUES[:3]:
        assert ours.json.dumps(value) == default.json.dumps(value)
        with default.app_context(), ours.app_context():
            assert ours.json.response(value).get_data() == default.json.response(value).get_data()
    assert ours.json.dumps(VALUES[0], indent=1) == default.json.dumps(VALUES[0], indent=1)


def test_loads_reads_text_and_bytes_and_refuses_bad_json_with_a_value_error():
    _, ours = providers()
    assert ours.json.loads('{"a": "中", "b": [1]}') == ours.json.loads('{"a": "中", "b": [1]}'.encode()) == \
        {"a": "中", "b": [1]}
    with pytest.raises(ValueError):
        ours.json.loads("{bad")


@pytest.mark.parametrize("debug", [False, True])
def test_responses_are_written_by_orjson_not_by_json_dumps(monkeypatch, debug):
    import flask.json.provider

    def refuse(*args, **kwargs):
        raise AssertionError("json.dumps was called")
    _, ours = providers(ensure_ascii=False, sort_keys=False)
    ours.debug = debug
    monkeypatch.setattr(flask.json.provider.json, "dumps", refuse)
    with ours.app_context():
        assert ours.json.response(VALUES[0]).get_json() == VALUES[0]


# U+2028 / U+2029 (issue #31): valid raw in JSON, but line ends to JavaScript before ES2019 (code that evaluates
# JSON text) and to many log pipelines. Every answer writes them escaped, wherever they are.
@pytest.mark.parametrize("value", [
    {"name": "张\u2028三"}, {"name": "a\u2029b"}, {"\u2028key": ["\u2028\u2029", {"x": "\u2029"}]},
    ["\u2028"], "\u2029",
])
@pytest.mark.parametrize("debug", [False, True])
def test_line_and_paragraph_separators_are_escaped_in_every_response(value, debug):
    _, ours = providers(ensure_ascii=False, sort_keys=False)
    ours.debug = debug
    with ours.app_context():
        data = ours.json.response(value).get_data()
    assert "\u2028".encode() not in data and "\u2029".encode() not in data
    assert b"\\u2028" in data or b"\\u2029" in data
    assert ours.json.loads(data) == value


def test_a_users_name_holding_a_separator_is_answered_escaped(client, pb, login):
    token, user = login()
    pb.request("PATCH", f"/api/collections/tbl_auth_users/records/{user['pb_id']}",
               json={"users_name": "张\u2028三\u2029"})
    response = client.post("/pb/api/wechat/profile", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert b"\\u2028" in response.data and "\u2028".encode() not in response.data
    assert response.json["data"]["user"]["users_name"] == "张\u2028三\u2029"
