"""bench/wrk.py: reading the summary line bench/common.lua makes wrk print."""
from __future__ import annotations

import pytest

from bench import wrk

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:8080/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.01ms    5.10ms  80.00ms   90.00%
  2500 requests in 5.00s, 1.20MB read
BENCH_JSON {"duration_us": 5000000, "requests": 2500, "bytes": 1258291, "errors": {"connect": 1, "read": 2, \
"write": 0, "status": 40, "timeout": 3}, "latency_us": {"mean": 12010.5, "p50": 11500, "p90": 20000, \
"p99": 45250, "max": 80000}, "statuses": {"200": 2440, "201": 20, "429": 30, "502": 10}}
Requests/sec:    500.00
"""


def test_summary_counts_2xx_and_socket_errors_apart_from_http_errors():
    r = wrk.parse_summary(WRK_OUTPUT, "profile", 8)
    assert r == {"name": "profile", "conns": 8, "rps": 500.0, "ok": 2460, "requests": 2500, "non2xx": 40,
                 "socket_errors": 6, "statuses": {"200": 2440, "201": 20, "429": 30, "502": 10},
                 "p50_ms": 11.5, "p99_ms": 45.25, "seconds": 5.0}


def test_output_without_summary_is_an_error_quoting_it():
    with pytest.raises(RuntimeError, match=r"wrk profile c=8 gave no summary:\n.*unable to connect"):
        wrk.parse_summary("unable to connect to 127.0.0.1:1 Connection refused\n", "profile", 8)


def test_missing_wrk_is_reported(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert wrk.wrk_installed() is False
    assert "wrk is not installed" in capsys.readouterr().err
