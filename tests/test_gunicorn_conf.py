"""deploy/gunicorn.conf.py: the one file of gunicorn's settings, for `make run` and the systemd unit alike."""
from __future__ import annotations

import re
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


def test_request_line_and_header_limits_agree_with_nginx():
    """gunicorn never refuses (with its own HTML page) a request line or header line nginx passes on."""
    template = (ROOT / "deploy" / "nginx-api-server.conf.template").read_text()
    size, unit = re.search(r"^large_client_header_buffers \d+ (\d+)([km]?);", template, re.M).groups()
    nginx_bound = int(size) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit]
    conf = runpy.run_path(str(GUNICORN_CONF))
    assert conf["limit_request_line"] == 0 or conf["limit_request_line"] >= nginx_bound  # 0: no limit of its own
    assert conf["limit_request_field_size"] >= nginx_bound
