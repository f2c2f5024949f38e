"""bench/image_work.py: every step of the picture work is timed, and they add up to about clean() in all."""
from __future__ import annotations

from bench.image_work import measure


def test_every_step_is_timed():
    figures = measure(rounds=3)
    assert list(figures) == ["open", "decode", "turn", "encode", "md5", "clean() in all"]
    assert all(ms >= 0 for ms in figures.values()) and figures["decode"] > 0 and figures["clean() in all"] > 0
