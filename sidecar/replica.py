"""How far Litestream's replica of data.db is behind, read from Litestream's control socket (no secrets).

Litestream 0.5 (`socket: {enabled: true, path: ...}` in its config, written by ops/replica.py) answers
`GET /list` on that unix socket with `{"databases": [{"path", "status", "last_sync_at"}]}`; `last_sync_at` is
the last time the replica in S3 was brought up to date (it stops moving while the bucket is unreachable and
moves every sync interval, 1 s, otherwise). The lag is the seconds since then.
"""
from __future__ import annotations

import http.client
import json
import socket
from datetime import datetime, timezone

# Past this many seconds without a sync the replica counts as behind: Litestream syncs every second
# (ops/replica.py, SYNC_INTERVAL), so a few seconds is a hiccup and more is a bucket that is not answering.
BEHIND_AFTER_SECONDS = 5.0


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (Litestream's control socket)."""

    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def read_databases(socket_path: str, timeout: float = 2.0) -> list[dict]:
    """Litestream's `GET /list` over its control socket; OSError / ValueError when it does not answer."""
    connection = _UnixConnection(socket_path, timeout)
    try:
        connection.request("GET", "/list")
        response = connection.getresponse()
        body = response.read()
    except (http.client.HTTPException, socket.timeout) as exc:
        raise OSError(str(exc)) from None
    finally:
        connection.close()
    if response.status != 200:
        raise ValueError(f"HTTP {response.status}")
    answer = json.loads(body)
    databases = answer.get("databases") if isinstance(answer, dict) else None
    if not isinstance(databases, list):
        raise ValueError("no databases in the answer")
    return databases


def _parse_time(text: str) -> datetime:
    """Go's RFC 3339 with nanoseconds (2026-11-29T14:38:23.5839027Z) as an aware datetime."""
    head, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + ("." + fraction[:6] if fraction else "")).replace(tzinfo=timezone.utc)


def replica_status(enabled: bool, socket_path: str, now: datetime | None = None, timeout: float = 2.0) -> dict:
    """The health route's `replica` object.

    {"status": "off"} without REPLICA_URL; {"status": "ok" | "behind", "lag_seconds": float} (behind past
    BEHIND_AFTER_SECONDS); {"status": "down", "lag_seconds": None} when Litestream does not answer or has not
    synced yet.
    """
    if not enabled:
        return {"status": "off"}
    try:
        databases = read_databases(socket_path, timeout)
        synced = [_parse_time(db["last_sync_at"]) for db in databases
                  if isinstance(db, dict) and db.get("last_sync_at")]
        synced = [moment for moment in synced if moment.year > 1]  # Go's zero time: never synced
    except (OSError, ValueError, KeyError, TypeError):
        return {"status": "down", "lag_seconds": None}
    if not synced:
        return {"status": "down", "lag_seconds": None}
    lag = max(0.0, ((now or datetime.now(timezone.utc)) - min(synced)).total_seconds())
    return {"status": "behind" if lag > BEHIND_AFTER_SECONDS else "ok", "lag_seconds": round(lag, 1)}
