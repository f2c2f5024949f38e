"""sidecar/offload.py: CPU-bound work leaves gevent's event loop for a real thread, and only under gevent."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

import sidecar.offload
from ops.processes import ROOT
from sidecar.errors import status_and_message
from sidecar.offload import UploadsBusy, in_gevent, run_off_loop, upload_slot


def test_outside_gevent_the_function_runs_in_the_calling_thread():
    assert not in_gevent()
    assert run_off_loop(threading.get_ident) == threading.get_ident()
    assert run_off_loop(divmod, 7, 2) == (3, 1)


def test_outside_gevent_its_exception_is_raised_as_it_is():
    with pytest.raises(ZeroDivisionError):
        run_off_loop(divmod, 1, 0)


def run_patched(code: str) -> str:
    """code run in a fresh interpreter patched by gevent as gunicorn's gevent worker patches it; its stdout.
    Nothing may reach stderr (where a gevent worker's stray tracebacks go: sidecar.log)."""
    script = "from gevent import monkey; monkey.patch_all()\n" + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return out.stdout.strip()


def test_under_gevent_the_loop_keeps_serving_while_the_work_runs_in_another_thread():
    out = run_patched("""
        import gevent
        from gevent.monkey import get_original
        from sidecar.offload import in_gevent, run_off_loop
        real_ident = get_original("threading", "get_ident")
        real_sleep = get_original("time", "sleep")
        ticks = []

        def ticker():  # another request's greenlet: it runs only while the loop is free
            for _ in range(10):
                ticks.append(1)
                gevent.sleep(0.01)

        def work():  # CPU-bound work that does not yield to gevent (as Pillow's decode does not)
            real_sleep(0.3)
            return real_ident(), len(ticks)

        greenlet = gevent.spawn(ticker)
        gevent.sleep(0)
        worker_ident, ticks_meanwhile = run_off_loop(work)
        greenlet.join()
        import sidecar.offload as offload
        print(in_gevent(), worker_ident != real_ident(), ticks_meanwhile,
              offload._pool.maxsize == offload.PICTURE_THREADS and offload._pool is not gevent.get_hub().threadpool)
    """)
    patched, other_thread, ticks_meanwhile, own_pool = out.split()
    assert (patched, other_thread, own_pool) == ("True", "True", "True")
    assert int(ticks_meanwhile) >= 5, out  # blocked in place, the ticker would have ticked once


def test_under_gevent_the_works_exception_reaches_the_caller_and_nothing_prints_its_traceback():
    out = run_patched("""
        from sidecar.offload import run_off_loop
        from sidecar.uploads import UploadRejected, clean
        try:
            run_off_loop(clean, b"\\xff\\xd8\\xff\\xe0 not a whole JPEG")
        except UploadRejected as exc:
            print("refused", exc.msg)
    """)
    assert out.startswith("refused "), out


def test_an_upload_slot_is_given_back_whatever_the_block_raises(monkeypatch):
    monkeypatch.setattr(sidecar.offload, "_uploads", threading.BoundedSemaphore(1))
    monkeypatch.setattr(sidecar.offload, "UPLOAD_WAIT_SECONDS", 0.05)
    with pytest.raises(ZeroDivisionError):
        with upload_slot():
            divmod(1, 0)
    with upload_slot():  # the one place is free again
        with pytest.raises(UploadsBusy) as refused:
            with upload_slot():
                pass
    assert status_and_message(refused.value) == (503, "上传繁忙,请稍后再试")
