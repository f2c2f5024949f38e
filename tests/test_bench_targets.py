"""bench/targets.py: each target's pass or miss from a run's figures."""
from __future__ import annotations

import pytest

from bench.targets import targets


def figures(name, conns, rps, p50=1.0, p99=2.0, non2xx=0, socket_errors=0, **extra):
    """One cell's figures, as bench/cells.py returns them."""
    return {"name": name, "conns": conns, "rps": rps, "ok": 100 - non2xx, "requests": 100, "non2xx": non2xx,
            "socket_errors": socket_errors, "p50_ms": p50, "p99_ms": p99, "seconds": 5.0,
            "cpu_ms": {"sidecar": 0.5, "pocketbase": 0.25}, **extra}


def results(*cells) -> dict:
    return {(r["name"], r["conns"]): r for r in cells}


def verdict(run: dict, label: str, conns_list=(8,)) -> tuple[bool, str]:
    (found,) = [(ok, value) for lab, ok, value in targets(run, list(conns_list)) if lab == label]
    return found


@pytest.mark.parametrize("rps, passed, value", [(500, True, "0.50x"), (499, False, "0.50x"), (100, False, "0.10x")])
def test_route_against_its_baseline(rps, passed, value):
    run = results(figures("login_returning", 8, rps), figures("native_refresh_nginx", 8, 1000))
    assert verdict(run, "returning-user login >= 0.5x native_refresh_nginx @ c=8") == (passed, value)


@pytest.mark.parametrize("sidecar_ms, passed, value", [(1.07, True, "1.07x (1.07 ms)"), (1.08, False, "1.08x (1.08 ms)")])
def test_sidecar_cpu_against_the_baselines_pocketbase_cpu_at_32_connections(sidecar_ms, passed, value):
    run = results(figures("users_count", 32, 500, cpu_ms={"sidecar": sidecar_ms, "pocketbase": 0.3}),
                  figures("native_list_nginx", 32, 1500, cpu_ms={"sidecar": 0.0, "pocketbase": 1.0}))
    label = "users-count sidecar CPU/request <= 1.07x native_list_nginx's PocketBase CPU/request @ c=32"
    assert verdict(run, label, (32,)) == (passed, value)


@pytest.mark.parametrize("rps, passed", [(30, True), (29, False)])
def test_upload_against_the_native_create_at_8_connections_only(rps, passed):
    run = results(figures("upload", 8, rps), figures("native_upload_nginx", 8, 100),
                  figures("upload", 32, 1), figures("native_upload_nginx", 32, 100))
    label = "upload (300 KB photo) >= 0.3x native_upload_nginx @ c=8"
    assert verdict(run, label, conns_list=(8, 32)) == (passed, f"{rps / 100:.2f}x")
    assert not [lab for lab, _, _ in targets(run, [8, 32]) if lab.startswith("upload") and "c=32" in lab]


@pytest.mark.parametrize("nginx_rps, passed, value", [(860, True, "14.0%"), (800, False, "20.0%")])
def test_nginx_overhead(nginx_rps, passed, value):
    run = results(figures("native_list_nginx", 8, nginx_rps), figures("native_list_direct", 8, 1000))
    assert verdict(run, "nginx overhead on native list <= 15% @ c=8") == (passed, value)


@pytest.mark.parametrize("per_s, non2xx, passed", [(300, 0, True), (299, 0, False), (400, 1, False)])
def test_first_login_burst(per_s, non2xx, passed):
    run = results(figures("login_new", 32, per_s, non2xx=non2xx, new_users=per_s * 5, new_users_per_s=per_s))
    ok, value = verdict(run, "first-login burst @ c=32 >= 300 new users/s, 0 errors", (32,))
    assert ok is passed and value == f"{per_s}/s, {non2xx} errors, {per_s * 5} created for {100 - non2xx} 2xx"


@pytest.mark.parametrize("p99, passed", [(50.0, True), (50.1, False)])
def test_tail_at_32_connections(p99, passed):
    run = results(figures("profile", 32, 500, p50=10.0, p99=p99))
    assert verdict(run, "p99 <= 5x p50 @ c=32: profile update", (32,))[0] is passed


def test_errors_anywhere_miss_the_last_target_and_absent_cells_are_skipped():
    run = results(figures("profile", 1, 500, non2xx=2), figures("users_count", 8, 500, socket_errors=1))
    assert targets(run, [1, 8]) == [("no errors anywhere", False, "3 non-2xx/socket errors in total")]
