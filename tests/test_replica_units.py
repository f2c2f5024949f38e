"""The production units of replication against moto's S3 server: bai-litestream.service's command becomes
`litestream replicate` with the key in its environment only; bai-pocketbase.service's ExecStartPre checks the
replica before PocketBase starts."""
from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops.processes import ROOT, ManagedProcess
from ops.replica import DB_NAME
from sidecar.replica import replica_status
from tests.test_replica_drill import BUCKET, replica_settings, s3  # noqa: F401 - s3 is a fixture

# -- the production units ------------------------------------------------------------------------------------

UNITS = ROOT / "deploy" / "systemd"


def unit_command(unit: str, name: str, **paths) -> tuple[list[str], dict]:
    """A unit's `/usr/bin/env A=.. B=.. <venv python> -m ...` directive as argv (this venv's python) and the
    variables it sets, those given in paths replaced by this test's paths."""
    joined = re.sub(r"\\\n\s*", " ", (UNITS / unit).read_text())
    values = [line.split("=", 1)[1].strip() for line in joined.splitlines() if line.startswith(f"{name}=")]
    assert len(values) == 1, f"{name}= appears {len(values)} times in {unit}"
    argv = values[0].split()
    assert argv[0] == "/usr/bin/env", argv
    assigned = dict(arg.split("=", 1) for arg in argv[1:] if "=" in arg)
    command = [arg for arg in argv[1:] if "=" not in arg]
    assert command[0] == "/opt/bai-wechat-backend/.venv/bin/python" and set(paths) <= set(assigned)
    for secret_name in ("S3_SECRET", "S3_ACCESS_KEY", "PASSWORD"):
        assert secret_name not in values[0]
    return [sys.executable, *command[1:]], {**assigned, **{key: str(value) for key, value in paths.items()}}


def unit_env(settings: dict, assigned: dict) -> dict:
    """The environment systemd gives the command: the env file's settings, then the directive's own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("S3_", "REPLICA_", "PB_"))}
    return {**env, **{key: str(value) for key, value in settings.items()}, **assigned}


@pytest.mark.slow
def test_the_units_replicate_and_refuse_an_empty_data_dir_over_a_full_replica(s3, tmp_path):
    settings = replica_settings(s3, "unit/data.db")
    data_dir, run_dir = tmp_path / "pb_data", tmp_path / "run"
    data_dir.mkdir(mode=0o700)
    run_dir.mkdir(mode=0o750)  # systemd's RuntimeDirectory=
    with sqlite3.connect(data_dir / DB_NAME) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")

    argv, assigned = unit_command("bai-litestream.service", "ExecStart", PB_DATA_DIR=data_dir,
                                  REPLICA_SOCKET=run_dir / "litestream.sock")
    unit = ManagedProcess("bai-litestream", argv, tmp_path / "unit.log", env=unit_env(settings, assigned)).start()
    try:
        end = time.monotonic() + 30
        while replica_status(True, str(run_dir / "litestream.sock"))["status"] != "ok":
            assert unit.alive() and time.monotonic() < end, unit.log_tail()
            time.sleep(0.2)
        # The python command became Litestream (systemd's main process), the key not on its command line.
        cmdline = Path(f"/proc/{unit.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[0].endswith(b"/litestream") and cmdline[1] == b"replicate"
        assert s3.secret.encode() not in b" ".join(cmdline)
        conf = run_dir / "litestream.yml"
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600 and s3.secret not in conf.read_text()
    finally:
        unit.stop()

    pre_argv, pre_assigned = unit_command("bai-pocketbase.service", "ExecStartPre", PB_DATA_DIR=data_dir)
    kept = subprocess.run(pre_argv, cwd=ROOT, env=unit_env(settings, pre_assigned), capture_output=True,
                          text=True, timeout=120)
    assert kept.returncode == 0 and f"Replica: data.db -> s3://{BUCKET}/unit/data.db" in kept.stdout, kept.stderr
    empty = dict(pre_assigned, PB_DATA_DIR=str(tmp_path / "empty"))
    fresh = subprocess.run(pre_argv, cwd=ROOT, env=unit_env(settings, empty), capture_output=True, text=True,
                           timeout=120)
    assert fresh.returncode == 1 and fresh.stdout == "" and fresh.stderr.count("\n") == 1, fresh.stderr
    assert "has no database but the replica" in fresh.stderr and s3.secret not in fresh.stderr
    off = subprocess.run(pre_argv, cwd=ROOT, env=unit_env(s3.settings(), empty), capture_output=True, text=True,
                         timeout=120)
    assert off.returncode == 0 and "Replica: off" in off.stdout, off.stderr
