"""gunicorn settings for `python -m bench.profile_sidecar profile --in-gunicorn` (this file is gunicorn's -c
when run so; imported, it gives the tool the variant that runs it): the variant's own deploy/gunicorn.conf.py
(SIDECAR_GUNICORN_CONF), plus cProfile in every thread of each worker, timed by the thread's CPU clock;
each worker, from the moment its app is loaded, writes its stats to PROFILE_DIR/<pid>.prof when it exits.
"""
import cProfile
import os
import sys
import threading
import time
from pathlib import Path

PROFILE_CONF = Path(__file__).resolve()

_OWN_CONF = os.environ.get("SIDECAR_GUNICORN_CONF")
if _OWN_CONF:  # gunicorn takes one -c: the variant's settings are read into this one
    _settings = {"__file__": _OWN_CONF}  # it finds its neighbours (deploy/gunicorn_worker.py) by __file__
    exec(compile(Path(_OWN_CONF).read_text(), _OWN_CONF, "exec"), _settings)
    globals().update({name: value for name, value in _settings.items() if not name.startswith("__")})

_profiles = []


def _start_profiling():
    profiler = cProfile.Profile(time.thread_time)
    _profiles.append(profiler)
    profiler.enable()


def _on_new_thread(frame, event, arg):
    # Runs once, on a new thread's first call: hand the thread over to its own profiler.
    sys.setprofile(None)
    _start_profiling()


def post_worker_init(worker):
    # After the app is loaded (imports, schema.yaml): only serving is profiled.
    threading.setprofile(_on_new_thread)
    _start_profiling()


def worker_exit(server, worker):
    import pstats
    for profiler in _profiles:
        profiler.disable()
    stats = pstats.Stats(*_profiles)
    stats.dump_stats(os.path.join(os.environ["PROFILE_DIR"], f"{os.getpid()}.prof"))


def profiled_variant(profile_dir: Path):
    """The working tree's sidecar with these settings, writing its workers' stats into profile_dir."""
    from bench.sidecar_alone import Variant
    profile_dir.mkdir(parents=True, exist_ok=True)
    return Variant("profiled", ".", ["-c", str(PROFILE_CONF)], {"PROFILE_DIR": str(profile_dir)})


def worker_stats(profile_dir: Path):
    """The merged stats of every worker that wrote them."""
    import pstats
    files = sorted(str(p) for p in profile_dir.glob("*.prof"))
    if not files:
        raise RuntimeError(f"no worker wrote its profile into {profile_dir}")
    return pstats.Stats(*files, stream=open(os.devnull, "w"))
