"""ops/schema/: deterministic migrations, staleness and spec checks, round trips through a real PocketBase."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest
import requests
import yaml

from ops import schema as schema_tool
from ops.pbserver import PocketBaseServer
from tests.conftest import PROJECT_SPEC, ROOT, SHARED_SPEC


def test_generation_is_deterministic():
    schema = schema_tool.load_schema()
    assert schema_tool.render_migrations(schema) == schema_tool.render_migrations(schema_tool.load_schema())


@pytest.mark.parametrize("spec_path", [PROJECT_SPEC, SHARED_SPEC], ids=["project-spec", "shared-spec"])
def test_committed_migrations_are_current_and_cover_the_spec(spec_path):
    if not spec_path.exists():
        # CI clones beside ../shared; a clone elsewhere has only the project's copy.
        pytest.skip(f"no spec at {spec_path}")
    assert schema_tool.check(spec_path=spec_path) == []


@pytest.fixture
def workdir(tmp_path):
    """A copy of schema.yaml and pb_migrations/ to change freely."""
    shutil.copy(ROOT / "schema.yaml", tmp_path / "schema.yaml")
    shutil.copytree(ROOT / "pb_migrations", tmp_path / "pb_migrations")
    return tmp_path


def _edit(path, change):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _company(data):
    return next(c for c in data["collections"] if c["name"] == "tbl_company")


def test_check_fails_on_stale_migrations(workdir):
    _edit(workdir / "schema.yaml", lambda d: _company(d)["fields"].append({"name": "company_extra", "type": "text"}))
    problems = schema_tool.check(workdir / "schema.yaml", workdir / "pb_migrations")
    assert any("stale" in p for p in problems)
    schema_tool.generate(workdir / "schema.yaml", workdir / "pb_migrations")
    assert schema_tool.check(workdir / "schema.yaml", workdir / "pb_migrations") == []


def test_check_fails_when_a_spec_field_is_missing(workdir):
    _edit(workdir / "schema.yaml", lambda d: _company(d).__setitem__(
        "fields", [f for f in _company(d)["fields"] if f["name"] != "company_usci"]))
    schema_tool.generate(workdir / "schema.yaml", workdir / "pb_migrations")
    problems = schema_tool.check(workdir / "schema.yaml", workdir / "pb_migrations")
    assert problems and "company_usci" in problems[0]


def test_schema_check_command_exits_nonzero_when_stale(workdir):
    (sorted((workdir / "pb_migrations").glob("*collections*"))[0]).write_text("// edited by hand\n")
    result = subprocess.run([sys.executable, "-c", (
        "import sys; from pathlib import Path; from ops import schema as s; "
        f"sys.exit(1 if s.check(Path({str(workdir / 'schema.yaml')!r}), Path({str(workdir / 'pb_migrations')!r}))"
        " else 0)")], cwd=ROOT)
    assert result.returncode == 1
    assert subprocess.run([sys.executable, "-m", "ops.schema", "check"], cwd=ROOT).returncode == 0


def _server(workdir, data_dir):
    return PocketBaseServer(data_dir, "root@example.com", "Round-trip-pass-1", migrations_dir=workdir / "pb_migrations",
                            log_path=workdir / "pocketbase.log")


def test_round_trip_add_and_rename_fields_keeps_every_row(workdir):
    data_dir = workdir / "pb_data"
    server = _server(workdir, data_dir).start()
    try:
        token = server.superuser_token()
        headers = {"Authorization": token}
        ids = []
        for n in range(5):
            created = requests.post(f"{server.url}/api/collections/tbl_company/records", headers=headers,
                                    json={"company_name": f"row-{n}", "company_remark": f"remark-{n}"}, timeout=10)
            ids.append(created.json()["id"])
    finally:
        server.stop()

    def add_and_rename(d):
        fields = _company(d)["fields"]
        remark = next(f for f in fields if f["name"] == "company_remark")
        remark["id"] = f"text{schema_tool.crc32('company_remark')}"
        remark["name"] = "company_note"
        fields.append({"name": "company_website", "type": "text", "max": 200})
        view = next(c for c in d["collections"] if c["name"] == "view_user_info")
        view["query"] = view["query"].replace("c.company_remark,", "c.company_note,")  # else PocketBase refuses
    _edit(workdir / "schema.yaml", add_and_rename)
    schema_tool.generate(workdir / "schema.yaml", workdir / "pb_migrations")

    server = _server(workdir, data_dir).start()
    try:
        headers = {"Authorization": server.superuser_token()}
        for n, record_id in enumerate(ids):
            row = requests.get(f"{server.url}/api/collections/tbl_company/records/{record_id}", headers=headers,
                               timeout=10).json()
            assert row["company_name"] == f"row-{n}"
            assert row["company_note"] == f"remark-{n}"
            assert row["company_website"] == "" and "company_remark" not in row
    finally:
        server.stop()


def test_diff_and_pull_follow_dashboard_changes(workdir):
    server = _server(workdir, workdir / "pb_data").start()
    try:
        token = server.superuser_token()
        assert schema_tool.diff(server.url, token, workdir / "schema.yaml") == ""
        headers = {"Authorization": token}
        collection = requests.get(f"{server.url}/api/collections/tbl_company", headers=headers, timeout=10).json()
        collection["fields"].append({"name": "company_fax", "type": "text", "max": 30})
        assert requests.patch(f"{server.url}/api/collections/tbl_company", headers=headers, json=collection,
                              timeout=10).status_code == 200
        changes = schema_tool.diff(server.url, token, workdir / "schema.yaml")
        assert "company_fax" in changes

        schema_tool.pull(server.url, token, workdir / "schema.yaml")
        assert schema_tool.diff(server.url, token, workdir / "schema.yaml") == ""
        pulled = yaml.safe_load((workdir / "schema.yaml").read_text(encoding="utf-8"))
        assert any(f["name"] == "company_fax" for f in _company(pulled)["fields"])
        users = next(c for c in pulled["collections"] if c["name"] == "tbl_auth_users")
        assert users["auth"]["password_cost"] == 4 and "bcrypt" in users["notes"]
        assert users["auth"]["auth_rule"] == 'users_status != "禁用"'
        assert "{admin}" in _company(pulled)["rules"]["update"]
    finally:
        server.stop()


def test_auth_rule_reaches_pocketbase_and_a_dashboard_edit_shows_in_the_diff(workdir):
    server = _server(workdir, workdir / "pb_data").start()
    try:
        token = server.superuser_token()
        headers = {"Authorization": token}
        url = f"{server.url}/api/collections/tbl_auth_users"
        assert requests.get(url, headers=headers, timeout=10).json()["authRule"] == 'users_status != "禁用"'
        assert requests.patch(url, headers=headers, json={"authRule": ""}, timeout=10).status_code == 200
        assert '"authRule"' in schema_tool.diff(server.url, token, workdir / "schema.yaml")
        schema_tool.pull(server.url, token, workdir / "schema.yaml")
        pulled = yaml.safe_load((workdir / "schema.yaml").read_text(encoding="utf-8"))
        assert "auth_rule" not in next(c for c in pulled["collections"] if c["name"] == "tbl_auth_users")["auth"]
    finally:
        server.stop()


@pytest.mark.parametrize("credentials", ["environment", "password file"])
def test_diff_command_finds_the_superuser_like_backup_does(workdir, credentials):
    data_dir = workdir / "pb_data"
    server = _server(workdir, data_dir).start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PB_", "HTTP_PORT"))}
        env.update(PB_URL=server.url, PB_DATA_DIR=str(data_dir), PB_SUPERUSER_EMAIL=server.superuser_email)
        if credentials == "environment":
            env["PB_SUPERUSER_PASSWORD"] = server.superuser_password
        else:
            (data_dir / ".superuser_password").write_text(server.superuser_password + "\n")
        result = subprocess.run([sys.executable, "-m", "ops.schema", "diff"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "matches schema.yaml" in result.stdout
        assert server.superuser_password not in result.stdout + result.stderr
    finally:
        server.stop()


@pytest.mark.parametrize("lookup", [
    "SELECT id FROM tbl_auth_users WHERE openid = ?",
    "SELECT id FROM tbl_company WHERE company_id = ?",
    "SELECT id FROM tbl_attachments WHERE attachments_id = ?",
    "SELECT id FROM tbl_attachments WHERE attachments_trace_id = ?",
    "SELECT * FROM view_user_info WHERE openid = ?",
    "SELECT * FROM view_user_info WHERE id = ?",
])
def test_lookups_by_business_key_use_an_index(pocketbase, lookup):
    # PocketBase binds filter values as parameters, as here: a partial index alone would not serve them.
    db = sqlite3.connect(f"file:{pocketbase.data_dir / 'data.db'}?mode=ro", uri=True)
    try:
        plan = [row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {lookup}", ("x",))]
    finally:
        db.close()
    assert plan and all(step.startswith("SEARCH") for step in plan), plan
