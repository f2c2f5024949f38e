"""The replication drills (issue #21) with real processes against moto's S3 server: the start checks, a bucket
that stops answering, a machine SIGKILLed mid-stream and brought back from the replica, a point in time."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import stat
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from ops.pbserver import PocketBaseServer
from ops.processes import ROOT, free_port
from ops.replica import DB_NAME
from ops.stack import Stack, StackConfig, StackError
from sidecar.replica import BEHIND_AFTER_SECONDS
from tests.helpers import PB, route
from tests.stack_fixtures import stack_settings, start_stack, stop_and_check
from tests.test_storage import BUCKET, MotoS3

# -- real Litestream against moto's S3 server ----------------------------------------------------------------


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    server = MotoS3(tmp_path_factory.mktemp("moto"))
    yield server
    server.process.stop()


def replica_settings(s3, path: str, **changes) -> dict:
    """A stack's settings with files in moto's bucket and data.db replicated to s3://<bucket>/<path>."""
    return {**s3.settings(), "REPLICA_URL": f"s3://{BUCKET}/{path}", **changes}


def make_command(settings: dict, data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """`make <args>` as an operator with these settings runs it (no .env of the developer's)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("S3_", "REPLICA_", "PB_"))}
    env.update({key: str(value) for key, value in settings.items()}, PB_DATA_DIR=str(data_dir))
    return subprocess.run(["make", "-s", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def wait_synced(stack: Stack, deadline: float = 20) -> dict:
    """The health route's replica object once Litestream has synced within the last second."""
    end = time.monotonic() + deadline
    while True:
        replica = requests.get(stack.base_url + "/pb/api/system/health", timeout=10).json()["data"]["replica"]
        if replica["status"] == "ok" and replica["lag_seconds"] is not None and replica["lag_seconds"] <= 1.0:
            return replica
        assert time.monotonic() < end, f"the replica did not catch up: {replica}"
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("change, words", [
    ({"S3_SECRET": "wrong-" + secrets.token_hex(8)}, "SignatureDoesNotMatch"),
    ({"REPLICA_URL": "s3://no-such-bucket/db"}, "NoSuchBucket"),
])
def test_a_replica_that_cannot_be_reached_stops_the_start_with_one_line(s3, tmp_path, change, words):
    settings = replica_settings(s3, "start-check", **change)
    stack = Stack(StackConfig.from_env(stack_settings(tmp_path, **settings), dotenv_path=None))
    with pytest.raises(StackError) as failure:
        stack.start()
    message = str(failure.value)
    assert "\n" not in message and words in message and "replica s3://" in message, message
    assert s3.secret not in message and settings["S3_SECRET"] not in message
    assert stack.leftover_pids() == [] and not (tmp_path / "pb_data" / DB_NAME).exists()


@pytest.mark.slow
def test_a_bucket_that_stops_answering_shows_as_a_growing_lag_on_health(tmp_path):
    own = MotoS3(tmp_path / "moto")  # a server of its own, to be stopped
    try:
        stack = start_stack(tmp_path / "stack", **replica_settings(own, "lag"))
    except BaseException:
        own.process.stop()
        raise
    try:
        wait_synced(stack)
        own.process.stop()
        assert route(stack, "wechat/login", json={"users_wx_code": "lag-alice"}).status_code == 200
        deadline = time.monotonic() + BEHIND_AFTER_SECONDS + 60
        while True:  # until health reports the replica behind
            health = requests.get(stack.base_url + "/pb/api/system/health", timeout=10)
            # PocketBase still serves (200); the replica is reported behind, its lag in seconds, nothing secret.
            assert health.status_code == 200, health.text
            replica = health.json()["data"]["replica"]
            if replica["status"] == "behind" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        # Behind means a lag past BEHIND_AFTER_SECONDS; the figure answered is rounded to 0.1 s, so 5.04 reads 5.0.
        assert replica["status"] == "behind" and replica["lag_seconds"] >= BEHIND_AFTER_SECONDS, replica
        assert set(replica) == {"status", "lag_seconds"} and own.secret not in health.text
    finally:
        stop_and_check(stack)


@pytest.mark.slow
def test_an_unreachable_endpoint_stops_the_start_at_once(s3, tmp_path):
    settings = replica_settings(s3, "start-check", S3_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    config = StackConfig.from_env(stack_settings(tmp_path, **settings), dotenv_path=None)
    # The replica is checked before PocketBase's own S3 test: a refused endpoint is named at once.
    started = time.monotonic()
    with pytest.raises(StackError, match=r"^replica s3://\S+ at http://127\.0\.0\.1:\d+ is not reachable: "
                                         r"connection refused$"):
        Stack(config).start()
    assert time.monotonic() - started < 10


WRITE_KINDS = ("login", "profile", "company", "upload")  # what a WriteStream writes, in turn


class WriteStream:
    """Writes through nginx every ~100 ms in a thread: logins, profile updates and company creates, each kept
    with the time its 200 arrived, so the drill can ask which of them survived."""

    def __init__(self, stack: Stack, tag: str):
        self.stack, self.tag = stack, tag
        self.answered: list[tuple[float, str, str]] = []  # (monotonic time of the 200, kind, key)
        self.stop = threading.Event()
        self.failures: list[tuple[float, str]] = []  # (monotonic time, what failed)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        token, n = None, 0
        while not self.stop.is_set():
            n += 1
            kind = WRITE_KINDS[n % len(WRITE_KINDS)] if token else "login"
            try:
                if kind == "login":
                    response = route(self.stack, "wechat/login", timeout=5, json={"users_wx_code": f"{self.tag}-{n}"})
                    key = f"dev-openid-{self.tag}-{n}"
                    if response.status_code == 200:
                        token = response.json()["token"]
                elif kind == "profile":
                    key = f"名字{n}"
                    response = route(self.stack, "wechat/profile", token=token, timeout=5, json={"users_name": key})
                    key = f"{token}|{key}"
                elif kind == "company":
                    key = f"演练企业-{self.tag}-{n}"
                    response = requests.post(self.stack.base_url + "/pb/api/collections/tbl_company/records",
                                             json={"company_name": key, "company_type": "渠道商"}, timeout=5)
                else:
                    content = secrets.token_bytes(2048)
                    response = upload(self.stack, content, check=False)
                    key = f"{file_path(response.json())}|{hashlib.sha256(content).hexdigest()}" \
                        if response.status_code == 200 else ""
            except requests.RequestException as exc:
                self.failures.append((time.monotonic(), f"{kind}: {type(exc).__name__}"))
                time.sleep(0.1)
                continue
            if response.status_code == 200:
                self.answered.append((time.monotonic(), kind, key))
            else:
                self.failures.append((time.monotonic(), f"{kind}: HTTP {response.status_code}"))
            time.sleep(0.1)

    def __enter__(self) -> "WriteStream":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)


def survived(stack: Stack, kind: str, key: str) -> bool:
    """Whether a write of the stream is in the restored stack (an upload: its record and its file)."""
    pb = PB(stack.pb)
    if kind == "login":
        return pb.total("tbl_auth_users", f'openid = "{key}"') == 1
    if kind == "company":
        return pb.total("tbl_company", f'company_name = "{key}"') == 1
    if kind == "upload":
        path, digest = key.split("|")
        served = requests.get(f"{stack.base_url}/pb/api/files/{path}", timeout=15)
        return served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == digest
    # A profile write: its user's name is this write's or a later one's (names count up: 名字<n>).
    token, name = key.split("|")
    user_id = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["id"]
    found = pb.request("GET", f"/api/collections/tbl_auth_users/records/{user_id}")
    if found.status_code == 404:  # its login was lost too (answered in the last second)
        return False
    stored = found.json()["users_name"]
    return stored.startswith("名字") and int(stored[2:]) >= int(name[2:])


def count_rows(data_dir: Path) -> int:
    """tbl_auth_users' real row count, straight from SQLite."""
    with sqlite3.connect(f"file:{data_dir / DB_NAME}?mode=ro", uri=True) as db:
        return db.execute("SELECT COUNT(*) FROM tbl_auth_users").fetchone()[0]


def upload(stack: Stack, content: bytes, check: bool = True) -> requests.Response:
    """An attachment with a file, created by the superuser through nginx (the file goes to S3)."""
    response = requests.post(stack.base_url + "/pb/api/collections/tbl_attachments/records", timeout=15,
                             headers={"Authorization": PB(stack.pb).superuser_token},
                             data={"attachments_remark": "身份证"},
                             files={"attachments_link": ("id-card.png", content, "image/png")})
    assert response.status_code == 200 or not check, response.text
    return response


def file_path(record: dict) -> str:
    """<collection id>/<record id>/<file name> of an attachment's file, under /pb/api/files/."""
    return f"{record['collectionId']}/{record['id']}/{record['attachments_link']}"


@pytest.mark.slow
def test_drill_a_machine_killed_mid_stream_comes_back_from_the_replica(s3, tmp_path):
    password = "Drill-" + secrets.token_urlsafe(18)
    settings = replica_settings(s3, "drill/data.db", PB_SUPERUSER_PASSWORD=password)

    # Machine A: replication on, a file, then a stream of writes through nginx until A is killed.
    a = start_stack(tmp_path / "a", **settings)
    try:
        for process in a.processes.values():
            assert s3.secret.encode() not in Path(f"/proc/{process.pid}/cmdline").read_bytes()
        conf = a.run_dir / "litestream.yml"
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600 and s3.secret not in conf.read_text()
        assert "AWS_CA_BUNDLE" not in Path(f"/proc/{a.processes['litestream'].pid}/environ").read_text()
        scan = secrets.token_bytes(4096)
        record = upload(a, scan).json()
        wait_synced(a)
        with WriteStream(a, "drill") as stream:
            deadline = time.monotonic() + 120  # until 30 writes, of every kind, have been answered
            while time.monotonic() < deadline and not (
                    len(stream.answered) >= 30 and {kind for _, kind, _ in stream.answered} == set(WRITE_KINDS)):
                time.sleep(0.1)
            # The machine is gone: no clean shutdown for PocketBase or Litestream.
            killed_at = time.monotonic()
            a.processes["pocketbase"].kill()
            a.processes["litestream"].kill()
        # Every write failed only once A was gone.
        assert [failure for failure in stream.failures if failure[0] < killed_at] == [], stream.failures
    finally:
        stop_and_check(a)
    logs = [path.read_text(errors="replace") for path in a.run_dir.glob("*.log")]
    shutil.rmtree(a.config.pb_data_dir)
    before_kill = [write for write in stream.answered if write[0] < killed_at]
    assert len(before_kill) >= 30
    assert {kind for _, kind, _ in before_kill} == set(WRITE_KINDS)

    # Machine B: an empty data dir, the same settings; restore, then start.
    b_data = tmp_path / "b" / "pb_data"
    restored = make_command(settings, b_data, "restore-replica")
    assert restored.returncode == 0 and f"from s3://{BUCKET}/drill/data.db" in restored.stdout, restored.stderr
    b = start_stack(tmp_path / "b", **settings)
    try:
        pb_b = PB(b.pb)
        kept = [(at, kind, key) for at, kind, key in before_kill if survived(b, kind, key)]
        lost = [(round(killed_at - at, 2), kind, key) for at, kind, key in before_kill
                if (at, kind, key) not in kept]
        assert [write for write in lost if write[0] > 1.0] == [], \
            f"writes answered over 1 s before the kill were lost: {lost}"
        rpo = killed_at - max(at for at, _, _ in kept)
        print(f"\nRPO seen: {rpo:.2f} s between the last write that survived and the kill; "
              f"{len(lost)} of {len(before_kill)} answered writes lost (answered {[w[0] for w in lost]} s before it)")
        served = requests.get(f"{b.base_url}/pb/api/files/{file_path(record)}", timeout=15)
        assert served.status_code == 200 and served.content == scan
        total = route(b, "system/users-count", json={}).json()["data"]["total_users"]
        assert total == count_rows(b.config.pb_data_dir) == pb_b.total("tbl_auth_users")
        # B replicates on from the restored database.
        assert wait_synced(b)["status"] == "ok"
    finally:
        stop_and_check(b)
    logs += [path.read_text(errors="replace") for path in b.run_dir.glob("*.log")]
    for text in logs + [restored.stdout + restored.stderr]:
        assert s3.secret not in text and password not in text


@pytest.mark.slow
def test_drill_restore_to_a_point_in_time_between_two_writes(s3, tmp_path):
    password = "Drill-" + secrets.token_urlsafe(18)
    settings = replica_settings(s3, "pit", PB_SUPERUSER_PASSWORD=password)
    company = lambda name: requests.post(  # noqa: E731
        a.base_url + "/pb/api/collections/tbl_company/records", timeout=15,
        json={"company_name": name, "company_type": "渠道商"})
    a = start_stack(tmp_path / "a", **settings)
    try:
        assert company("写在之前").status_code == 200
        wait_synced(a)
        time.sleep(1.5)
        at = datetime.now(timezone.utc).isoformat()
        time.sleep(1.5)
        assert company("一个失误").status_code == 200
        time.sleep(1.5)
        wait_synced(a)
    finally:
        stop_and_check(a)

    # A data dir that holds a database is never overwritten; a bad AT is refused; both in one line.
    for data_dir, args, words in ((a.config.pb_data_dir, (), "already holds a database"),
                                  (tmp_path / "x", ("AT=yesterday",), "AT must be an RFC 3339 time")):
        refused = make_command(settings, data_dir, "restore-replica", *args)
        assert refused.returncode != 0 and words in refused.stderr and refused.stderr.count("\n") <= 2, refused.stderr
    # An empty data dir is not started over the replica (it would replicate an empty database over it), nor
    # one whose database is another (e.g. made by a start without REPLICA_URL).
    with pytest.raises(StackError, match="has no database but the replica s3://.* holds one: restore it first"):
        start_stack(tmp_path / "fresh", **settings)
    other = tmp_path / "other" / "pb_data"
    other.mkdir(parents=True)
    with sqlite3.connect(other / DB_NAME) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(StackError, match="holds a database that was neither restored from nor replicated to s3://"):
        start_stack(tmp_path / "other", **settings)

    restored = make_command(settings, tmp_path / "pit", "restore-replica", f"AT={at}")
    assert restored.returncode == 0 and f"as of {at}" in restored.stdout, restored.stderr
    server = PocketBaseServer(data_dir=tmp_path / "pit", superuser_email="admin@localhost.local",
                              superuser_password=password).start()
    try:
        names = [item["company_name"] for item in
                 PB(server).request("GET", "/api/collections/tbl_company/records").json()["items"]]
        assert names == ["写在之前"]
    finally:
        server.stop()

    # Replication goes on from the restored database to the same REPLICA_URL; the latest restore then has
    # what was written after the point-in-time restore, and not the mistake.
    b = start_stack(tmp_path / "b", **settings, PB_DATA_DIR=str(tmp_path / "pit"))
    try:
        assert requests.post(b.base_url + "/pb/api/collections/tbl_company/records", timeout=15,
                             json={"company_name": "恢复之后", "company_type": "渠道商"}).status_code == 200
        time.sleep(1.5)
        wait_synced(b)
    finally:
        stop_and_check(b)
    latest = make_command(settings, tmp_path / "latest", "restore-replica")
    assert latest.returncode == 0, latest.stderr
    server = PocketBaseServer(data_dir=tmp_path / "latest", superuser_email="admin@localhost.local",
                              superuser_password=password).start()
    try:
        names = [item["company_name"] for item in
                 PB(server).request("GET", "/api/collections/tbl_company/records", params={"sort": "created"})
                 .json()["items"]]
        assert names == ["写在之前", "恢复之后"]
    finally:
        server.stop()
