"""deploy/gunicorn.conf.py: the one file of gunicorn's settings, for `make run` and the systemd unit alike."""
from __future__ import annotations

import runpy

from ops.processes import ROOT
from ops.stack import GUNICORN_CONF
from ops.stack_config import StackConfig

UNIT = ROOT / "deploy" / "systemd" / "bai-sidecar.service"


def test_fallbacks_are_make_runs_defaults(monkeypatch):
    monkeypatch.delenv("SIDECAR_WORKERS", raising=False)
    monkeypatch.delenv("SIDECAR_THREADS", raising=False)
    conf = runpy.run_path(str(GUNICORN_CONF))
    assert (conf["workers"], conf["threads"]) == (StackConfig.sidecar_workers, StackConfig.sidecar_threads)
    assert conf["worker_class"] == "gthread"


def test_workers_and_threads_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SIDECAR_WORKERS", "5")
    monkeypatch.setenv("SIDECAR_THREADS", "3")
    conf = runpy.run_path(str(GUNICORN_CONF))
    assert (conf["workers"], conf["threads"]) == (5, 3)


def test_systemd_unit_reads_the_same_file_and_sets_nothing_else_but_bind_and_name():
    exec_start = UNIT.read_text().split("ExecStart=", 1)[1].split("\n# ", 1)[0]
    flags = [word for word in exec_start.split() if word.startswith("-")]
    assert f"/opt/bai-wechat-backend/{GUNICORN_CONF.relative_to(ROOT)}" in exec_start
    assert flags == ["-c", "--bind", "--name"], flags
