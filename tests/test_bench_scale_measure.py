"""bench/scale_measure.py's pure part: one cell from its rounds."""
from __future__ import annotations

from bench.scale_measure import combine, median
from tests.test_bench_scale_report import cell


def test_combine_takes_medians_and_sums_counts():
    rounds = [cell("login_new", 100, 1.0, new_users=400), cell("login_new", 300, 3.0, new_users=1200),
              cell("login_new", 200, 2.0, new_users=800)]
    out = combine(rounds)
    assert out["rps"] == 200 and out["cpu_ms"] == {"pocketbase": 2.0}
    assert out["rps_rounds"] == [100, 300, 200]
    assert out["requests"] == 2400 and out["new_users"] == 2400 and out["new_users_per_s"] == 200


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5 and median([3.0, 1.0, 2.0]) == 2.0
