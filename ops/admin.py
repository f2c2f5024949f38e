"""The operator commands on a running PocketBase: superuser, backup, restore, storage, logs."""
from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import requests
from pocketbase import PocketBase
from pocketbase.utils import ClientResponseError

from ops.pbserver import PocketBaseServer
from ops.processes import ROOT
from ops.stack_config import PASSWORD_FILE_NAME, StackConfig, StackError, superuser_source
from ops.storage import apply_storage_settings

# A backup or restore of a large data dir takes a while; PocketBase answers once it is done.
ADMIN_TIMEOUT = 600

def admin_pb_url(config: StackConfig) -> str:
    """PB_URL from the environment (or .env), else PocketBase on PB_PORT."""
    from dotenv import dotenv_values
    env_file = dotenv_values(ROOT / ".env") if (ROOT / ".env").exists() else {}
    return (os.environ.get("PB_URL") or env_file.get("PB_URL") or config.pb_url).rstrip("/")


def superuser_client(pb_url: str, config: StackConfig) -> PocketBase:
    """The `pocketbase` client, logged in as the superuser of the running PocketBase."""
    if not config.superuser_password:
        raise StackError(f"no superuser password: set PB_SUPERUSER_PASSWORD or run `make superuser` "
                         f"(which keeps one in {config.pb_data_dir / PASSWORD_FILE_NAME})")
    client = PocketBase(pb_url, timeout=ADMIN_TIMEOUT)
    try:
        client.collection("_superusers").auth_with_password(config.superuser_email, config.superuser_password)
    except ClientResponseError as exc:
        if not exc.status:  # no answer at all
            raise StackError(f"cannot reach PocketBase at {pb_url}; is the stack running (make run)? "
                             "Set PB_URL or PB_PORT if it listens elsewhere.") from None
        raise StackError(f"superuser login at {pb_url} failed with HTTP {exc.status}; "
                         f"is the stack running, and is {config.superuser_email} its superuser?") from None
    return client


def failure(exc: ClientResponseError) -> str:
    """PocketBase's answer to a failed call, short."""
    return f"HTTP {exc.status}: {str(exc.data or exc.original_error)[:500]}"


def cmd_superuser(config: StackConfig) -> int:
    """Create or update the superuser in PB_DATA_DIR."""
    server = PocketBaseServer(data_dir=config.pb_data_dir, superuser_email=config.superuser_email,
                              superuser_password=config.superuser_password)
    server.upsert_superuser()
    print(f"Superuser {config.superuser_email} is set in {config.pb_data_dir} ({superuser_source(config)}).")
    return 0


def cmd_backup(config: StackConfig) -> int:
    """Ask the running PocketBase for a backup; print the zip's path."""
    pb_url = admin_pb_url(config)
    client = superuser_client(pb_url, config)
    # PocketBase accepts lower-case [a-z0-9_-] names ending in .zip.
    name = datetime.now(timezone.utc).strftime("backup_%Y%m%d_%H%M%S.zip")
    try:
        client.backups.create(name)
        # Where PocketBase put it is its own setting, whatever this process's environment says.
        settings = client.settings.get_all()
    except ClientResponseError as exc:
        raise StackError(f"backup failed with {failure(exc)}") from None
    s3 = settings.get("backups", {}).get("s3", {})
    if s3.get("enabled"):
        print(f"Backup created: {name} in S3 bucket {s3.get('bucket')} at {s3.get('endpoint')}")
    else:
        print(f"Backup created: {config.pb_data_dir / 'backups' / name}")
    return 0


def cmd_restore(config: StackConfig, name: str) -> int:
    """Restore a backup (a name in pb_data/backups/) into the running PocketBase, which then restarts."""
    name = Path(name).name
    pb_url = admin_pb_url(config)
    client = superuser_client(pb_url, config)
    try:
        client.backups.restore(name)
    except ClientResponseError as exc:
        raise StackError(f"restore of {name} failed with {failure(exc)}") from None
    # PocketBase restores in the background, then re-executes itself: wait for it to go away (so the
    # old process's answer is not taken for the new one's), then for it to answer again.
    went_away_by = time.monotonic() + 15
    while time.monotonic() < went_away_by:
        try:
            requests.get(pb_url + "/api/health", timeout=1)
        except requests.RequestException:
            break
        time.sleep(0.1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(pb_url + "/api/health", timeout=2).status_code == 200:
                reapply_storage(pb_url, config)
                print(f"Restored {name}; PocketBase at {pb_url} is back up.")
                return 0
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise StackError(f"restored {name}, but PocketBase at {pb_url} did not come back within 60 s")


def reapply_storage(pb_url: str, config: StackConfig) -> None:
    """After a restore: the backup brought its own S3 settings back; put this environment's in place again."""
    if not config.storage.s3_enabled:
        return  # no S3 here: the restored settings stay until the next start applies the environment's
    apply_storage_settings(pb_url, superuser_client(pb_url, config).auth_store.token, config.storage)


def cmd_storage(config: StackConfig) -> int:
    """Apply the S3 and backup settings to the running PocketBase (servers run it without ops.stack)."""
    pb_url = admin_pb_url(config)
    apply_storage_settings(pb_url, superuser_client(pb_url, config).auth_store.token, config.storage)
    print(f"PocketBase at {pb_url}: {config.storage.describe()}.")
    return 0


def cmd_logs(config: StackConfig) -> int:
    """Follow the run dir's log files (replaces this process with tail)."""
    logs = sorted(str(p) for p in config.run_dir.glob("*.log"))
    if not logs:
        print(f"No logs in {config.run_dir} yet; start the stack with `make run`.", file=sys.stderr)
        return 1
    os.execvp("tail", ["tail", "-n", "40", "-F", *logs])
    return 0  # not reached
