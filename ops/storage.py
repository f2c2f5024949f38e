"""Where PocketBase keeps uploaded files and backups: S3 (the S3_* settings) or the local data dir.

The settings reach PocketBase over its settings API (PATCH /api/settings as superuser), never on a command
line, and are applied at every start, so the environment is their one source. With S3 on, PocketBase's own
connection test (POST /api/settings/test/s3) runs for both filesystems before the stack goes on: a wrong
endpoint, bucket or key stops the start with one line instead of a stack whose uploads fail later.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import requests

S3_REQUIRED = ("S3_ENDPOINT", "S3_BUCKET", "S3_REGION", "S3_ACCESS_KEY", "S3_SECRET")
S3_SETTINGS = (*S3_REQUIRED, "S3_FORCE_PATH_STYLE", "S3_BACKUPS_BUCKET")
BACKUP_SETTINGS = ("BACKUP_CRON", "BACKUP_KEEP")
# Every night at 03:00 UTC (PocketBase's cron runs in UTC); the last 7 are kept.
DEFAULT_BACKUP_CRON = "0 3 * * *"
DEFAULT_BACKUP_KEEP = 7
OFF_WORDS = ("off", "none", "no", "false", "0")
TRUE_WORDS = ("1", "true", "yes", "on")


class StorageError(Exception):
    """The storage settings are wrong or S3 cannot be used; the message is one line, safe to print."""


@dataclass(frozen=True)
class StorageSettings:
    """S3 for files and backups (when endpoint etc. are set; backups in the same bucket unless
    S3_BACKUPS_BUCKET) and the backup schedule."""

    endpoint: str = ""
    bucket: str = ""
    region: str = ""
    access_key: str = ""
    secret: str = field(default="", repr=False)
    force_path_style: bool = False
    # PocketBase lists everything in the backups bucket as a backup: uploaded files (ID-card scans) included
    # when both share one bucket. A bucket of their own keeps the dashboard's Backups page to backups.
    backups_bucket: str = ""
    backup_cron: str = DEFAULT_BACKUP_CRON
    backup_keep: int = DEFAULT_BACKUP_KEEP

    @classmethod
    def from_values(cls, get) -> "StorageSettings":
        """From a get(name) -> str ("" = unset); StorageError when S3 is half configured or a value is malformed."""
        s3 = {name: get(name) for name in S3_REQUIRED}
        given = [name for name, value in s3.items() if value]
        if given and len(given) < len(s3):
            missing = ", ".join(name for name, value in s3.items() if not value)
            raise StorageError(f"S3 is partly configured: {missing} missing (set all of S3_ENDPOINT, S3_BUCKET, "
                               "S3_REGION, S3_ACCESS_KEY, S3_SECRET, or none)")
        if s3["S3_ENDPOINT"] and not re.match(r"https?://[^/\s]+", s3["S3_ENDPOINT"]):
            raise StorageError(f"S3_ENDPOINT must be an http(s):// URL, not {s3['S3_ENDPOINT']!r}")
        if get("S3_BACKUPS_BUCKET") and not given:
            raise StorageError("S3_BACKUPS_BUCKET is set but S3 is not (set S3_ENDPOINT, S3_BUCKET, S3_REGION, "
                               "S3_ACCESS_KEY, S3_SECRET too)")
        path_style = get("S3_FORCE_PATH_STYLE").lower()
        if path_style and path_style not in TRUE_WORDS + OFF_WORDS:
            raise StorageError(f"S3_FORCE_PATH_STYLE must be true or false, not {path_style!r}")
        cron = get("BACKUP_CRON") or DEFAULT_BACKUP_CRON
        keep_raw = get("BACKUP_KEEP")
        try:
            keep = int(keep_raw) if keep_raw else DEFAULT_BACKUP_KEEP
        except ValueError:
            keep = 0
        if keep <= 0:
            raise StorageError(f"BACKUP_KEEP must be a positive whole number, not {keep_raw!r}")
        return cls(
            endpoint=s3["S3_ENDPOINT"].rstrip("/"), bucket=s3["S3_BUCKET"], region=s3["S3_REGION"],
            access_key=s3["S3_ACCESS_KEY"], secret=s3["S3_SECRET"], force_path_style=path_style in TRUE_WORDS,
            backups_bucket=get("S3_BACKUPS_BUCKET") or s3["S3_BUCKET"],
            backup_cron="" if cron.lower() in OFF_WORDS else cron, backup_keep=keep,
        )

    @property
    def s3_enabled(self) -> bool:
        return bool(self.bucket)

    def describe(self) -> str:
        """Where files and backups go, for humans (no keys)."""
        schedule = f"backups {self.backup_cron!r} (keep {self.backup_keep})" if self.backup_cron else "no scheduled backups"
        if not self.s3_enabled:
            return f"files and backups in the local data dir; {schedule}"
        if self.backups_bucket == self.bucket:
            return f"files and backups in S3 bucket {self.bucket} at {self.endpoint}; {schedule}"
        return (f"files in S3 bucket {self.bucket}, backups in S3 bucket {self.backups_bucket} at {self.endpoint}; "
                f"{schedule}")

    def pocketbase_settings(self) -> dict:
        """The body of PATCH /api/settings: the same bucket for uploaded files and for backups."""
        s3 = {"enabled": self.s3_enabled, "bucket": self.bucket, "region": self.region,
              "endpoint": self.endpoint, "accessKey": self.access_key, "secret": self.secret,
              "forcePathStyle": self.force_path_style}
        if not self.s3_enabled:
            s3 = {"enabled": False}
        backups_s3 = dict(s3, bucket=self.backups_bucket) if self.s3_enabled else dict(s3)
        return {"s3": s3, "backups": {"cron": self.backup_cron, "cronMaxKeep": self.backup_keep, "s3": backups_s3}}


def _one_line(response: requests.Response) -> str:
    """PocketBase's error message as one short line (its raw S3 errors carry an XML body)."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    fields = body.get("data") or {}
    details = [f"{group}.{name}: {error.get('message')}" for group, errors in fields.items()
               if isinstance(errors, dict) for name, error in errors.items() if isinstance(error, dict)]
    message = "; ".join(details) or str(body.get("message") or f"HTTP {response.status_code}")
    message = message.split("(RAW:")[0]
    return " ".join(message.replace("Raw error:", "-").split())[:300]


def apply_storage_settings(pb_url: str, token: str, storage: StorageSettings, timeout: float = 30) -> None:
    """Write the storage and backup settings into PocketBase, then (S3 on) test both filesystems.

    Raises StorageError with one line when PocketBase rejects the settings or cannot use the bucket.
    """
    headers = {"Authorization": token}
    response = requests.patch(f"{pb_url}/api/settings", json=storage.pocketbase_settings(), headers=headers,
                              timeout=timeout)
    if response.status_code != 200:
        raise StorageError(f"PocketBase rejected the storage settings: {_one_line(response)}")
    if not storage.s3_enabled:
        return
    for filesystem, bucket, use in (("storage", storage.bucket, "uploaded files"),
                                    ("backups", storage.backups_bucket, "backups")):
        response = requests.post(f"{pb_url}/api/settings/test/s3", json={"filesystem": filesystem},
                                 headers=headers, timeout=timeout)
        if response.status_code != 204:
            raise StorageError(f"S3 bucket {bucket} at {storage.endpoint} is not usable for {use}: "
                               f"{_one_line(response)}")
