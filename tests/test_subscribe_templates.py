"""sidecar/subscribe_templates.py: SUBSCRIBE_TEMPLATES parsed or refused (by make run and PocketBase too), WeChat's
keyword rules as a table."""
from __future__ import annotations

import json
import os

import pytest

from ops.pbserver import PocketBaseServer
from ops.stack_config import DEV_SUBSCRIBE_TEMPLATES, StackConfig, StackError
from sidecar.subscribe_templates import KeywordInvalid, Template, fit, message_data, parse_templates

GOOD = {"picture_removed": {"id": "tmpl-1", "data": {"thing1": "{filename}", "time2": "{time}", "thing3": "违规"},
                            "page": "pages/index/index"}}


def test_a_good_value_and_the_dev_samples_parse():
    assert parse_templates(json.dumps(GOOD)) == {"picture_removed": Template(
        "picture_removed", "tmpl-1", GOOD["picture_removed"]["data"], "pages/index/index")}
    assert set(parse_templates(DEV_SUBSCRIBE_TEMPLATES)) == {"picture_removed", "company_status"}
    assert parse_templates("") == parse_templates("  ") == {}


@pytest.mark.parametrize("raw, words", [
    ("{", "not JSON"),
    ("[]", "JSON object"),
    ('{"Bad Name": {"id": "t", "data": {"thing1": "x"}}}', "template name"),
    ('{"a": {"id": "", "data": {"thing1": "x"}}}', "id"),
    ('{"a": {"id": 5, "data": {"thing1": "x"}}}', "id"),
    ('{"a": {"id": "t", "data": {}}}', "data"),
    ('{"a": {"id": "t", "data": {"title": "x"}}}', "not a WeChat keyword"),
    ('{"a": {"id": "t", "data": {"thing1": 5}}}', "data.thing1"),
    ('{"a": {"id": "t", "data": {"thing1": "x"}, "extra": 1}}', "object with id, data"),
    ('{"a": {"id": "t", "data": {"thing1": "x"}}, "b": {"id": "t", "data": {"thing1": "y"}}}', "another name"),
    ('{"a": {"id": "t", "data": {"thing1": "x"}, "page": 3}}', "page"),
])
def test_a_malformed_value_is_refused_with_what_is_wrong(raw, words):
    with pytest.raises(ValueError, match=words):
        parse_templates(raw)


def test_a_malformed_value_stops_make_run():
    with pytest.raises(StackError, match="SUBSCRIBE_TEMPLATES"):
        StackConfig.from_env({"SUBSCRIBE_TEMPLATES": "{", "PB_SUPERUSER_PASSWORD": "pw"}, dotenv_path=None)


@pytest.mark.parametrize("keyword, value, fitted", [
    ("thing1", "a.png", "a.png"),
    ("thing1", "x" * 20, "x" * 20),
    ("thing1", "x" * 21, "x" * 19 + "…"),
    ("thing1", "两行\n文字", "两行 文字"),
    ("number2", "12.5", "12.5"),
    ("number2", 42, "42"),
    ("character_string3", "ORDER-2026-0001", "ORDER-2026-0001"),
    ("time4", "2026-12-07 10:00", "2026-12-07 10:00"),
    ("time4", "15:01", "15:01"),
    ("time4", "2019年10月1日 15:01", "2019年10月1日 15:01"),
    ("date5", "2026-12-07", "2026-12-07"),
    ("date5", "2019年10月1日", "2019年10月1日"),
    ("phrase6", "已通过", "已通过"),
    ("name7", "张三", "张三"),
    ("name7", "Alice Smith", "Alice Smith"),
    ("amount8", "¥214.00", "¥214.00"),
    ("phone_number9", "+86-0766-66888866", "+86-0766-66888866"),
    ("letter10", "abc", "abc"),
])
def test_values_that_fit(keyword, value, fitted):
    assert fit(keyword, value) == fitted


@pytest.mark.parametrize("keyword, value, why", [
    ("thing1", "", "empty"),
    ("thing1", "   ", "empty"),
    ("thing1", None, "text"),
    ("number2", "12a", "number"),
    ("number2", "1" * 33, "longer"),
    ("character_string3", "订单1", "character_string"),
    ("character_string3", "A" * 33, "longer"),
    ("time4", "yesterday", "time"),
    ("date5", "Dec 7", "date"),
    ("phrase6", "审核未通过了", "longer"),
    ("phrase6", "ok", "phrase"),
    ("name7", "张三李四王五赵六钱七孙", "name"),
    ("letter10", "ab1", "letter"),
    ("title1", "x", "not a WeChat keyword"),
])
def test_values_that_do_not_fit_are_refused_naming_the_keyword(keyword, value, why):
    with pytest.raises(KeywordInvalid, match=why) as raised:
        fit(keyword, value)
    assert raised.value.keyword == keyword and str(raised.value).startswith(keyword)


def test_message_data_merges_constant_texts_and_refuses_missing_or_unknown_keywords():
    template = parse_templates(json.dumps(GOOD))["picture_removed"]
    assert message_data(template, {"thing1": "a.png", "time2": "10:00"}) == {
        "thing1": "a.png", "time2": "10:00", "thing3": "违规"}
    with pytest.raises(KeywordInvalid, match="time2: missing"):
        message_data(template, {"thing1": "a.png"})
    with pytest.raises(KeywordInvalid, match="thing9"):
        message_data(template, {"thing1": "a.png", "time2": "10:00", "thing9": "x"})


def test_a_malformed_value_stops_pocketbase_at_start_with_its_message(tmp_path):
    server = PocketBaseServer(tmp_path / "pb_data", "root@example.com", "Pw-" + "x" * 20,
                              log_path=tmp_path / "pocketbase.log", env=dict(os.environ, SUBSCRIBE_TEMPLATES="{"))
    with pytest.raises(RuntimeError, match="exited"):
        server.start(deadline=60)
    server.stop()
    assert "SUBSCRIBE_TEMPLATES is not JSON" in (tmp_path / "pocketbase.log").read_text()
