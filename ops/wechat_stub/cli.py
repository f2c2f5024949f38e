"""python -m ops.wechat_stub --port 8555 [--appid A --secret S] [--host H]: the stub as a process."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

import ops.wechat_stub
from ops.wechat_stub.answers import DEFAULT_APPID, DEFAULT_SECRET
from ops.wechat_stub.security import PushTarget
from ops.wechat_stub.server import WeChatStub

log = logging.getLogger("ops.wechat_stub")


def main(argv: list[str] | None = None) -> int:
    """Run the stub as a process until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m ops.wechat_stub", description=ops.wechat_stub.__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--appid", default=os.environ.get("WECHAT_STUB_APPID", DEFAULT_APPID))
    parser.add_argument("--secret", default=os.environ.get("WECHAT_STUB_SECRET", DEFAULT_SECRET))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s wechat-stub %(message)s")
    stub = WeChatStub(appid=args.appid, secret=args.secret,
                      session_key=os.environ.get("WECHAT_STUB_SESSION_KEY") or None,
                      host=args.host, port=args.port, push=PushTarget.from_env(args.appid))

    signal.signal(signal.SIGTERM, lambda signum, frame: stub.request_shutdown())
    signal.signal(signal.SIGINT, lambda signum, frame: stub.request_shutdown())
    stub.bind()
    # Names the URL and appid only: the secret and session keys never reach the log.
    log.info("WeChat dev stub listening on %s (appid %s)", stub.url, stub.appid)
    stub.serve_forever()
    return 0
