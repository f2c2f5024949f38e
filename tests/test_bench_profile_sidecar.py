"""bench/profile_sidecar.py, bench/sidecar_alone.py and bench/inprocess.py: variants, rounds, summaries,
the split of a profile into the parts of a request, and the in-process caller."""
from __future__ import annotations

import json
import re
import subprocess
from types import SimpleNamespace

import pytest
from flask import Flask, request

from bench import inprocess, profile_sidecar, sidecar_alone
from bench.sidecar_alone import Variant, parse_variant


@pytest.mark.parametrize("spec, label, ref, args", [
    ("A=HEAD~1", "A", "HEAD~1", []),
    ("B=.", "B", ".", []),
    ("sync=.:--worker-class sync --workers 3", "sync", ".", ["--worker-class", "sync", "--workers", "3"]),
    ("k=:--worker-class gthread", "k", ".", ["--worker-class", "gthread"]),
])
def test_a_variant_is_a_label_a_ref_and_gunicorn_arguments(spec, label, ref, args):
    variant = parse_variant(spec)
    assert (variant.label, variant.ref, variant.gunicorn_args) == (label, ref, args)


@pytest.mark.parametrize("spec", ["HEAD", "=HEAD", ""])
def test_a_variant_without_label_is_refused(spec):
    with pytest.raises(ValueError, match="LABEL=REF"):
        parse_variant(spec)


def test_the_working_tree_is_used_in_place_and_a_ref_is_extracted_without_touching_the_repository(tmp_path):
    assert sidecar_alone.source_tree(".", tmp_path) == sidecar_alone.ROOT
    tree = sidecar_alone.source_tree("HEAD", tmp_path)
    assert (tree / "sidecar" / "__init__.py").is_file() and (tree / "deploy" / "gunicorn.conf.py").is_file()
    assert tree.parent == tmp_path
    status = subprocess.run(["git", "-C", str(sidecar_alone.ROOT), "worktree", "list"], capture_output=True, text=True)
    assert str(tmp_path) not in status.stdout


def test_rounds_alternate_the_order_so_no_variant_always_goes_first():
    assert [profile_sidecar.round_order(["A", "B", "C"], n) for n in range(3)] == \
        [["A", "B", "C"], ["C", "B", "A"], ["A", "B", "C"]]


def row(variant, n, cpu, pb=0.5, rps=100.0, errors=0):
    return {"variant": variant, "round": n, "sidecar_cpu_ms": cpu, "pocketbase_cpu_ms": pb, "rps": rps,
            "non2xx": errors}


def test_the_summary_compares_medians_and_pairs_of_the_same_round():
    rows = [row("A", 1, 1.0), row("B", 1, 0.8), row("A", 2, 2.0), row("B", 2, 1.0, errors=3),
            row("A", 3, 1.0), row("B", 3, 1.1)]
    summary = profile_sidecar.summarize(rows, ["A", "B"])
    a, b = summary["variants"]["A"], summary["variants"]["B"]
    assert (a["sidecar_cpu_ms"], b["sidecar_cpu_ms"]) == (1.0, 1.0)
    assert b["ratio_of_medians"] == 1.0
    assert b["paired_ratio_median"] == pytest.approx(0.8)  # the pairs: 0.8, 0.5, 1.1
    assert b["pairs_below_1"] == "2/3" and b["errors"] == 3 and "ratio_of_medians" not in a
    table = profile_sidecar.ab_table(summary)
    assert "| B | 1.000 | 1.000 | 0.800 | 2/3 | 0.500 | 100 | 3 |" in table


@pytest.mark.parametrize("argv", [["profile", "--routes", "users_count,nope"], ["ab", "A"], ["ab"],
                                  ["ab", "A=.", "B=.", "--route", "nope"]])
def test_bad_command_lines_are_refused(argv):
    with pytest.raises(SystemExit) as exc:
        profile_sidecar.parse_args(argv)
    assert exc.value.code == 2


def test_common_options_come_after_the_command():
    args = profile_sidecar.parse_args(["ab", "A=HEAD", "B=.", "--seconds", "2", "--conns", "32", "--in-process"])
    assert (args.seconds, args.conns, args.in_process, [v.label for v in args.variants]) == (2, 32, True, ["A", "B"])


@pytest.mark.parametrize("filename, part", [
    ("/x/site-packages/gunicorn/workers/gthread.py", "gunicorn"),
    ("/usr/lib/python3.11/http/client.py", "PocketBase call (http.client, socket)"),
    ("/w/sidecar/httppool.py", "PocketBase call (http.client, socket)"),
    ("/x/site-packages/requests/sessions.py", "WeChat call (requests, urllib3)"),
    ("/usr/lib/python3.11/json/encoder.py", "JSON encode/decode"),
    ("/w/sidecar/jsonprovider.py", "JSON encode/decode"),
    ("/w/sidecar/requestlog.py", "request log (logging)"),
    ("/x/site-packages/werkzeug/local.py", "Flask + Werkzeug (contexts, routing, request/response)"),
    ("/w/sidecar/routes/system.py", "our routes and services"),
    ("/usr/lib/python3.11/uuid.py", inprocess.OTHER),
    ("~", None),
])
def test_functions_are_put_in_the_part_of_their_file(filename, part):
    assert inprocess.category(filename) == part


def test_a_builtins_own_time_is_shared_among_its_callers_parts():
    log, flask, builtin = ("/w/sidecar/requestlog.py", 1, "f"), ("/x/flask/app.py", 2, "g"), ("~", 0, "<len>")
    stats = SimpleNamespace(stats={
        log: (1, 1, 1.0, 1.0, {}),
        flask: (1, 1, 2.0, 2.0, {}),
        builtin: (4, 4, 3.0, 3.0, {log: (1, 1, 1.0, 1.0), flask: (3, 3, 2.0, 2.0)}),
    })
    shares = inprocess.breakdown(stats)
    assert shares == pytest.approx({"request log (logging)": 2.0 / 6,
                                    "Flask + Werkzeug (contexts, routing, request/response)": 4.0 / 6})


def test_the_caller_sends_each_routes_requests_as_nginx_passes_them():
    app = Flask(__name__)
    seen = []

    @app.post("/pb/api/<path:rest>")
    def anything(rest):
        seen.append((rest, request.headers.get("Authorization", ""), request.headers["X-Real-IP"],
                     json.loads(request.get_data())))
        return "ok"

    for route in ("users_count", "refresh_token", "login_returning", "profile"):
        call = inprocess.Caller(app, inprocess.route_requests(route, ["tok1", "tok2"], n_users=3, count=4))
        for _ in range(5):
            call()
        assert call.statuses == {"200": 5}
    assert seen[0] == ("system/users-count", "", "203.0.113.7", {})
    assert seen[5][:2] == ("system/refresh-token", "Bearer tok1") and seen[6][1] == "Bearer tok2"
    assert [s[3] for s in seen[10:15]] == [{"users_wx_code": f"benchuser{n % 3}.{n}"} for n in (0, 1, 2, 3, 0)]
    assert seen[15][:2] == ("wechat/profile", "Bearer tok1") and seen[15][3] == {"users_tag": "bench-tag-0"}
    with pytest.raises(ValueError, match="unknown route"):
        inprocess.route_requests("nope", [], 1)


def test_the_profile_table_puts_gunicorns_share_first_and_sums_to_the_served_cost():
    table = profile_sidecar.profile_table({"gunicorn_cpu_ms": 1.0, "in_process_cpu_ms": 0.4, "pocketbase_cpu_ms": 0.3,
                                           "system_cpu_ms": 0.25, "parts_ms": {"Flask": 0.3, "JSON": 0.1}})
    lines = table.splitlines()
    assert lines[2].endswith("| 0.600 | 60% |") and "| Flask | 0.300 | 30% |" in table
    assert "| **sidecar under gunicorn (from /proc)** | **1.000** | 100% |" in table
    assert "| (of which in the kernel: sockets, epoll, futexes) | 0.250 | 25% |" in table


def test_a_variant_knows_its_url():
    assert Variant("A", port=8123).url == "http://127.0.0.1:8123"


def test_an_in_process_ab_of_the_working_tree_and_head_runs_on_real_processes(capsys, monkeypatch):
    monkeypatch.setattr(profile_sidecar, "wrk_installed", lambda: False)  # not needed in-process
    assert profile_sidecar.main(["ab", "A=HEAD", "B=.", "--in-process", "--rounds", "2", "--calls", "30",
                                 "--route", "refresh_token", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    a, b = ([cell.strip() for cell in line.split("|")[1:-1]] for line in out.splitlines()
            if line.startswith(("| A |", "| B |")))
    assert float(a[1]) > 0 and float(b[1]) > 0 and re.fullmatch(r"[0-2]/2", b[4])
    assert a[-1] == b[-1] == "0"  # every call answered 2xx


def test_a_run_through_gunicorn_needs_wrk(monkeypatch):
    monkeypatch.setattr(profile_sidecar, "wrk_installed", lambda: False)
    assert profile_sidecar.main(["ab", "A=HEAD", "B=."]) == 1
    assert profile_sidecar.main(["profile"]) == 1
