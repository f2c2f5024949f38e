"""GET /pb/api/: a small index of the API, the first URL a newcomer tries (PocketBase serves nothing there).

The routes are read from the app's own URL map, so a new route of ours is listed without editing this file.
Paths, not absolute URLs: they hold behind nginx's /pb prefix on any host name.
"""
from __future__ import annotations

from flask import Blueprint, current_app

from sidecar.errors import envelope
from sidecar.routes import docs

API_PREFIX = "/pb/api/"
DOCS_PATH = docs.bp.url_prefix + "/"
DASHBOARD_PATH = "/pb/_/"
# PocketBase's native records API (its {status, message, data} errors, not our envelope).
RECORDS_PATH = "/pb/api/collections/{collection}/records"
# Methods Flask adds to every rule on its own.
IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})

bp = Blueprint("index", __name__)


def our_routes() -> list[dict]:
    """[{method, path}] of every route under /pb/api/ but the docs page's files and this index, by path."""
    routes = []
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX) or rule.endpoint.startswith(("docs.", "index.")):
            continue
        routes += [{"method": method, "path": rule.rule} for method in sorted(rule.methods - IMPLICIT_METHODS)]
    return sorted(routes, key=lambda route: (route["path"], route["method"]))


@bp.get(API_PREFIX)
def api_index():
    """{code: 200, msg, data: {docs, dashboard, records, routes: [{method, path}]}}."""
    return envelope(200, "接口列表", {"docs": DOCS_PATH, "dashboard": DASHBOARD_PATH, "records": RECORDS_PATH,
                                   "routes": our_routes()})
