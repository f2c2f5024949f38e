"""ops/schema/domain.py: each fact of vocabulary.yaml and ops/settings.py held alike by its generated sides.

sidecar/domain.py is imported; pb_hooks/lib/domain.js and pb_hooks/lib/settings.js run under node (plain modules:
their only PocketBase global, $os, is given by the harness), each on the same table as the Python side.
"""
from __future__ import annotations

import json
import secrets
import shutil
import subprocess

import pytest
import yaml

from ops import settings as settings_table
from ops.schema import domain as generator
from ops.schema.pocketbase_json import SchemaError, load_schema
from ops.settings import BY_NAME, POCKETBASE, SETTINGS, SettingError
from sidecar import domain
from sidecar.errors import REFUSAL_ANSWERS
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is needed to run the generated JS")


def node(script: str, data) -> object:
    """The JSON that script prints, run by node with `data` (JSON) as the global DATA and a stub $os."""
    harness = (f"global.$os = {{ getenv: (name) => (DATA.env || {{}})[name] || '' }};"
               f"const DATA = {json.dumps(data, ensure_ascii=False)};"
               f"const domain = require({json.dumps(str(generator.DOMAIN_JS))});"
               f"const settings = require({json.dumps(str(generator.SETTINGS_JS))});"
               + script)
    result = subprocess.run(["node", "-e", harness], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin:/usr/local/bin", "__hooks": str(ROOT / "pb_hooks")})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# Names as people (and attackers) type them: visible, invisible-only, and visible with invisible edges.
NAMES = [
    "张三", " 张三 ", "\u200b", "\u3164", "\ufeff\u2060 ", "\u2800\u115f", "\ufe0f", "\U000e0001", "a\u200b",
    "😀", "❤\ufe0f", "\ufe0f❤", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "e\u0301",
    "\u0301e", "\U00016fe4", "\U0001d159", "\u2065", "\ufff0x", "\u00ad", "\u180e", "\u3000李\u3000",
    "\u1160\u1160", "\uffa0", "\U000e0100", "\u061c", "\u034f", "\u17b4", "\t\n\r", "\x00a\x7f",
]


def test_python_and_js_trim_the_same_names_alike():
    trimmed = node("console.log(JSON.stringify(DATA.names.map(domain.trimInvisible)));", {"names": NAMES})
    assert trimmed == [domain.trim_invisible(name) for name in NAMES]
    # And the table means something: invisible-only names are "" on both sides, visible ones are not.
    assert domain.trim_invisible("\u2800\u115f") == "" and domain.trim_invisible(" 张三 ") == "张三"
    assert domain.trim_invisible("❤\ufe0f") == "❤\ufe0f"


# And PocketBase, on every save (here a superuser's, as the dashboard's): a name the sidecar would trim to nothing
# never promotes a 游客; one that shows does (the generated domain.js, run by pb_hooks/users.pb.js).
@pytest.mark.parametrize("name", [name for name in NAMES if "\x00" not in name],
                         ids=lambda name: name.encode("unicode_escape").decode())
def test_pocketbase_promotes_on_every_save_as_the_sidecar_trims(pb, name):
    phone = f"157{secrets.randbelow(10**8):08d}"
    user = pb.create_user(openid=f"names-{secrets.token_hex(4)}", users_name=name, users_phone=phone,
                          users_type=domain.USER_VISITOR)
    assert (pb.user(user["id"])["users_type"] == domain.USER_REGISTERED) is bool(domain.trim_invisible(name))


def test_python_and_js_hold_the_same_invisible_ranges():
    ranges = node("console.log(JSON.stringify([domain.INVISIBLE_RANGES, domain.EXTENDING_RANGES]));", {})
    assert ranges == [[list(r) for r in domain.INVISIBLE_RANGES], [list(r) for r in domain.EXTENDING_RANGES]]


def test_the_invisible_set_is_drawn_from_unicode_properties():
    invisible = {code for low, high in domain.INVISIBLE_RANGES for code in range(low, high + 1)}
    # Default_Ignorable_Code_Point (assigned or not), the Hangul fillers, blank braille, the tag characters.
    for code in (0x200B, 0x2060, 0xFEFF, 0x2065, 0xFFF0, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800, 0xE0001, 0xE007F,
                 0xE0FFF, 0x3000, 0x00A0, 0x034F):
        assert code in invisible, hex(code)
    for code in (ord("a"), ord("张"), 0x1F600, ord("❤"), 0x2801):
        assert code not in invisible, hex(code)
    assert not any(0xD800 <= low <= 0xDFFF or 0xD800 <= high <= 0xDFFF for low, high in domain.INVISIBLE_RANGES)


def test_python_and_js_hold_the_same_vocabulary():
    vocabulary = generator.load_vocabulary()
    names = [name for section in generator.SCALAR_SECTIONS for name in vocabulary.get(section, {})]
    js = node("console.log(JSON.stringify(Object.fromEntries(DATA.names.map((n) => [n, domain[n]]))));",
              {"names": names})
    for name in names:
        python = getattr(domain, name)
        assert js[name] == (list(python) if isinstance(python, tuple) else python), name
    assert domain.ATTACHMENT_UNDER_REVIEW == "审核中" and domain.USER_BANNED == "禁用"


def test_every_refusal_has_one_status_on_both_sides_and_the_sidecar_maps_each_with_a_msg():
    vocabulary = generator.load_vocabulary()["refusals"]
    statuses = node("console.log(JSON.stringify(Object.keys(DATA.reasons).map((r) => domain.refusal(r, 'f'))));",
                    {"reasons": vocabulary})
    assert statuses == [{"status": spec["status"], "body": {"reason": reason, "field": "f"}}
                        for reason, spec in vocabulary.items()]
    mapped = {reason for reason, spec in vocabulary.items() if "msg" in spec}
    assert set(REFUSAL_ANSWERS) == mapped == set(domain.REFUSALS)
    assert all(msg for _, msg in REFUSAL_ANSWERS.values())


# RATE_LIMITS, UPLOAD_RATE, LOGIN_LOG_DAYS: the values one parser accepts (or refuses), for every reader.
SETTING_VALUES = [
    ("RATE_LIMITS", value) for value in ("", "off", "OFF", " no ", "none", "0", "false", "20r/s,burst=40",
                                         "7r/m", "5r/s, burst = 9", "020r/s", "lots", "0r/s", "20r/h", "-1", "on")
] + [("UPLOAD_RATE", value) for value in ("", "off", "30", "007", "0", "-3", "30/h", "no")] + [
    ("LOGIN_LOG_DAYS", value) for value in ("", "2", "90", "0", "-3", "ninety", "1.5", "off")]


def python_parse(name: str, value: str):
    try:
        groups = settings_table.parse(name, value)
    except SettingError as exc:
        return {"error": str(exc)}
    return None if groups is None else list(groups)


def test_python_and_js_parse_the_settings_alike():
    js = node("""console.log(JSON.stringify(DATA.values.map(([name, value]) => {
      try { return settings.parse(name, value); } catch (err) { return { error: err.message }; }
    })));""", {"values": SETTING_VALUES})
    python = [python_parse(name, value) for name, value in SETTING_VALUES]
    assert [bool(j and "error" in j) for j in js] == [bool(p and "error" in p) for p in python]
    for (name, value), j, p in zip(SETTING_VALUES, js, python):
        if p and "error" in p:
            # Both name the setting and its accepted forms.
            assert name in j["error"] and BY_NAME[name].forms.described in j["error"], (name, value)
            assert name in p["error"] and BY_NAME[name].forms.described in p["error"], (name, value)
        else:
            assert j == p, (name, value)
    assert python_parse("RATE_LIMITS", "no") is None and python_parse("RATE_LIMITS", "7r/m") == ["7", "m", ""]


def test_the_hooks_read_the_tables_defaults_and_forms():
    js = node("console.log(JSON.stringify([settings.DEFAULTS, settings.uploadRate(), settings.loginLogDays(),"
              " settings.rateLimitsOn()]));", {})
    defaults, upload_rate, days, rate_limits_on = js
    assert defaults == {s.name: s.default for s in SETTINGS if POCKETBASE in s.read_by and not s.secret}
    assert (upload_rate, days, rate_limits_on) == (int(BY_NAME["UPLOAD_RATE"].default),
                                                   int(BY_NAME["LOGIN_LOG_DAYS"].default), True)
    off = node("console.log(JSON.stringify([settings.uploadRate(), settings.rateLimitsOn()]));",
               {"env": {"UPLOAD_RATE": "OFF", "RATE_LIMITS": "no"}})
    assert off == [0, False]


def test_generated_files_are_current_and_say_so():
    wanted = generator.render_generated()
    assert generator.stale_generated(wanted) == [], "run `make schema`"
    for path, text in wanted.items():
        assert "Generated by `make schema`" in text.splitlines()[0], path


def test_a_stale_generated_file_is_named(tmp_path, monkeypatch):
    stale = tmp_path / "domain.js"
    stale.write_text("// old\n")
    wanted = {stale: "// new\n"}
    monkeypatch.setattr(generator, "ROOT", tmp_path)
    assert generator.stale_generated(wanted) == ["domain.js"]
    assert generator.write_generated(wanted) == ["wrote domain.js"] and stale.read_text() == "// new\n"


def test_schema_check_fails_on_a_stale_generated_file(tmp_path):
    vocabulary = yaml.safe_load(generator.VOCABULARY_PATH.read_text(encoding="utf-8"))
    vocabulary["statuses"]["ATTACHMENT_VALID"] = "可用"
    changed = tmp_path / "vocabulary.yaml"
    changed.write_text(yaml.safe_dump(vocabulary, allow_unicode=True), encoding="utf-8")
    assert generator.stale_generated(generator.render_generated(vocabulary_path=changed)) == [
        "sidecar/domain.py", "pb_hooks/lib/domain.js"]


def test_a_hook_naming_an_undeclared_collection_is_refused(tmp_path):
    """A hook registered on a collection the vocabulary no longer names (renamed) would never run: schema-check fails."""
    vocabulary, schema = generator.load_vocabulary(), load_schema()
    assert generator.check_vocabulary(vocabulary, schema) == []
    hooks = tmp_path / "pb_hooks"
    (hooks / "lib").mkdir(parents=True)
    (hooks / "guard.pb.js").write_text('onRecordsListRequest((e) => e.next(), "tbl_attachment");\n')
    (hooks / "lib" / "domain.js").write_text('const OLD = "tbl_generated_is_skipped";\n')
    problems = generator.check_vocabulary(vocabulary, schema, hooks_dir=hooks)
    assert problems == ["pb_hooks/guard.pb.js names collection tbl_attachment, which vocabulary.yaml does not declare"]


def test_a_field_group_naming_an_undeclared_field_is_refused(tmp_path):
    vocabulary = generator.load_vocabulary()
    vocabulary["field_groups"]["TEXT_FIELDS"].append("users_nickname")
    problems = generator.check_vocabulary(vocabulary, load_schema())
    assert problems and "users_nickname" in problems[0]
    bad = tmp_path / "vocabulary.yaml"
    bad.write_text(yaml.safe_dump(vocabulary, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SchemaError, match="users_nickname"):
        generator.render_generated(vocabulary_path=bad)
