"""/pb/api/system: token refresh, users count, health."""
from __future__ import annotations

from flask import Blueprint, current_app

from sidecar.audit import audited
from sidecar.errors import envelope
from sidecar.replica import replica_status
from sidecar.routes import WX_CODE_MAX_LENGTH, users
from sidecar.routes.inputs import bearer_token, client_info, json_object, optional_string

bp = Blueprint("system", __name__, url_prefix="/pb/api/system")


@bp.post("/refresh-token")
@audited("refresh-token")
def refresh_token():
    """A new token from a valid bearer, else from a WeChat code."""
    token = bearer_token(required=False)
    code = optional_string(json_object(), "users_wx_code", WX_CODE_MAX_LENGTH)
    return envelope(200, "刷新成功", {}, token=users().refresh_token(token, code, client_info()))


@bp.post("/users-count")
def users_count():
    """Number of users (public)."""
    json_object()
    return envelope(200, "查询成功", {"total_users": users().count_users()})


@bp.get("/health")
def health():
    """Whether PocketBase answers, which WeChat server is in use, and how far the replica of data.db lags.

    A replica that is behind or down is reported, not a 503: PocketBase still serves (readiness), the
    operator's monitoring reads `replica` (sidecar/replica.py).
    """
    config = current_app.config["SIDECAR"]
    pocketbase_ok = current_app.extensions["pocketbase"].healthy()
    data = {"pocketbase": "ok" if pocketbase_ok else "down",
            "wechat_mode": "dev-stub" if config.WECHAT_DEV_STUB else "live",
            "replica": replica_status(bool(config.REPLICA_URL), config.REPLICA_SOCKET)}
    if pocketbase_ok:
        return envelope(200, "服务正常", data)
    return envelope(503, "数据服务暂不可用", data)
