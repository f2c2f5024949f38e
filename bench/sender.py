"""`make bench`'s subscribe message figure: messages per second from the outbox through the sender to the dev stub,
and the sender's CPU per message. Self-contained (its own stack on free ports in a temp dir).

    python -m bench.sender [--messages 400] [--output bench/sender.md]

The stack's own sender is stopped; the grants and 待发送 records are written first (as superuser), then one sender
process is started and timed from its "sender started" line until every record is settled. CPU: the process's
utime + stime over the same span (its start-up excluded), from /proc.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from ops.processes import ManagedProcess, free_ports, proc_stat
from ops.stack import Stack
from ops.stack_config import StackConfig
from sidecar.domain import SUBSCRIBE_GRANT_MAX as GRANT_MAX

BENCH = Path(__file__).resolve().parent
DATA = {"thing1": "bench.png", "time2": "2026-12-07 10:00", "thing3": "图片内容违规"}


def cpu_seconds(pid: int) -> float:
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def seed(pb_url: str, token: str, messages: int) -> None:
    """Grants for messages users' worth (GRANT_MAX each) and messages 待发送 records, as superuser."""
    session = requests.Session()
    session.headers["Authorization"] = token
    users = [f"bench-sender-{n}" for n in range(-(-messages // GRANT_MAX))]

    def post(collection: str, body: dict) -> None:
        response = session.post(f"{pb_url}/api/collections/{collection}/records", json=body, timeout=30)
        response.raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda openid: post("tbl_subscribe_grants", {
            "grant_openid": openid, "grant_template": "picture_removed", "grant_count": GRANT_MAX}), users))
        list(pool.map(lambda n: post("tbl_notifications", {
            "notification_openid": users[n // GRANT_MAX], "notification_template": "picture_removed",
            "notification_data": DATA}), range(messages)))


def settled(pb_url: str, token: str) -> int:
    response = requests.get(f"{pb_url}/api/collections/tbl_notifications/records", timeout=30, headers={
        "Authorization": token}, params={"filter": 'notification_status = "已发送"', "perPage": 1})
    return response.json()["totalItems"]


def measure(stack: Stack, messages: int) -> dict:
    stack.processes["sender"].stop()
    token = stack.pb.superuser_token()
    seed(stack.config.pb_url, token, messages)
    log_path = stack.run_dir / "sender-bench.log"
    sender = ManagedProcess("sender-bench", [sys.executable, "-m", "sidecar.sender"], log_path,
                            env=stack.sidecar_env).start()
    try:
        while b"sender started" not in (log_path.read_bytes() if log_path.exists() else b""):
            if not sender.alive():
                raise RuntimeError(sender.log_tail())
            time.sleep(0.01)
        started, cpu_at_start = time.monotonic(), cpu_seconds(sender.pid)
        while settled(stack.config.pb_url, token) < messages:
            if time.monotonic() - started > 600:
                raise RuntimeError("not every message was sent within 600 s")
            time.sleep(0.05)
        seconds, cpu = time.monotonic() - started, cpu_seconds(sender.pid) - cpu_at_start
    finally:
        sender.stop()
    sent = requests.get(stack.stub_url + "/__stub/subscribe-messages", timeout=30).json()
    assert len(sent["messages"]) >= min(messages, 1000) and sent["sends"] == messages, sent["sends"]
    return {"messages": messages, "seconds": seconds, "per_second": messages / seconds,
            "cpu_ms_per_message": cpu * 1000 / messages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sender")
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--output", default=str(BENCH / "sender.md"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-sender-") as tmp:
        http_port, pb_port, sidecar_port = free_ports(3)
        config = StackConfig.from_env({
            "HTTP_PORT": http_port, "PB_PORT": pb_port, "SIDECAR_PORT": sidecar_port, "PB_DATA_DIR": f"{tmp}/pb_data",
            "RUN_DIR": f"{tmp}/run", "NGINX_LISTEN": "127.0.0.1", "RATE_LIMITS": "off", "WECHAT_APPID": "",
            "SUBSCRIBE_TEMPLATES": "", "SIDECAR_WORKERS": 1}, dotenv_path=None)
        with Stack(config) as stack:
            result = measure(stack, args.messages)
    line = (f"{result['messages']} messages in {result['seconds']:.1f} s: {result['per_second']:.0f} messages/s, "
            f"sender CPU {result['cpu_ms_per_message']:.2f} ms per message")
    print("bench.sender: " + line, flush=True)
    Path(args.output).write_text(
        "# Subscribe message sender (generated by `python -m bench.sender`, run by `make bench`)\n\n"
        "Outbox -> sender (one process, its default 4 threads) -> WeChat dev stub, on this machine; PocketBase, the\n"
        "stub and the sender share its cores. A message costs a list share, one claim and one settle (PocketBase,\n"
        f"each one write transaction) and one send.\n\n- {line}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
