"""Issue #21's measurements: what Litestream replication costs the write routes, and restore time by size.

    python -m bench.replica [--sizes 10000,1000000] [--conns 16] [--duration 10] [--skip-cost]

Against moto's S3 server on this machine (no network in between: a real bucket adds its round trips and
bandwidth to the restore). Write cost: the first-login burst and the profile update through nginx on a
10k-user stack with files in S3, without and with REPLICA_URL (cells off-on-on-off), and their ratio.
Restore: a seeded data.db (bench/seed_sql.py) shipped once (`litestream replicate -once`), then restored
into an empty data dir by ops/replica.py's restore (what `make restore-replica` runs), timed.
Prints the figures and writes bench/raw/replica.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

from bench.cells import run_scenarios
from bench.output import RAW, log
from bench.scale_measure import SizedStack
from bench.scenarios import select
from bench.wrk import wrk_installed
from ops.processes import ManagedProcess, free_port
from ops.replica import DB_NAME, ReplicaSettings, litestream_env, replicate_argv, restore, write_private
from ops.storage import StorageSettings

BUCKET = "bench-replica"


def start_moto(tmp: Path) -> tuple[ManagedProcess, dict]:
    """moto's S3 server on a free port with one bucket; the S3_* settings that use it."""
    port = free_port()
    moto = ManagedProcess("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                          tmp / "moto.log").start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                          aws_secret_access_key="bench-secret")
    for _ in range(100):
        try:
            client.create_bucket(Bucket=BUCKET)
            break
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.2)
    settings = {"S3_ENDPOINT": endpoint, "S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "S3_ACCESS_KEY": "bench",
                "S3_SECRET": "bench-secret", "S3_FORCE_PATH_STYLE": "true"}
    return moto, settings


def write_cost(s3: dict, conns: int, duration: int) -> dict:
    """req/s of the first-login burst and the profile update, replication off and on (files in S3 both times):
    both stacks up at once, each scenario run off-on then on-off (two cells each) so neither order nor the
    machine's drifting load favours one side; the ratio is on's requests over off's."""
    stacks = {"off": SizedStack(10_000, **s3),
              "on": SizedStack(10_000, **s3, REPLICA_URL=f"s3://{BUCKET}/cost-{int(time.time())}")}
    figures: dict = {"off": {}, "on": {}, "ratio": {}}
    try:
        for sized in stacks.values():
            sized.seed(queries=False)
            sized.start()
        for name in ("login_new", "profile"):
            for label in ("off", "on", "on", "off"):
                sized = stacks[label]
                (r,) = run_scenarios(sized.stack, sized.files, select(name), [conns], duration,
                                     sized.shape.n_users, tag=f"replication {label:3s} ").values()
                cell = {key: r[key] for key in ("rps", "p50_ms", "p99_ms", "non2xx")}
                figures[label].setdefault(name, []).append(cell)
            figures["ratio"][name] = round(sum(c["rps"] for c in figures["on"][name])
                                           / sum(c["rps"] for c in figures["off"][name]), 3)
    finally:
        for sized in stacks.values():
            sized.stop()
    return figures


def restore_time(s3: dict, n_users: int) -> dict:
    """Seed n_users into a data dir, ship it once, restore it into an empty one: sizes and seconds."""
    get = lambda name: {**s3, "REPLICA_URL": f"s3://{BUCKET}/restore-{n_users}"}.get(name, "")  # noqa: E731
    replica = ReplicaSettings.from_values(get, StorageSettings.from_values(get))
    sized = SizedStack(n_users)
    try:
        sized.seed(queries=False)
        db = sized.config.pb_data_dir / DB_NAME
        conf = write_private(sized.tmp / "litestream.yml", replica.config_yaml(db))
        t0 = time.monotonic()
        subprocess.run([*replicate_argv(conf), "-once"], check=True, capture_output=True, timeout=3600,
                       env=litestream_env(os.environ, replica))
        shipped = time.monotonic() - t0
        target = sized.tmp / "restored"
        t0 = time.monotonic()
        restore(replica, target)
        restored = time.monotonic() - t0
        with sqlite3.connect(target / DB_NAME) as check:
            rows = check.execute("SELECT COUNT(*) FROM tbl_auth_users").fetchone()[0]
        assert rows == n_users, f"restored {rows} users of {n_users}"
        figures = {"users": n_users, "db_mb": round(db.stat().st_size / 1e6, 1),
                   "ship_once_s": round(shipped, 1), "restore_s": round(restored, 1),
                   "seed_s": sized.info["seed_seconds"]}
        log(f"restore {n_users:>9,d} users: {figures}")
        return figures
    finally:
        sized.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replica")
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--skip-cost", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_cost and not wrk_installed():
        return 1
    RAW.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-replica-"))
    moto, s3 = start_moto(tmp)
    data: dict = {"load_before": os.getloadavg()}
    try:
        if not args.skip_cost:
            data["write_cost"] = write_cost(s3, args.conns, args.duration)
            log(f"write cost: {data['write_cost']}")
        data["restore"] = [restore_time(s3, int(n)) for n in args.sizes.split(",") if n]
    finally:
        moto.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        data["load_after"] = os.getloadavg()
        (RAW / "replica.json").write_text(json.dumps(data, indent=1))
    print(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
