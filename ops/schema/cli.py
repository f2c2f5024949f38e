"""The command line of the schema tool: python -m ops.schema generate | check | diff | pull."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ops.schema.checks import SPEC_PATH, check
from ops.schema.domain import render_generated, write_generated
from ops.schema.live import diff, pull
from ops.schema.migrations import generate
from ops.schema.pocketbase_json import SCHEMA_PATH


def main(argv: list[str] | None = None) -> int:
    """Run one command; answer the exit status."""
    parser = argparse.ArgumentParser(prog="python -m ops.schema")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("generate")
    check_parser = sub.add_parser("check")
    check_parser.add_argument("--spec", type=Path, action="append")
    for name in ("diff", "pull"):
        live = sub.add_parser(name)
        live.add_argument("url", nargs="?", help="PocketBase URL (default: PB_URL, else the stack's PB_PORT)")
    args = parser.parse_args(argv)

    if args.command == "generate":
        for line in (generate() + write_generated(render_generated())) or ["generated files are up to date"]:
            print(line)
        return 0
    if args.command == "check":
        problems = []
        for spec in args.spec or [SPEC_PATH]:
            problems += check(spec_path=spec)
        for problem in dict.fromkeys(problems):
            print(f"schema-check: {problem}", file=sys.stderr)
        if not problems:
            print("schema-check: pb_migrations/, sidecar/domain.py and pb_hooks/lib/{domain,settings}.js are current; "
                  "every spec field is declared")
        return 1 if problems else 0

    # The same superuser and URL as make backup/restore: environment, .env, or pb_data's password file.
    from ops.admin import admin_pb_url, superuser_client
    from ops.stack_config import StackConfig, StackError
    try:
        config = StackConfig.from_env(generate_password=False)
        args.url = (args.url or admin_pb_url(config)).rstrip("/")
        token = superuser_client(args.url, config).auth_store.token
    except StackError as exc:
        print(f"schema-{args.command}: {exc}", file=sys.stderr)
        return 2
    if args.command == "diff":
        text = diff(args.url, token)
        print(text or "schema-diff: the running PocketBase matches schema.yaml")
        return 1 if text else 0
    pull(args.url, token)
    print(f"schema-pull: wrote {SCHEMA_PATH.name}; review with `git diff`, then `make schema`")
    return 0
