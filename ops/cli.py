"""`python -m ops.stack [command]`: run the stack in the foreground, or one of the operator commands.

Commands (the Makefile targets of the same names)::

    python -m ops.stack [run]          # start everything, stay in the foreground until SIGINT/SIGTERM
    python -m ops.stack superuser      # create or update the superuser
    python -m ops.stack backup         # back up a running PocketBase (pb_data/backups/ or the S3 bucket)
    python -m ops.stack restore NAME   # restore that backup into the running PocketBase
    python -m ops.stack storage        # apply S3_* / BACKUP_* to the running PocketBase [--wait SECONDS]
    python -m ops.stack logs           # tail the run dir's logs
    python -m ops.stack restore-replica [--at TIME]  # data.db from the Litestream replica into an empty data dir
    python -m ops.stack replica-check  # the replica's bucket answers; an empty data dir is not started over it
    python -m ops.stack replicate      # become `litestream replicate` for data.db (bai-litestream.service)

Settings come from the environment, else from .env (the environment wins); see StackConfig.from_env.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import requests

from ops.admin import cmd_backup, cmd_logs, cmd_restore, cmd_storage, cmd_superuser
from ops.banner import print_started
from ops.demo import seed
from ops.replica import CONFIG_NAME, DB_NAME, ReplicaError, check_before_start, litestream_env, replicate_argv, \
    restore, write_private
from ops.settings import BY_NAME, secret_names
from ops.stack import Stack
from ops.stack_config import StackConfig, StackError, mask_secrets
from ops.storage import StorageError


class StopRequested(Exception):
    """SIGINT or SIGTERM arrived."""


def run(config: StackConfig) -> int:
    """Start the stack and watch it: 0 after SIGINT/SIGTERM, 1 when a child dies or the start fails."""
    stopping = {"requested": False}

    def on_signal(signum, frame):
        if not stopping["requested"]:
            stopping["requested"] = True
            raise StopRequested()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stack = Stack(config)
    secret_values = config.secret_values()
    try:
        print(f"Starting the stack (logs in {stack.run_dir}) ...", flush=True)
        # A new data dir in dev mode gets the demo records (ops/demo.py); an existing one is left as it is.
        new_data_dir = not (config.pb_data_dir / "data.db").exists()
        stack.start()
        demo = seed(stack.pb.url, stack.pb.superuser_token()) if config.dev_mode and new_data_dir else None
        print_started(stack, demo)
        while True:
            time.sleep(0.5)
            dead = stack.dead_process()
            if dead:
                stopping["requested"] = True  # from here on a signal must not interrupt the cleanup
                print(f"\n{dead.name} exited unexpectedly with status {dead.proc.returncode}; stopping the stack.",
                      file=sys.stderr, flush=True)
                print(f"--- last lines of {dead.log_path} ---\n"
                      + mask_secrets(dead.log_tail(), secret_values), file=sys.stderr, flush=True)
                stack.stop()
                return 1
    except StopRequested:
        print("\nStopping the stack ...", flush=True)
        stopping["requested"] = True
        stack.stop()
        print("Stopped.", flush=True)
        return 0
    except (StackError, RuntimeError) as exc:
        stopping["requested"] = True
        stack.stop()
        print("The stack failed to start:\n" + mask_secrets(str(exc), secret_values), file=sys.stderr, flush=True)
        return 1


def replica_command(config: StackConfig, command: str, at: str) -> int:
    """restore-replica (make restore-replica), replica-check (bai-pocketbase.service's ExecStartPre) and
    replicate (bai-litestream.service: this process becomes Litestream, config and socket beside
    REPLICA_SOCKET)."""
    replica = config.replica
    if command == "restore-replica":
        print(restore(replica, config.pb_data_dir, at or None), flush=True)
        return 0
    if command == "replica-check":
        with tempfile.TemporaryDirectory(prefix="bai-replica-") as work:
            check_before_start(replica, config.pb_data_dir, Path(work))
        print(f"Replica: {replica.describe()}", flush=True)
        return 0
    if not replica.enabled:
        raise ReplicaError("REPLICA_URL is not set: nothing to replicate")
    socket_path = Path(os.environ.get("REPLICA_SOCKET") or BY_NAME["REPLICA_SOCKET"].default)
    conf = write_private(socket_path.parent / CONFIG_NAME,
                         replica.config_yaml(config.pb_data_dir / DB_NAME, socket_path))
    argv = replicate_argv(conf)
    os.execve(argv[0], argv, litestream_env(os.environ, replica))


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m ops.stack`."""
    parser = argparse.ArgumentParser(prog="python -m ops.stack", description="Run and administer the stack.")
    parser.add_argument("command", nargs="?", default="run", choices=(
        "run", "superuser", "backup", "restore", "storage", "logs", "restore-replica", "replica-check", "replicate"))
    parser.add_argument("name", nargs="?", help="restore: the backup's file name (pb_data/backups/<name>.zip)")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                        help="storage: wait this long for PocketBase to answer first (systemd's ExecStartPost)")
    parser.add_argument("--at", default="", metavar="TIME",
                        help="restore-replica: the RFC 3339 time to restore to (default: the latest sync)")
    args = parser.parse_args(argv)
    secret_values = [os.environ.get(name, "") for name in secret_names()]
    try:
        # Only `run` and `superuser` may create the password file; the others need the existing one.
        config = StackConfig.from_env(generate_password=args.command in ("run", "superuser"))
        secret_values = config.secret_values()
        if args.command in ("restore-replica", "replica-check", "replicate"):
            return replica_command(config, args.command, args.at)
        if args.command == "run":
            return run(config)
        if args.command == "superuser":
            return cmd_superuser(config)
        if args.command == "backup":
            return cmd_backup(config)
        if args.command == "restore":
            if not args.name:
                parser.error("restore needs the backup's name: make restore NAME=<file.zip>")
            return cmd_restore(config, args.name)
        if args.command == "storage":
            return cmd_storage(config, wait=args.wait)
        return cmd_logs(config)
    except (StackError, StorageError, ReplicaError, RuntimeError, requests.RequestException) as exc:
        print(f"error: {mask_secrets(str(exc), secret_values)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
