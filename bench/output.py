"""Where the benchmark writes (bench/, bench/raw/) and its progress log on stdout."""
from __future__ import annotations

import time

from ops.processes import ROOT

BENCH = ROOT / "bench"
RAW = BENCH / "raw"


def log(msg: str) -> None:
    """One timestamped progress line on stdout."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)
