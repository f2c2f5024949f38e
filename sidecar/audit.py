"""The login audit (tbl_login_log): the sidecar's share, the row of each failed attempt.

A success's row is written inside PocketBase by the one request that signs the user in (the internal
wechat-login and renew-token routes, the native auth-refresh: pb_hooks/lib/login_log.js), so a
successful login or refresh stays one PocketBase request. A failure's row is one call to
/api/internal/login-log, shaped by the same lib/login_log.js. Rows never hold a code, token or
session_key: only the route, openid and user id when known, the client address nginx saw, the user
agent, and the result with its status and our message.
"""
from __future__ import annotations

import functools
import logging

from flask import current_app, request

from sidecar.errors import status_and_message

log = logging.getLogger(__name__)

LOGIN_LOG_PATH = "/api/internal/login-log"
# More than the row keeps (lib/login_log.js clips it): only so that no header's size reaches PocketBase.
USER_AGENT_SENT_MAX = 1024


def login_log_row(route: str, status: int, reason: str = "") -> dict:
    """The lib/login_log.js entry of this request's failed attempt (its openid and user are not known here)."""
    return {
        "route": route, "openid": "", "userId": "",
        # nginx overwrites X-Real-IP with the address it saw; without nginx (tests) it is the peer.
        "ip": request.headers.get("X-Real-IP") or request.remote_addr or "",
        "userAgent": request.headers.get("User-Agent", "")[:USER_AGENT_SENT_MAX],
        "result": "ok" if status == 200 else "failed", "status": status, "reason": reason,
    }


def write(row: dict) -> None:
    """Save the row; a failure is logged and never fails the attempt it describes."""
    try:
        current_app.extensions["pocketbase"].call("POST", LOGIN_LOG_PATH, body=row)
    except Exception as exc:  # noqa: BLE001 - the audit must not turn a login into an error
        log.warning("login log not written: route=%s status=%s (%s)", row["route"], row["status"],
                    type(exc).__name__)


def audited(route: str):
    """Decorate a login-like view so that each failed call writes its tbl_login_log row (PocketBase writes successes)."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            except Exception as exc:
                write(login_log_row(route, *status_and_message(exc)))
                raise
        return wrapper
    return decorate
