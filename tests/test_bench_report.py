"""bench/report.py: the tables and the layout of results.md, from a small fixed run."""
from __future__ import annotations

from types import SimpleNamespace

from bench import report
from bench.scale_report import MARKER
from tests.test_bench_targets import figures, results

RUN = results(
    figures("login_returning", 8, 250.0, p50=4.0, p99=12.0, cpu_ms={"sidecar": 1.5, "pocketbase": 0.5, "nginx": 0.25}),
    figures("login_new", 8, 120.0, p50=6.0, p99=30.0, non2xx=1, new_users=590, new_users_per_s=118.0),
    figures("native_refresh_nginx", 1, 900.0),
    figures("native_refresh_nginx", 8, 1000.0, socket_errors=2),
)
MEMORY = {"pocketbase_kb": 40960, "gunicorn_master_kb": 20480, "gunicorn_workers_kb": [30720, 31744]}
FACTS = {"nproc": 2, "cpu": "EPYC", "memory": "1.0 GiB", "kernel": "6.1", "pocketbase": "pocketbase 0.40",
         "python": "3.11", "gunicorn": "gunicorn 23", "nginx": "nginx 1.22", "wrk": "wrk 4.1"}


def test_table_rows_in_scenario_order_with_ratio_to_the_baseline():
    assert report.table(RUN, [1, 8]).splitlines()[2:] == [
        "| login (returning user) | 8 | 250 | 4.0 | 12.0 | 3.0 | 0 | 0 | 0.25x native_refresh_nginx |",
        "| login (new user burst) (590 new users, 118/s) | 8 | 120 | 6.0 | 30.0 | 5.0 | 1 | 0 | "
        "0.12x native_refresh_nginx |",
        "| native auth-refresh via nginx | 1 | 900 | 1.0 | 2.0 | 2.0 | 0 | 0 |  |",
        "| native auth-refresh via nginx | 8 | 1000 | 1.0 | 2.0 | 2.0 | 0 | 2 |  |",
    ]


def test_cpu_table_at_one_connection_count():
    lines = report.cpu_table(RUN, 8).splitlines()
    assert lines[0] == "| route | sidecar (gunicorn) | PocketBase | nginx | WeChat stub | total |"
    assert lines[2] == "| login (returning user) | 1.50 | 0.50 | 0.25 | 0.00 | 2.25 |"
    assert len(lines) == 5


def test_render_lays_out_the_sections_and_keeps_the_cost_curve_last():
    config = SimpleNamespace(sidecar_workers=3)
    text = report.render(RUN, [1, 8], MEMORY, FACTS, config, {"seconds": 1.5, "counts": {"tbl_company": 1}}, 5)
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[:7] == ["## Machine and versions", "## Data", "## Results",
                            "## Where the CPU goes (ms of CPU per request, c=8)", "## Memory after the run (VmRSS)",
                            "## Targets", "## What limits it"]
    assert "- gunicorn: gevent, 3 workers" in text
    assert "- gunicorn master: 20 MiB; workers: 30, 31 MiB (total 61 MiB)" in text
    assert "- **MISS** returning-user login >= 0.5x native_refresh_nginx @ c=8: 0.25x" in text
    assert "- **MISS** no errors anywhere: 3 non-2xx/socket errors in total" in text
    assert text.index("## What limits it") < text.index(MARKER)
