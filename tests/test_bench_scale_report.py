"""bench/scale_report.py: the verdicts and the cost-curve section kept in results.md."""
from __future__ import annotations

import pytest

from bench import scale_report


def cell(name, rps, cpu, **extra):
    return {"name": name, "conns": 8, "rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "seconds": 4.0,
            "cpu_ms": {"pocketbase": cpu}, "non2xx": 0, "socket_errors": 0, "requests": int(rps * 4),
            "ok": int(rps * 4), **extra}


def data(rps_small, rps_large, cpu_small, cpu_large):
    sizes = []
    for users, rps, cpu in ((10, rps_small, cpu_small), (1000, rps_large, cpu_large)):
        sizes.append({"users": users, "counts": {"tbl_auth_users": users}, "seed_seconds": 1, "start_seconds": 1,
                      "queries": [], "results": [cell("users_count", rps, cpu)]})
    return {"generated": "now", "conns": 8, "duration": 4, "rounds": 1, "total_seconds": 60, "sizes": sizes}


@pytest.mark.parametrize("rps_large, cpu_large, rps_verdict, cpu_verdict", [
    (90, 1.1, "yes", "yes"),
    (70, 1.1, "**no**", "yes"),
    (100, 2.0, "yes", "**no**"),
])
def test_verdicts_compare_largest_with_smallest(rps_large, cpu_large, rps_verdict, cpu_verdict):
    (_, _, rps_ratio, cpu_ratio), = [v for v in scale_report.verdicts(data(100, rps_large, 1.0, cpu_large))
                                     if v[0] == "users_count"]
    assert scale_report.within(rps_ratio) == rps_verdict and scale_report.within(cpu_ratio) == cpu_verdict


def test_section_replaces_itself_and_keeps_the_rest_of_results(tmp_path):
    results = tmp_path / "results.md"
    results.write_text("# Benchmark results\n\nthe default run\n")
    scale_report.splice_results(scale_report.render_section(data(100, 50, 1.0, 2.0)), results)
    scale_report.splice_results(scale_report.render_section(data(100, 95, 1.0, 1.0)), results)
    text = results.read_text()
    assert text.startswith("# Benchmark results\n\nthe default run\n")
    assert text.count(scale_report.MARKER) == 1 and "| users-count | 100 | 95 | 0.95x | yes" in text
    assert "![req/s and CPU per request against users](scale.png)" in text
