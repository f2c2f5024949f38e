"""Files and backups in S3 (ops/storage.py) against a real S3 server (moto's server mode), and the restore drill."""
from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests

from ops.processes import ROOT, ManagedProcess, free_port
from ops.stack import Stack, StackConfig, StackError
from ops.settings import secret_names
from ops.storage import BACKUP_SETTINGS, DEFAULT_BACKUP_CRON, S3_SETTINGS, StorageError, StorageSettings
from tests.helpers import PB, login_through, route
from tests.stack_fixtures import start_stack, stack_settings, stop_and_check

BUCKET = "bai-files"
REGION = "us-east-1"


# -- the settings (no processes) ---------------------------------------------------------------------------

FULL_S3 = {"S3_ENDPOINT": "http://127.0.0.1:9000/", "S3_BUCKET": "b", "S3_REGION": "r",
           "S3_ACCESS_KEY": "AK", "S3_SECRET": "s3-secret-value"}


def settings_from(values: dict) -> StorageSettings:
    return StorageSettings.from_values(lambda name: values.get(name, ""))


def test_s3_settings_become_pocketbase_settings_for_files_and_backups():
    storage = settings_from({**FULL_S3, "S3_FORCE_PATH_STYLE": "true", "BACKUP_KEEP": "3"})
    body = storage.pocketbase_settings()
    expected = {"enabled": True, "bucket": "b", "region": "r", "endpoint": "http://127.0.0.1:9000",
                "accessKey": "AK", "secret": "s3-secret-value", "forcePathStyle": True}
    assert body == {"s3": expected, "backups": {"cron": DEFAULT_BACKUP_CRON, "cronMaxKeep": 3, "s3": expected}}
    assert "s3-secret-value" not in repr(storage) + storage.describe()


def test_backups_may_have_a_bucket_of_their_own():
    storage = settings_from({**FULL_S3, "S3_BACKUPS_BUCKET": "b-backups"})
    body = storage.pocketbase_settings()
    assert body["s3"]["bucket"] == "b" and body["backups"]["s3"]["bucket"] == "b-backups"
    assert body["backups"]["s3"]["secret"] == "s3-secret-value" and "b-backups" in storage.describe()


def test_without_s3_files_stay_on_disk_and_backups_are_still_scheduled():
    body = settings_from({}).pocketbase_settings()
    assert body == {"s3": {"enabled": False},
                    "backups": {"cron": DEFAULT_BACKUP_CRON, "cronMaxKeep": 7, "s3": {"enabled": False}}}
    assert settings_from({"BACKUP_CRON": "off"}).pocketbase_settings()["backups"]["cron"] == ""


@pytest.mark.parametrize("values, words", [
    ({"S3_BUCKET": "b"}, "S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY, S3_SECRET missing"),
    ({**FULL_S3, "S3_SECRET": ""}, "S3_SECRET missing"),
    ({**FULL_S3, "S3_ENDPOINT": "minio:9000"}, "S3_ENDPOINT must be an http(s):// URL"),
    ({**FULL_S3, "S3_FORCE_PATH_STYLE": "maybe"}, "S3_FORCE_PATH_STYLE must be true or false"),
    ({"S3_BACKUPS_BUCKET": "b"}, "S3_BACKUPS_BUCKET is set but S3 is not"),
    ({"BACKUP_KEEP": "0"}, "BACKUP_KEEP must be a positive whole number"),
    ({"BACKUP_KEEP": "many"}, "BACKUP_KEEP must be a positive whole number"),
])
def test_bad_storage_settings_are_refused_by_name(values, words, tmp_path):
    with pytest.raises(StorageError, match=re.escape(words)):
        settings_from(values)
    with pytest.raises(StackError, match=re.escape(words)):
        StackConfig.from_env({"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, **values},
                             dotenv_path=None)


def test_the_s3_secret_is_masked_and_kept_from_children(tmp_path):
    config = StackConfig.from_env({"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, **FULL_S3},
                                  dotenv_path=None)
    assert "s3-secret-value" in config.secret_values()
    assert "s3-secret-value" not in repr(config)


# -- a real S3 server ---------------------------------------------------------------------------------------


class MotoS3:
    """moto's server on a free port with IAM auth on: one user whose key may use the bucket; wrong keys fail."""

    def __init__(self, base: Path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        # The first 3 requests (creating the user, its policy and its key) go unauthenticated; every one after
        # that must be signed with a real key, so a wrong secret is refused as by a real S3.
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
        self.process = ManagedProcess("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                               "-p", str(self.port)], base / "moto.log", env=env).start()
        self._wait_listening()
        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name=REGION,
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="bai")
        iam.put_user_policy(UserName="bai", PolicyName="bai-s3", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="bai")["AccessKey"]
        self.access_key, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        self.client = boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                                   aws_access_key_id=self.access_key, aws_secret_access_key=self.secret)
        self.client.create_bucket(Bucket=BUCKET)

    def _wait_listening(self, deadline: float = 30) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if not self.process.alive():
                raise RuntimeError(f"moto exited:\n{self.process.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto not listening after {deadline}s:\n{self.process.log_tail()}")

    def settings(self, **changes) -> dict:
        """The S3_* settings of a stack using the bucket."""
        return {"S3_ENDPOINT": self.endpoint, "S3_BUCKET": BUCKET, "S3_REGION": REGION,
                "S3_ACCESS_KEY": self.access_key, "S3_SECRET": self.secret, "S3_FORCE_PATH_STYLE": "true",
                **changes}

    def keys(self) -> list[str]:
        return [item["Key"] for item in self.client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    server = MotoS3(tmp_path_factory.mktemp("moto"))
    yield server
    server.process.stop()


@pytest.mark.slow
@pytest.mark.parametrize("change, words", [
    ({"S3_SECRET": "wrong-" + secrets.token_hex(8)}, "SignatureDoesNotMatch"),
    ({"S3_ENDPOINT": f"http://127.0.0.1:{free_port()}"}, "connection refused"),
    ({"S3_BUCKET": "no-such-bucket"}, "NoSuchBucket"),
    ({"S3_BACKUPS_BUCKET": "no-backups-bucket"}, "no-backups-bucket at"),
])
def test_a_wrong_endpoint_bucket_or_key_stops_the_start_with_one_line(s3, tmp_path, change, words):
    settings = s3.settings(**change)
    config = StackConfig.from_env(stack_settings(tmp_path, **settings), dotenv_path=None)
    stack = Stack(config)
    with pytest.raises(StackError) as failure:
        stack.start()
    message = str(failure.value)
    assert "\n" not in message and words in message, message
    assert settings["S3_BUCKET"] in message or "S3_BACKUPS_BUCKET" in settings, message
    assert s3.secret not in message and settings["S3_SECRET"] not in message
    assert stack.leftover_pids() == [], "a half-started stack was left running"


# -- the restore drill --------------------------------------------------------------------------------------


def admin_command(stack: Stack, settings: dict, *args: str) -> subprocess.CompletedProcess:
    """`make backup` / `make restore NAME=...` against this stack, as an operator with the same settings runs it."""
    env = dict(os.environ, PB_URL=stack.pb.url, PB_DATA_DIR=str(stack.config.pb_data_dir),
               HTTP_PORT=str(stack.config.http_port),
               **{key: str(value) for key, value in settings.items()})
    return subprocess.run(["make", "-s", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def all_rows(pb: PB) -> dict[str, list[dict]]:
    """Every record of our collections, by collection, without the fields a restore may legitimately change."""
    rows = {}
    for collection in ("tbl_auth_users", "tbl_company", "tbl_attachments", "tbl_document"):
        response = pb.request("GET", f"/api/collections/{collection}/records", params={"perPage": 500, "sort": "id"})
        assert response.status_code == 200, response.text
        rows[collection] = response.json()["items"]
    return rows


@pytest.mark.slow
def test_restore_drill_a_lost_machine_comes_back_from_s3(s3, tmp_path):
    password = "Drill-" + secrets.token_urlsafe(18)
    # One operator's env file for both machines: the same S3 bucket, the same superuser.
    settings = {**s3.settings(), "PB_SUPERUSER_PASSWORD": password}
    outputs = []

    # Machine A: users, a company and an attachment with a file, then `make backup`.
    a = start_stack(tmp_path / "a", **settings)
    try:
        pb_a = PB(a.pb)
        token, user = login_through(a, "drill-alice")
        login_through(a, "drill-bob")
        assert route(a, "wechat/profile", token=token, json={"users_name": "张三"}).status_code == 200
        company = requests.post(a.base_url + "/pb/api/collections/tbl_company/records", timeout=15,
                                json={"company_name": "演练企业", "company_type": "渠道商"})
        assert company.status_code == 200, company.text
        scan = secrets.token_bytes(4096)
        attachment = requests.post(a.base_url + "/pb/api/collections/tbl_attachments/records", timeout=15,
                                   headers={"Authorization": pb_a.superuser_token},
                                   data={"attachments_remark": "身份证"},
                                   files={"attachments_link": ("id-card.png", scan, "image/png")})
        assert attachment.status_code == 200, attachment.text
        record = attachment.json()
        assert any(key.endswith(record["attachments_link"]) for key in s3.keys()), "the upload is not in S3"
        rows_before = all_rows(pb_a)
        backup = admin_command(a, settings, "backup")
        outputs.append(backup.stdout + backup.stderr)
        assert backup.returncode == 0, backup.stderr
        name = backup.stdout.split("Backup created: ", 1)[1].split()[0]
        assert f"in S3 bucket {BUCKET}" in backup.stdout and name in s3.keys()
    finally:
        stop_and_check(a)
    logs = [path.read_text(errors="replace") for path in (tmp_path / "a" / "run").glob("*.log")]
    shutil.rmtree(a.config.pb_data_dir)

    # Machine B: new and empty, the same settings; `make restore NAME=<zip>` brings everything back.
    b = start_stack(tmp_path / "b", **settings)
    try:
        assert PB(b.pb).total("tbl_auth_users") == 0
        assert b.pb.process.pid and b.pb.process.alive()
        for process in b.processes.values():
            assert s3.secret.encode() not in Path(f"/proc/{process.pid}/cmdline").read_bytes()
        restore = admin_command(b, settings, "restore", f"NAME={name}")
        outputs.append(restore.stdout + restore.stderr)
        assert restore.returncode == 0, restore.stderr
        assert all_rows(PB(b.pb)) == rows_before
        file_url = (f"{b.base_url}/pb/api/files/{record['collectionId']}/{record['id']}/"
                    f"{record['attachments_link']}")
        served = requests.get(file_url, timeout=15)
        assert served.status_code == 200 and served.content == scan
        # An ID-card scan from S3 is no shared cache's to keep (pb_hooks/attachments.pb.js).
        assert served.headers["Cache-Control"] == "private, max-age=2592000"
        # The sidecar of B works with the restored data: alice is known, her name kept.
        _, again = login_through(b, "drill-alice.2")
        assert again["users_id"] == user["users_id"] and again["users_name"] == "张三"
        # The restored settings are this environment's: files and backups still in the bucket.
        s3_settings = PB(b.pb).request("GET", "/api/settings").json()
        assert s3_settings["s3"]["bucket"] == BUCKET and s3_settings["backups"]["s3"]["enabled"] is True
        # `make storage` (servers) applies them to a running PocketBase too, here with another schedule.
        storage = admin_command(b, {**settings, "BACKUP_CRON": "30 2 * * *"}, "storage")
        outputs.append(storage.stdout + storage.stderr)
        assert storage.returncode == 0 and f"S3 bucket {BUCKET}" in storage.stdout, storage.stderr
        assert PB(b.pb).request("GET", "/api/settings").json()["backups"]["cron"] == "30 2 * * *"
    finally:
        stop_and_check(b)
    logs += [path.read_text(errors="replace") for path in (tmp_path / "b" / "run").glob("*.log")]
    for text in logs + outputs:
        assert s3.secret not in text and password not in text


# -- the production unit applies the settings at every start ------------------------------------------------

UNIT = ROOT / "deploy" / "systemd" / "bai-pocketbase.service"
UNIT_PYTHON = "/opt/bai-wechat-backend/.venv/bin/python"


def unit_directive(name: str) -> str:
    """One directive of the PocketBase unit, its continuation lines joined (as systemd reads them)."""
    joined = re.sub(r"\\\n\s*", " ", UNIT.read_text())
    values = [line.split("=", 1)[1].strip() for line in joined.splitlines() if line.startswith(f"{name}=")]
    assert len(values) == 1, f"{name}= appears {len(values)} times in {UNIT.name}"
    return values[0]


def exec_start_post_argv(pb_url: str, data_dir: Path) -> tuple[list[str], dict]:
    """The unit's ExecStartPost as argv + the variables it sets, aimed at this PocketBase and data dir."""
    argv = shlex.split(unit_directive("ExecStartPost"))
    assert argv[0] == "/usr/bin/env", argv
    leading = list(itertools.takewhile(lambda arg: "=" in arg, argv[1:]))
    assignments = dict(arg.split("=", 1) for arg in leading)
    command = argv[1 + len(leading):]
    assert assignments["PB_URL"] == "http://127.0.0.1:8090" and "--http=127.0.0.1:8090" in unit_directive("ExecStart")
    assert assignments["PB_DATA_DIR"] in unit_directive("ExecStart")
    assert command[0] == UNIT_PYTHON
    return [sys.executable, *command[1:]], {"PB_URL": pb_url, "PB_DATA_DIR": str(data_dir)}


def test_the_unit_applies_the_storage_settings_as_make_storage_does_and_names_no_secret():
    command = unit_directive("ExecStartPost")
    storage_target = (ROOT / "Makefile").read_text().split("\nstorage:", 1)[1].split("\n\n", 1)[0]
    assert "$(PY) -m ops.stack storage" in storage_target and "-m ops.stack storage --wait" in command
    for name in secret_names():
        assert name not in command
    assert not re.search(r"(?i)secret|password|access_key", command), command
    assert unit_directive("EnvironmentFile") == "/etc/bai-wechat/env"


def run_exec_start_post(server, pb_url: str, data_dir: Path, wait: str | None = None,
                        **settings) -> subprocess.CompletedProcess:
    """The unit's ExecStartPost against pb_url, with the env file's settings (server's superuser; S3 unset
    unless given)."""
    argv, unit_env = exec_start_post_argv(pb_url, data_dir)
    if wait:
        argv[argv.index("--wait") + 1] = wait
    env = {key: value for key, value in os.environ.items()
           if key not in S3_SETTINGS + BACKUP_SETTINGS and not key.startswith("PB_")}
    env.update(PB_SUPERUSER_EMAIL=server.superuser_email, PB_SUPERUSER_PASSWORD=server.superuser_password,
               **settings, **unit_env)
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_the_units_start_command_without_s3_keeps_files_local_and_exits_0(pocketbase, tmp_path):
    done = run_exec_start_post(pocketbase, pocketbase.url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"PocketBase at {pocketbase.url}: files and backups in the local data dir" in done.stdout
    settings = PB(pocketbase).request("GET", "/api/settings").json()
    assert settings["s3"]["enabled"] is False and settings["backups"]["cron"] == DEFAULT_BACKUP_CRON


def test_the_units_start_command_fails_with_one_line(pocketbase, tmp_path):
    half_s3 = run_exec_start_post(pocketbase, pocketbase.url, tmp_path, S3_BUCKET="b")
    # A PocketBase that never comes up (waiting 1 s, not the unit's 30).
    never_up = run_exec_start_post(pocketbase, f"http://127.0.0.1:{free_port()}", tmp_path, wait="1")
    for done, words in ((half_s3, "S3 is partly configured"), (never_up, "did not answer its health check within 1 s")):
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and words in done.stderr, done.stderr
        assert pocketbase.superuser_password not in done.stderr
