"""WSGI entry point for gunicorn: `gunicorn sidecar.wsgi:app`."""
from __future__ import annotations

import logging
import sys

from sidecar import create_app
from sidecar.config import ConfigError

logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="%(asctime)s %(levelname)s %(name)s %(message)s")

try:
    app = create_app()
except ConfigError as exc:
    # One clear line instead of a traceback; gunicorn then stops for want of an app.
    print(f"sidecar: configuration error: {exc}", file=sys.stderr)
    sys.exit(4)
