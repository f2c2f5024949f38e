"""python -m ops.wechat_stub: see ops/wechat_stub/cli.py."""
import sys

from ops.wechat_stub.cli import main

sys.exit(main())
