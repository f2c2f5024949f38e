"""Litestream replication of data.db, without processes: the settings and the generated config
(ops/replica.py), and the health route's replica object against a unix socket that answers as Litestream's
control socket does (sidecar/replica.py). The drills with real processes: tests/test_replica_drill.py."""
from __future__ import annotations

import json
import re
import socket
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from ops.replica import DB_NAME, SYNC_INTERVAL, ReplicaError, ReplicaSettings, litestream_env, parse_at, restore
from ops.stack import StackConfig, StackError
from ops.storage import StorageSettings
from sidecar.replica import BEHIND_AFTER_SECONDS, replica_status

S3 = {"S3_ENDPOINT": "http://127.0.0.1:9000", "S3_BUCKET": "files", "S3_REGION": "r", "S3_ACCESS_KEY": "AK",
      "S3_SECRET": "s3-secret-value", "S3_FORCE_PATH_STYLE": "true"}


def replica_from(values: dict) -> ReplicaSettings:
    get = lambda name: values.get(name, "")  # noqa: E731 - the settings' reader
    return ReplicaSettings.from_values(get, StorageSettings.from_values(get))


# -- the settings and the generated config (no processes) -------------------------------------------------


def test_the_config_is_generated_from_the_settings_and_holds_no_secret(tmp_path):
    replica = replica_from({**S3, "REPLICA_URL": "s3://bai-replica/prod/data.db/"})
    config = yaml.safe_load(replica.config_yaml(tmp_path / DB_NAME, tmp_path / "ls.sock"))
    assert config == {
        "dbs": [{"path": str(tmp_path / DB_NAME), "replica": {
            "type": "s3", "bucket": "bai-replica", "path": "prod/data.db", "endpoint": "http://127.0.0.1:9000",
            "region": "r", "force-path-style": True, "sync-interval": SYNC_INTERVAL}}],
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


def test_restore_without_replica_url_is_refused(tmp_path):
    with pytest.raises(ReplicaError, match="REPLICA_URL is not set"):
        restore(replica_from(S3), tmp_path)
    assert list(tmp_path.iterdir()) == []


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
                                    {"databases": [{"path": "/x/data.db", "last_sync_at": "0001-01-01T00:00:00Z"}]},
                                    {"error": "x"}, {"databases": [{"last_sync_at": "not a time"}]}, [1, 2]])
def test_a_litestream_that_has_not_synced_or_answers_nonsense_is_down(tmp_path, answer):
    with FakeControlSocket(tmp_path / "ls.sock", answer):
        assert replica_status(True, str(tmp_path / "ls.sock")) == {"status": "down", "lag_seconds": None}


def test_no_litestream_is_down_and_no_replica_url_is_off(tmp_path):
    assert replica_status(True, str(tmp_path / "missing.sock")) == {"status": "down", "lag_seconds": None}
    assert replica_status(False, str(tmp_path / "missing.sock")) == {"status": "off"}
