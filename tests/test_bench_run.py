"""bench/run.py's command line: its options and its refusal to start without wrk."""
from __future__ import annotations

from bench import run


def test_options_default_from_the_environment(monkeypatch):
    monkeypatch.setenv("BENCH_DURATION", "2")
    monkeypatch.setenv("BENCH_CONNS", "4")
    args = run.parse_args(["--only", "profile"])
    assert (args.duration, args.conns, args.only, args.keep) == (2, "4", "profile", False)
    assert args.output.endswith("bench/results.md")


def test_without_wrk_it_stops_before_starting_anything(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(run, "Stack", None)  # would fail if it tried
    assert run.main([]) == 1
