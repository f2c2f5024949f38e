"""ops/pbserver.py: the superuser upsert takes any password the operator chose; the data dir stays private."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import requests

from ops.pbserver import PocketBaseServer, secure_data_dir


@pytest.mark.parametrize("password", ["-Fleading-dash-pass", "--dir=/elsewhere-pass", "with space and \"quote\""])
def test_superuser_upsert_takes_passwords_that_look_like_flags(tmp_path, password):
    server = PocketBaseServer(tmp_path / "data", "dash@example.com", password, log_path=tmp_path / "pb.log")
    server.start()
    try:
        assert server.superuser_token().count(".") == 2
    finally:
        server.stop()


def _modes(data_dir):
    """{relative path: mode} of data_dir and everything in it."""
    found = {".": data_dir.stat().st_mode & 0o777}
    for path in data_dir.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(data_dir))] = path.stat().st_mode & 0o777
    return found


def _assert_private(data_dir):
    modes = _modes(data_dir)
    wrong = {path: oct(mode) for path, mode in modes.items()
             if mode != (0o700 if (data_dir / path).is_dir() else 0o600)}
    assert not wrong, f"not private: {wrong}"
    assert {"data.db", "auxiliary.db"} <= set(modes)


def test_data_dir_is_private_from_the_first_start_through_backup_and_restore(tmp_path):
    data_dir = tmp_path / "data"
    server = PocketBaseServer(data_dir, "modes@example.com", "Modes-pass-123456", log_path=tmp_path / "pb.log")
    server.start()
    try:
        _assert_private(data_dir)
        headers = {"Authorization": server.superuser_token()}
        assert requests.post(server.url + "/api/backups", json={"name": "modes.zip"}, headers=headers,
                             timeout=60).status_code == 204
        _assert_private(data_dir)
        assert (data_dir / "backups" / "modes.zip").exists()
        pid = server.process.pid
        assert requests.post(server.url + "/api/backups/modes.zip/restore", headers=headers,
                             timeout=60).status_code == 204
        # PocketBase restores, then re-executes itself in place (same pid, same umask).
        deadline = time.monotonic() + 30
        restarted = False
        while time.monotonic() < deadline and not restarted:
            time.sleep(0.2)
            try:
                restarted = requests.get(server.url + "/api/health", timeout=1).status_code == 200 and \
                    not (data_dir / ".pb_temp_to_delete").exists() and server.superuser_token() != ""
            except requests.RequestException:
                pass
        assert restarted and server.process.pid == pid
        _assert_private(data_dir)
    finally:
        server.stop()


def test_an_existing_data_dir_is_made_private_on_start(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    (data_dir / "old.txt").write_text("x")
    os.chmod(data_dir / "old.txt", 0o644)
    secure_data_dir(data_dir)
    assert _modes(data_dir) == {".": 0o700, "old.txt": 0o600}


def test_production_unit_runs_pocketbase_with_a_private_umask():
    unit = (Path(__file__).resolve().parent.parent / "deploy" / "systemd" / "bai-pocketbase.service").read_text()
    assert "\nUMask=0077\n" in unit
