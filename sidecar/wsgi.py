"""WSGI entry point for gunicorn: `gunicorn sidecar.wsgi:app`."""
from __future__ import annotations

import logging
import sys

from sidecar import create_app
from sidecar.config import ConfigError
from sidecar.rechecks import start_rechecks

logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="%(asctime)s %(levelname)s %(name)s %(message)s")

try:
    app = create_app()
except ConfigError as exc:
    # One clear line instead of a traceback; gunicorn then stops for want of an app.
    print(f"sidecar: configuration error: {exc}", file=sys.stderr)
    sys.exit(4)
# Here, not in create_app: only a serving worker resubmits pictures (tests build apps without it).
start_rechecks(app)
