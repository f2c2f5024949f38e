"""Failures of WeChat and PocketBase, through real processes (nginx -> gunicorn -> stub / PocketBase).

The WeChat faults run through a stack of this module (not the shared session stack) whose sidecar has
WECHAT_TIMEOUT=1 (an extra env var ops/stack.py passes to the sidecar), and one gunicorn worker so the
access_token cache under test is a single one. PocketBase stop/kill use another stack of their own.
"""
from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.helpers import PB, assert_envelope, route
from tests.stack_fixtures import start_stack, stop_and_check

WECHAT_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def fast_stack(tmp_path_factory):
    started = start_stack(tmp_path_factory.mktemp("faults-wechat"), WECHAT_TIMEOUT=str(WECHAT_TIMEOUT),
                          SIDECAR_WORKERS=1)
    yield started
    stop_and_check(started)


@pytest.fixture(scope="module")
def pb_stack(tmp_path_factory):
    started = start_stack(tmp_path_factory.mktemp("faults-pb"))
    yield started
    # PocketBase may have been restarted by a test: make sure stop() knows the current process.
    if started.pb and started.pb.process:
        started._track("pocketbase", started.pb.process)
    stop_and_check(started)


def stub_answered(stack, seconds: float = 30) -> None:
    """Wait until the WeChat stub has answered every request it was asked (a slow- code's, seconds later)."""
    deadline = time.monotonic() + seconds
    while requests.get(stack.stub_url + "/__stub/stats", timeout=5).json()["answering"]:
        assert time.monotonic() < deadline, f"the stub still answering after {seconds} s"
        time.sleep(0.05)


# (code suffix, expected status)
WECHAT_FAULTS = [
    ("slow-3", 503),
    ("http500", 502),
    ("garbage", 502),
    ("fail--1", 502),
    ("fail-45011", 429),
    ("fail-40029", 400),
    ("fail-40163", 400),
    ("fail-40226", 400),
]


@pytest.mark.parametrize("fault,status", WECHAT_FAULTS)
def test_login_wechat_fault(fast_stack, unique, fault, status):
    name = f"lf{unique}"
    code = f"slow-3.{name}" if fault == "slow-3" else f"{fault}.{name}"
    started = time.monotonic()
    response = route(fast_stack, "wechat/login", json={"users_wx_code": code})
    elapsed = time.monotonic() - started
    assert_envelope(response, status)
    assert elapsed < WECHAT_TIMEOUT + 1, elapsed
    if fault == "slow-3":
        stub_answered(fast_stack)  # nothing may be written after the timeout either
    # The only user this login could have made has its name in the openid (the stub's dev-openid-<name>).
    assert PB(fast_stack.pb).total("tbl_auth_users", f'openid ~ "{name}"') == 0


@pytest.mark.parametrize("fault,status", WECHAT_FAULTS)
def test_phone_wechat_fault(fast_stack, unique, fault, status):
    login = route(fast_stack, "wechat/login", json={"users_wx_code": f"pf{unique}"}).json()
    token, pb_id = login["token"], login["data"]["user"]["pb_id"]
    code = f"slow-3.phone-1360000{int(unique, 16) % 10000:04d}" if fault == "slow-3" else f"{fault}.x"
    started = time.monotonic()
    response = route(fast_stack, "wechat/profile", token, json={"users_phone_code": code, "users_name": "n"})
    elapsed = time.monotonic() - started
    assert_envelope(response, status)
    # One token fetch and one phone call, each bounded by the timeout.
    assert elapsed < WECHAT_TIMEOUT + 1, elapsed
    if fault == "slow-3":
        stub_answered(fast_stack)
    record = PB(fast_stack.pb).user(pb_id)
    assert record["users_phone"] == "" and record["users_name"] == ""


def test_access_token_invalidated_between_phone_updates(fast_stack, unique):
    stats_url = fast_stack.stub_url + "/__stub/stats"
    token = route(fast_stack, "wechat/login", json={"users_wx_code": f"tk{unique}"}).json()["token"]
    base = int(unique, 16) % 10000
    first = route(fast_stack, "wechat/profile", token, json={"users_phone_code": f"phone-1350000{base:04d}"})
    assert_envelope(first, 200)
    stable_before = requests.get(stats_url, timeout=5).json()["calls"]["/cgi-bin/stable_token"]
    assert requests.post(fast_stack.stub_url + "/__stub/expire-token", timeout=5).status_code == 200
    second = route(fast_stack, "wechat/profile", token, json={"users_phone_code": f"phone-1340000{base:04d}"})
    body = assert_envelope(second, 200)
    assert body["data"]["user"]["users_phone"] == f"1340000{base:04d}"
    stable_after = requests.get(stats_url, timeout=5).json()["calls"]["/cgi-bin/stable_token"]
    assert stable_after - stable_before == 1


def test_pocketbase_stopped_then_started(pb_stack, unique):
    login = route(pb_stack, "wechat/login", json={"users_wx_code": f"ps{unique}"}).json()
    token = login["token"]
    pb_stack.pb.stop()
    try:
        calls = [
            ("system/users-count", None, {}),
            ("wechat/login", None, {"users_wx_code": f"ps{unique}"}),
            ("wechat/profile", token, {"users_name": "x"}),
            ("system/refresh-token", token, {}),
        ]
        for path, bearer, body in calls:
            started = time.monotonic()
            response = route(pb_stack, path, bearer, timeout=20, json=body)
            assert time.monotonic() - started < 5, path
            assert_envelope(response, 503)
    finally:
        pb_stack.pb.start()
        pb_stack._track("pocketbase", pb_stack.pb.process)
    response = route(pb_stack, "system/users-count", json={})
    assert_envelope(response, 200)
    response = route(pb_stack, "wechat/profile", token, json={"users_name": f"back-{unique}"})
    assert_envelope(response, 200)
    assert response.json()["data"]["user"]["users_name"] == f"back-{unique}"


def test_pocketbase_sigkill_keeps_acknowledged_writes(pb_stack, unique):
    users = []
    for i in range(4):
        login = route(pb_stack, "wechat/login", json={"users_wx_code": f"k{unique}x{i}"}).json()
        users.append((login["token"], login["data"]["user"]["pb_id"]))
    acked_profiles: dict[str, int] = {}
    acked_companies: dict[str, str] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def profile_writer(token, pb_id):
        seq = 0
        while not stop.is_set():
            seq += 1
            try:
                response = route(pb_stack, "wechat/profile", token, timeout=10, json={"users_name": str(seq)})
            except requests.RequestException:
                continue
            if response.status_code == 200:
                assert response.json()["data"]["user"]["users_name"] == str(seq)
                with lock:
                    acked_profiles[pb_id] = seq

    def company_writer(k):
        seq = 0
        while not stop.is_set():
            seq += 1
            name = f"co-{unique}-{k}-{seq}"
            try:
                response = requests.post(pb_stack.base_url + "/pb/api/collections/tbl_company/records",
                                         json={"company_name": name}, timeout=10)
            except requests.RequestException:
                continue
            if response.status_code == 200:
                with lock:
                    acked_companies[response.json()["id"]] = name

    threads = [threading.Thread(target=profile_writer, args=u) for u in users]
    threads += [threading.Thread(target=company_writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60  # until each writer has had writes acknowledged
    while not (len(acked_profiles) == len(users) and len(acked_companies) > 10) and time.monotonic() < deadline:
        time.sleep(0.05)
    pb_stack.pb.kill()
    killed_at = time.monotonic()
    with lock:
        acked_before_kill = (dict(acked_profiles), dict(acked_companies))
    time.sleep(0.5)  # the writers go on against the killed PocketBase for a moment
    stop.set()
    for t in threads:
        t.join(15)
    try:
        pass
    finally:
        pb_stack.pb.start()
        pb_stack._track("pocketbase", pb_stack.pb.process)
    assert time.monotonic() - killed_at < 60
    # Writes acknowledged at any time (before or after the kill: after it every write fails).
    profiles, companies = acked_profiles, acked_companies
    assert len(acked_before_kill[0]) == len(users) and len(acked_before_kill[1]) > 10, acked_before_kill
    for pb_id, seq in profiles.items():
        record = PB(pb_stack.pb).user(pb_id)
        assert int(record["users_name"]) >= seq, (pb_id, record["users_name"], seq)
    ids = list(companies)
    found = {}
    for start in range(0, len(ids), 50):
        chunk = ids[start:start + 50]
        listed = PB(pb_stack.pb).request("GET", "/api/collections/tbl_company/records", params={
            "perPage": 50, "filter": " || ".join(f'id = "{i}"' for i in chunk)})
        assert listed.status_code == 200, listed.text
        rows = listed.json()["items"]
        found.update({r["id"]: r["company_name"] for r in rows})
    missing = {i: n for i, n in companies.items() if found.get(i) != n}
    assert not missing, f"{len(missing)} acknowledged company creates lost: {list(missing.items())[:5]}"
    # And the database is usable after the crash.
    assert "token" not in assert_envelope(route(pb_stack, "system/users-count", json={}), 200)
