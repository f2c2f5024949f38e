"""One structured log line per request, with a request id that is also sent back."""
from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, request

access_log = logging.getLogger("sidecar.access")
# Accept the id nginx generates (hex) or a caller's, if it is short and plain.
REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def init_request_log(app: Flask) -> None:
    """Attach the request id and log method, path, status, duration (and an error's reason) of every request."""

    @app.before_request
    def start_timer():
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if REQUEST_ID_SHAPE.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def log_request(response):
        request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
        response.headers["X-Request-Id"] = request_id
        started = getattr(g, "started", None)
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
        # Path only: no query string, headers or body, where tokens and codes would be.
        line = {
            "request_id": request_id, "method": request.method, "path": request.path,
            "status": response.status_code, "duration_ms": duration_ms,
            "client_ip": request.headers.get("X-Real-IP") or request.remote_addr,
        }
        if "error_reason" in g:  # an error's answer: why (sidecar/errors.py log_reason)
            line["reason"] = g.error_reason
        access_log.info(json.dumps(line, ensure_ascii=False))
        return response
