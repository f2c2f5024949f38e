"""deploy/gunicorn.conf.py: the one file of gunicorn's settings, for `make run` and the systemd unit alike, and
the worker model it sets: a gevent worker keeps serving while one of its requests waits or works."""
from __future__ import annotations

import io
import re
import runpy
import threading
import time

import pytest
import requests
from PIL import Image

from ops.processes import ROOT
from ops.stack import GUNICORN_CONF
from ops.stack_config import StackConfig
from tests.helpers import assert_envelope, login_through, route
from tests.stack_fixtures import start_stack, stop_and_check

UNIT = ROOT / "deploy" / "systemd" / "bai-sidecar.service"


def test_fallback_is_make_runs_default(monkeypatch):
    monkeypatch.delenv("SIDECAR_WORKERS", raising=False)
    conf = runpy.run_path(str(GUNICORN_CONF))
    assert conf["workers"] == StackConfig.sidecar_workers >= 1
    assert conf["worker_class"] == "gevent"  # gunicorn's own; its stop: tests/test_gunicorn_stop.py
    assert "threads" not in conf  # gevent's workers have none: the setting would only mislead


def test_workers_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SIDECAR_WORKERS", "5")
    assert runpy.run_path(str(GUNICORN_CONF))["workers"] == 5


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


@pytest.mark.parametrize("template", ["nginx.conf.template", "nginx-production.conf.template"])
def test_nginx_closes_an_idle_sidecar_connection_before_gunicorn_and_a_stop_waits_less_than_graceful_timeout(template):
    """nginx never reuses a connection gunicorn closed meanwhile (a POST on it would get a 502), and a stopping
    worker's idle connections end (at nginx's close) well within graceful_timeout."""
    upstream = re.search(r"upstream sidecar \{(.*?)\n\s*\}", (ROOT / "deploy" / template).read_text(), re.S).group(1)
    nginx_idle = int(re.search(r"keepalive_timeout (\d+)s;", upstream).group(1))
    conf = runpy.run_path(str(GUNICORN_CONF))
    assert nginx_idle + 1 <= conf["keepalive"] < conf["graceful_timeout"]


# -- the worker model, on a stack with one gunicorn worker (as make run has on two cores) -------------------

WECHAT_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    started = start_stack(tmp_path_factory.mktemp("one-worker"), SIDECAR_WORKERS=1,
                          WECHAT_TIMEOUT=str(WECHAT_TIMEOUT))
    yield started
    stop_and_check(started)


def users_counts_during(stack, busy) -> tuple[float, list[float]]:
    """busy() run in a thread while users-count is asked one request after another until busy returns:
    (busy's seconds, each users-count's seconds)."""
    done = threading.Event()
    took = []

    def run():
        started = time.monotonic()
        try:
            busy()
        finally:
            took.append(time.monotonic() - started)
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    counts = []
    while not done.is_set():
        started = time.monotonic()
        assert_envelope(route(stack, "system/users-count"), 200)
        counts.append(time.monotonic() - started)
    thread.join()
    return took[0], counts


def big_photo() -> bytes:
    """A 49-megapixel JPEG (UPLOAD_MAX_PIXELS is 50) shot in portrait (EXIF Orientation 6): decoding it,
    turning it upright and encoding it again is a few hundred ms of CPU; a gradient, so the file stays small."""
    gradient = Image.linear_gradient("L").resize((7000, 7000))
    image = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, exif=exif)
    return out.getvalue()


def test_a_slow_wechat_call_does_not_hold_up_the_workers_other_requests(one_worker, unique):
    def slow_login():
        response = route(one_worker, "wechat/login", json={"users_wx_code": f"slow-3.slowlogin{unique}"})
        assert_envelope(response, 503)  # WeChat answered after WECHAT_TIMEOUT

    login_took, counts = users_counts_during(one_worker, slow_login)
    assert login_took >= WECHAT_TIMEOUT
    # Blocking the worker, the users-count asked just after the login would have waited ~WECHAT_TIMEOUT.
    assert len(counts) >= 3 and max(counts) < login_took / 2, (login_took, counts)


def test_an_uploads_picture_work_does_not_hold_up_the_workers_other_requests(one_worker, unique):
    token, _ = login_through(one_worker, f"bigphoto{unique}")
    photo = big_photo()

    def upload():
        response = route(one_worker, "wechat/upload", token, files={"file": ("portrait.jpg", photo, "image/jpeg")})
        attachment = assert_envelope(response, 200)["data"]["attachment"]
        assert attachment["attachments_filetype"] == "image/jpeg"

    upload_took, counts = users_counts_during(one_worker, upload)
    # Done on the event loop, the picture work (most of the upload) would hold a users-count for all of it.
    assert len(counts) >= 3 and max(counts) < upload_took / 2, (upload_took, counts)
