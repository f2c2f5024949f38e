"""bench/scale.py's command line: its options and its refusal to measure without wrk."""
from __future__ import annotations

from bench import scale


def test_options_default_from_the_environment(monkeypatch):
    for name, value in {"BENCH_SIZES": "10,20", "BENCH_DURATION": "1", "BENCH_ROUNDS": "2", "BENCH_CONNS": "4"}.items():
        monkeypatch.setenv(name, value)
    args = scale.parse_args([])
    assert (args.sizes, args.duration, args.rounds, args.conns, args.render) == ("10,20", 1, 2, 4, False)


def test_without_wrk_it_stops_before_measuring(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(scale, "measure", None)  # would fail if it tried
    assert scale.main([]) == 1
