"""Litestream replication of data.db (ops/replica.py, sidecar/replica.py): the settings and the generated
config, then the drills against moto's S3 server with real processes (a SIGKILLed machine, a point in time)."""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import requests

from ops.pbserver import PocketBaseServer
from ops.processes import ROOT, ManagedProcess, free_port
from ops.replica import (DB_NAME, SYNC_INTERVAL, ReplicaError, ReplicaSettings, litestream_env, parse_at,
                         restore)
from ops.stack import Stack, StackConfig, StackError
from ops.storage import StorageSettings
from sidecar.replica import BEHIND_AFTER_SECONDS, replica_status
from tests.helpers import PB, login_through, route
from tests.stack_fixtures import stack_settings, start_stack, stop_and_check
from tests.test_storage import BUCKET, MotoS3

S3 = {"S3_ENDPOINT": "http://127.0.0.1:9000", "S3_BUCKET": "files", "S3_REGION": "r", "S3_ACCESS_KEY": "AK",
      "S3_SECRET": "s3-secret-value", "S3_FORCE_PATH_STYLE": "true"}


def replica_from(values: dict) -> ReplicaSettings:
    get = lambda name: values.get(name, "")  # noqa: E731 - the settings' reader
    return ReplicaSettings.from_values(get, StorageSettings.from_values(get))


# -- the settings and the generated config (no processes) -------------------------------------------------


def test_the_config_is_generated_from_the_settings_and_holds_no_secret(tmp_path):
    replica = replica_from({**S3, "REPLICA_URL": "s3://bai-replica/prod/data.db/"})
    config = __import__("yaml").safe_load(replica.config_yaml(tmp_path / DB_NAME, tmp_path / "ls.sock"))
    assert config == {
        "dbs": [{"path": str(tmp_path / DB_NAME), "replicas": [{
            "type": "s3", "bucket": "bai-replica", "path": "prod/data.db", "endpoint": "http://127.0.0.1:9000",
            "region": "r", "force-path-style": True, "sync-interval": SYNC_INTERVAL}]}],
        "socket": {"enabled": True, "path": str(tmp_path / "ls.sock")}}
    text = replica.config_yaml(tmp_path / DB_NAME)
    assert "s3-secret-value" not in text and "AK" not in text and "socket" not in text
    assert "s3-secret-value" not in repr(replica) + replica.describe()


def test_litestream_gets_the_key_in_its_environment_and_nothing_else_of_ours():
    replica = replica_from({**S3, "REPLICA_URL": "s3://bai-replica/db"})
    env = litestream_env({"PATH": "/bin", "AWS_CA_BUNDLE": "/ca.pem", "S3_SECRET": "x", "PB_SUPERUSER_PASSWORD": "y",
                          "HOME": "/home/bai"}, replica)
    assert env == {"PATH": "/bin", "HOME": "/home/bai", "LITESTREAM_ACCESS_KEY_ID": "AK",
                   "LITESTREAM_SECRET_ACCESS_KEY": "s3-secret-value"}


def test_without_replica_url_replication_is_off():
    replica = replica_from(S3)
    assert not replica.enabled and replica.describe().startswith("off")


@pytest.mark.parametrize("values, words", [
    ({**S3, "REPLICA_URL": "bai-replica/db"}, "REPLICA_URL must look like s3://<bucket>/<path>"),
    ({**S3, "REPLICA_URL": "s3://bai-replica"}, "REPLICA_URL must look like s3://<bucket>/<path>"),
    ({**S3, "REPLICA_URL": "s3://Bad_Bucket/db"}, "REPLICA_URL must look like s3://<bucket>/<path>"),
    ({**S3, "REPLICA_URL": "s3://bai-replica/../files"}, "REPLICA_URL must look like s3://<bucket>/<path>"),
    ({**S3, "REPLICA_URL": "s3://bai-replica/db?x=1"}, "REPLICA_URL must look like s3://<bucket>/<path>"),
    ({**S3, "REPLICA_URL": "s3://bai-replica/a b"}, "REPLICA_URL must look like s3://<bucket>/<path>"),
    ({"REPLICA_URL": "s3://bai-replica/db"}, "REPLICA_URL is set but S3 is not"),
])
def test_bad_replica_settings_are_refused_by_name(values, words, tmp_path):
    with pytest.raises(ReplicaError, match=re.escape(words)):
        replica_from(values)
    with pytest.raises(StackError, match=re.escape(words)):
        StackConfig.from_env({"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, **values},
                             dotenv_path=None)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-29T02:59:00Z", "2026-11-29T02:59:00.000000Z"),
    ("2026-11-29T10:59:00.25+08:00", "2026-11-29T02:59:00.250000Z"),
])
def test_at_is_an_rfc3339_time_given_to_litestream_in_utc(text, expected):
    assert parse_at(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-11-29 02:59", "2026-11-29T02:59:00", "1732849140"])
def test_at_without_an_offset_or_not_a_time_is_refused(text):
    with pytest.raises(ReplicaError, match="AT must be an RFC 3339 time"):
        parse_at(text)


def test_restore_refuses_a_data_dir_that_holds_a_database(tmp_path):
    (tmp_path / DB_NAME).write_bytes(b"SQLite format 3\0")
    replica = replica_from({**S3, "REPLICA_URL": "s3://bai-replica/db"})
    with pytest.raises(ReplicaError, match="already holds a database"):
        restore(replica, tmp_path)
    assert (tmp_path / DB_NAME).read_bytes() == b"SQLite format 3\0"


# -- the health route's replica object, against a unix socket that answers as Litestream's -----------------


class FakeControlSocket(HTTPServer):
    """An HTTP server on a unix socket answering GET /list as Litestream 0.5's control socket does."""

    address_family = socket.AF_UNIX

    def __init__(self, path: Path, answer: dict):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                body = json.dumps(answer).encode() if self.path == "/list" else b"404 page not found"
                self.send_response(200 if self.path == "/list" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(str(path), Handler, bind_and_activate=True)

    def server_bind(self):
        self.socket.bind(self.server_address)

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


NOW = datetime(2026, 11, 29, 3, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("seconds_ago, status", [(0.4, "ok"), (BEHIND_AFTER_SECONDS + 7, "behind")])
def test_the_lag_is_the_time_since_litestreams_last_sync(tmp_path, seconds_ago, status):
    synced = (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
    answer = {"databases": [{"path": "/x/data.db", "status": "replicating", "last_sync_at": synced}]}
    with FakeControlSocket(tmp_path / "ls.sock", answer):
        assert replica_status(True, str(tmp_path / "ls.sock"), now=NOW) == {"status": status,
                                                                            "lag_seconds": round(seconds_ago, 1)}


@pytest.mark.parametrize("answer", [{"databases": [{"path": "/x/data.db", "status": "replicating"}]},
                                    {"error": "x"}, {"databases": [{"last_sync_at": "not a time"}]}])
def test_a_litestream_that_has_not_synced_or_answers_nonsense_is_down(tmp_path, answer):
    with FakeControlSocket(tmp_path / "ls.sock", answer):
        assert replica_status(True, str(tmp_path / "ls.sock")) == {"status": "down", "lag_seconds": None}


def test_no_litestream_is_down_and_no_replica_url_is_off(tmp_path):
    assert replica_status(True, str(tmp_path / "missing.sock")) == {"status": "down", "lag_seconds": None}
    assert replica_status(False, str(tmp_path / "missing.sock")) == {"status": "off"}


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
        time.sleep(BEHIND_AFTER_SECONDS + 2)
        health = requests.get(stack.base_url + "/pb/api/system/health", timeout=10)
        # PocketBase still serves (200); the replica is reported behind, its lag in seconds, nothing secret.
        assert health.status_code == 200, health.text
        replica = health.json()["data"]["replica"]
        assert replica["status"] == "behind" and replica["lag_seconds"] > BEHIND_AFTER_SECONDS, replica
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


class WriteStream:
    """Writes through nginx every ~100 ms in a thread: logins, profile updates and company creates, each kept
    with the time its 200 arrived, so the drill can ask which of them survived."""

    def __init__(self, stack: Stack, tag: str):
        self.stack, self.tag = stack, tag
        self.answered: list[tuple[float, str, str]] = []  # (monotonic time of the 200, kind, key)
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        token, n = None, 0
        while not self.stop.is_set():
            n += 1
            kind = ("login", "profile", "company")[n % 3] if token else "login"
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
                else:
                    key = f"演练企业-{self.tag}-{n}"
                    response = requests.post(self.stack.base_url + "/pb/api/collections/tbl_company/records",
                                             json={"company_name": key, "company_type": "渠道商"}, timeout=5)
            except requests.RequestException as exc:
                self.failures.append(f"{kind}: {type(exc).__name__}")
                time.sleep(0.1)
                continue
            if response.status_code == 200:
                self.answered.append((time.monotonic(), kind, key))
            else:
                self.failures.append(f"{kind}: HTTP {response.status_code}")
            time.sleep(0.1)

    def __enter__(self) -> "WriteStream":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)


def survived(pb: PB, kind: str, key: str) -> bool:
    """Whether a write of the stream is in the restored PocketBase."""
    if kind == "login":
        return pb.total("tbl_auth_users", f'openid = "{key}"') == 1
    if kind == "company":
        return pb.total("tbl_company", f'company_name = "{key}"') == 1
    # A profile write: its user's name is this write's or a later one's (names count up: 名字<n>).
    token, name = key.split("|")
    user_id = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["id"]
    stored = pb.user(user_id)["users_name"]
    return stored.startswith("名字") and int(stored[2:]) >= int(name[2:])


def count_rows(data_dir: Path) -> int:
    """tbl_auth_users' real row count, straight from SQLite."""
    with sqlite3.connect(f"file:{data_dir / DB_NAME}?mode=ro", uri=True) as db:
        return db.execute("SELECT COUNT(*) FROM tbl_auth_users").fetchone()[0]


def upload(stack: Stack, content: bytes) -> dict:
    """An attachment with a file, created by the superuser through nginx (the file goes to S3)."""
    response = requests.post(stack.base_url + "/pb/api/collections/tbl_attachments/records", timeout=15,
                             headers={"Authorization": PB(stack.pb).superuser_token},
                             data={"attachments_remark": "身份证"},
                             files={"attachments_link": ("id-card.png", content, "image/png")})
    assert response.status_code == 200, response.text
    return response.json()


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
        record = upload(a, scan)
        wait_synced(a)
        with WriteStream(a, "drill") as stream:
            time.sleep(6)
            # The machine is gone: no clean shutdown for PocketBase or Litestream.
            killed_at = time.monotonic()
            a.processes["pocketbase"].kill()
            a.processes["litestream"].kill()
        assert not stream.failures[:1] or killed_at < time.monotonic(), stream.failures
    finally:
        stop_and_check(a)
    logs = [path.read_text(errors="replace") for path in a.run_dir.glob("*.log")]
    shutil.rmtree(a.config.pb_data_dir)
    before_kill = [write for write in stream.answered if write[0] < killed_at]
    assert len(before_kill) >= 30 and {kind for _, kind, _ in before_kill} == {"login", "profile", "company"}

    # Machine B: an empty data dir, the same settings; restore, then start.
    b_data = tmp_path / "b" / "pb_data"
    restored = make_command(settings, b_data, "restore-replica")
    assert restored.returncode == 0 and f"from s3://{BUCKET}/drill/data.db" in restored.stdout, restored.stderr
    b = start_stack(tmp_path / "b", **settings)
    try:
        pb_b = PB(b.pb)
        kept = [(at, kind, key) for at, kind, key in before_kill if survived(pb_b, kind, key)]
        lost = [(round(killed_at - at, 2), kind, key) for at, kind, key in before_kill
                if (at, kind, key) not in kept]
        assert [write for write in lost if write[0] > 1.0] == [], f"writes answered over 1 s before the kill lost: {lost}"
        rpo = killed_at - max(at for at, _, _ in kept)
        print(f"\nRPO seen: {rpo:.2f} s between the last write that survived and the kill; "
              f"{len(lost)} of {len(before_kill)} answered writes lost (answered {[w[0] for w in lost]} s before it)")
        served = requests.get(f"{b.base_url}/pb/api/files/{record['collectionId']}/{record['id']}/"
                              f"{record['attachments_link']}", timeout=15)
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
    # An empty data dir is not started over the replica (it would replicate an empty database over it).
    with pytest.raises(StackError, match="has no database but the replica s3://.* holds one: restore it first"):
        start_stack(tmp_path / "fresh", **settings)

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


# -- the production units ------------------------------------------------------------------------------------

UNITS = ROOT / "deploy" / "systemd"


def unit_command(unit: str, name: str, **paths) -> tuple[list[str], dict]:
    """A unit's `/usr/bin/env A=.. B=.. <venv python> -m ...` directive as argv (this venv's python) and the
    variables it sets, those given in paths replaced by this test's paths."""
    joined = re.sub(r"\\\n\s*", " ", (UNITS / unit).read_text())
    values = [line.split("=", 1)[1].strip() for line in joined.splitlines() if line.startswith(f"{name}=")]
    assert len(values) == 1, f"{name}= appears {len(values)} times in {unit}"
    argv = values[0].split()
    assert argv[0] == "/usr/bin/env", argv
    assigned = dict(arg.split("=", 1) for arg in argv[1:] if "=" in arg)
    command = [arg for arg in argv[1:] if "=" not in arg]
    assert command[0] == "/opt/bai-wechat-backend/.venv/bin/python" and set(paths) <= set(assigned)
    for secret_name in ("S3_SECRET", "S3_ACCESS_KEY", "PASSWORD"):
        assert secret_name not in values[0]
    return [sys.executable, *command[1:]], {**assigned, **{key: str(value) for key, value in paths.items()}}


def unit_env(settings: dict, assigned: dict) -> dict:
    """The environment systemd gives the command: the env file's settings, then the directive's own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("S3_", "REPLICA_", "PB_"))}
    return {**env, **{key: str(value) for key, value in settings.items()}, **assigned}


@pytest.mark.slow
def test_the_units_replicate_and_refuse_an_empty_data_dir_over_a_full_replica(s3, tmp_path):
    settings = replica_settings(s3, "unit/data.db")
    data_dir, run_dir = tmp_path / "pb_data", tmp_path / "run"
    data_dir.mkdir(mode=0o700)
    run_dir.mkdir(mode=0o750)  # systemd's RuntimeDirectory=
    with sqlite3.connect(data_dir / DB_NAME) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")

    argv, assigned = unit_command("bai-litestream.service", "ExecStart", PB_DATA_DIR=data_dir,
                                  REPLICA_SOCKET=run_dir / "litestream.sock")
    unit = ManagedProcess("bai-litestream", argv, tmp_path / "unit.log", env=unit_env(settings, assigned)).start()
    try:
        end = time.monotonic() + 30
        while replica_status(True, str(run_dir / "litestream.sock"))["status"] != "ok":
            assert unit.alive() and time.monotonic() < end, unit.log_tail()
            time.sleep(0.2)
        # The python command became Litestream (systemd's main process), the key not on its command line.
        cmdline = Path(f"/proc/{unit.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[0].endswith(b"/litestream") and cmdline[1] == b"replicate"
        assert s3.secret.encode() not in b" ".join(cmdline)
        conf = run_dir / "litestream.yml"
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600 and s3.secret not in conf.read_text()
    finally:
        unit.stop()

    pre_argv, pre_assigned = unit_command("bai-pocketbase.service", "ExecStartPre", PB_DATA_DIR=data_dir)
    kept = subprocess.run(pre_argv, cwd=ROOT, env=unit_env(settings, pre_assigned), capture_output=True,
                          text=True, timeout=120)
    assert kept.returncode == 0 and f"Replica: data.db -> s3://{BUCKET}/unit/data.db" in kept.stdout, kept.stderr
    empty = dict(pre_assigned, PB_DATA_DIR=str(tmp_path / "empty"))
    fresh = subprocess.run(pre_argv, cwd=ROOT, env=unit_env(settings, empty), capture_output=True, text=True,
                           timeout=120)
    assert fresh.returncode == 1 and fresh.stdout == "" and fresh.stderr.count("\n") == 1, fresh.stderr
    assert "has no database but the replica" in fresh.stderr and s3.secret not in fresh.stderr
    off = subprocess.run(pre_argv, cwd=ROOT, env=unit_env(s3.settings(), empty), capture_output=True, text=True,
                         timeout=120)
    assert off.returncode == 0 and "Replica: off" in off.stdout, off.stderr
