"""CORS on the sidecar's routes, as PocketBase answers it on its own API: browser H5 pages on another
origin may call us. CORS_ALLOWED_ORIGINS is "*" (any origin, PocketBase's default) or a list of origins.

No cookies are involved (tokens travel in Authorization), so credentials are never allowed.
"""
from __future__ import annotations

import re

from flask import Flask, request

ALLOWED_METHODS = "GET, POST, OPTIONS"
# The headers a page may send when the preflight names none.
DEFAULT_ALLOWED_HEADERS = "Authorization, Content-Type, X-Request-Id"
PREFLIGHT_MAX_AGE = "600"


def parse_origins(value: str) -> frozenset[str] | None:
    """None for "*" (any origin); else the set of origins, given separated by commas or spaces.

    ValueError naming the first item that is not an origin (nginx's config is rendered from these too).
    """
    items = [item.strip().rstrip("/") for item in (value or "*").replace(",", " ").split()]
    for item in items:
        if item != "*" and not re.fullmatch(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?", item):
            raise ValueError(f"CORS_ALLOWED_ORIGINS: {item!r} is not an origin like https://h5.example.com")
    if not items or "*" in items:
        return None
    return frozenset(items)


def init_cors(app: Flask, allowed_origins: str) -> None:
    """Answer preflights with 204 and add Access-Control-Allow-Origin to answers to allowed origins."""
    origins = parse_origins(allowed_origins)

    def allowed_origin() -> str:
        origin = request.headers.get("Origin", "")
        if not origin:
            return ""
        if origins is None:
            return "*"
        return origin if origin in origins else ""

    @app.before_request
    def answer_options():
        # A CORS preflight to any path, known or not, as PocketBase answers preflights on its own API: the
        # page's real request then gets our answer (a 404 envelope included) instead of a CORS failure.
        # A bare OPTIONS (RFC 9110 9.3.7) to a path we serve: a bodiless 204 with Allow (Flask's own answer
        # is an empty text/html 200); to an unknown path it falls through to the 404 envelope.
        if request.method != "OPTIONS":
            return None
        known = request.url_rule is not None
        if not known and "Access-Control-Request-Method" not in request.headers:
            return None
        response = app.response_class(status=204)
        del response.headers["Content-Type"]  # nothing to type
        if known:
            response.headers["Allow"] = allowed_methods(app)
        return response

    @app.after_request
    def add_cors_headers(response):
        if origins is not None:
            response.vary.add("Origin")
        origin = allowed_origin()
        if not origin:
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "X-Request-Id"
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = \
                request.headers.get("Access-Control-Request-Headers") or DEFAULT_ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response


def allowed_methods(app: Flask) -> str:
    """The Allow header's value for the request's path: every method some route of ours takes there."""
    return ", ".join(sorted(app.create_url_adapter(request).allowed_methods()))
