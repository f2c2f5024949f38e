"""bench/scenarios.py: the scenario table, choosing scenarios and where each one aims."""
from __future__ import annotations

import pytest

from bench.output import BENCH
from bench.scenarios import BASELINE, SCENARIOS, scenario_url, select, sidecar_settings
from bench.stack_setup import configure_sidecars
from tests.helpers import assert_envelope, login_through, route

BASE, PB = "http://127.0.0.1:1000", "http://127.0.0.1:2000"


def test_every_script_exists_and_every_baseline_is_a_scenario():
    names = [name for name, _, _, _ in SCENARIOS]
    assert len(set(names)) == len(names)
    assert all((BENCH / script).exists() for _, script, _, _ in SCENARIOS)
    assert set(BASELINE) <= set(names) and set(BASELINE.values()) <= set(names)


@pytest.mark.parametrize("only, expected", [
    ("", [name for name, _, _, _ in SCENARIOS]),
    ("profile", ["profile"]),
    ("users_count,login_new,", ["login_new", "users_count"]),   # the table's order, not the list's
    ("nonesuch", []),
])
def test_select_keeps_the_named_scenarios(only, expected):
    assert [s[0] for s in select(only)] == expected


@pytest.mark.parametrize("script, via, url", [
    ("native_refresh.lua", "nginx", BASE + "/pb/api/collections/tbl_auth_users/auth-refresh"),
    ("native_refresh.lua", "direct", PB + "/api/collections/tbl_auth_users/auth-refresh"),
    ("users_count.lua", "nginx", BASE + "/pb/api/system/users-count"),
    ("native_list.lua", "direct", PB + "/"),
    ("login_returning.lua", "nginx", BASE + "/"),
    ("native_upload.lua", "nginx", BASE + "/pb/api/collections/tbl_attachments/records"),
    ("upload.lua", "nginx", BASE + "/"),
])
def test_scenario_url(script, via, url):
    assert scenario_url(script, via, BASE, PB) == url


def test_only_the_name_cell_runs_with_content_security():
    assert sidecar_settings("profile") == {"CONTENT_SECURITY": "off"}
    assert sidecar_settings("profile_name") == {"CONTENT_SECURITY": "on"}
    names = [name for name, _, _, _ in SCENARIOS]
    assert names.index("profile_name") == names.index("profile") + 1  # next to it in results.md


@pytest.mark.slow
def test_configure_sidecars_switches_content_security_for_the_name_cell(make_stack, tmp_path, unique):
    """What the bench does between the profile cell and the name cell: the stub's `risky` marker tells them apart."""
    stack = make_stack(**sidecar_settings("profile"))
    token, _ = login_through(stack, f"bench-switch-{unique}")
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(token + "\n")
    assert configure_sidecars(stack, sidecar_settings("profile"), tokens) is False
    assert_envelope(route(stack, "wechat/profile", token=token, json={"users_name": "risky-a"}), 200)
    assert configure_sidecars(stack, sidecar_settings("profile_name"), tokens) is True
    assert_envelope(route(stack, "wechat/profile", token=token, json={"users_name": "risky-b"}), 400)
    assert_envelope(route(stack, "wechat/profile", token=token, json={"users_name": "bench-name-1"}), 200)
