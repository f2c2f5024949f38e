"""/pb/api/docs: the API contract (spec/openapi-wx.yaml) and a Swagger UI page to read it.

Swagger UI comes from the swagger_ui_bundle package's files: no CDN, nothing fetched at run time. Every
URL in the page is relative, so it works behind nginx's /pb prefix and any host name.

The bundled Swagger UI (4.x) renders OpenAPI 3.0 only, while the contract is 3.1. The page therefore
loads /pb/api/docs/openapi-ui.json, a copy rewritten into the 3.0 dialect for display only;
/pb/api/docs/openapi.yaml is the contract file byte for byte, /pb/api/docs/openapi.json the same as JSON.

Try it out sends requests to the stack that served the page: the UI copy lists this origin first (Swagger
UI selects the first server), so pressing Execute on a local stack never reaches production, which stays
listed for reference.
"""
from __future__ import annotations

import copy
import threading
from pathlib import Path

import yaml
from flask import Blueprint, Response, jsonify, redirect, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from sidecar.errors import NotFound

SPEC_PATH = Path(__file__).resolve().parents[2] / "spec" / "openapi-wx.yaml"
SWAGGER_UI_DIR = Path(str(swagger_ui_path))
# The static files the page needs; anything else in the bundle's folder is not served.
SWAGGER_UI_ASSETS = frozenset({
    "swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
    "favicon-16x16.png", "favicon-32x32.png",
})
ASSET_MAX_AGE = 24 * 3600

bp = Blueprint("docs", __name__, url_prefix="/pb/api/docs")

PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>BAI 微信小程序接口文档</title>
  <link rel="stylesheet" href="swagger-ui.css">
  <link rel="icon" type="image/png" href="favicon-32x32.png" sizes="32x32">
  <style>body { margin: 0; } .swagger-ui .topbar { display: none; }</style>
</head>
<body>
  <noscript>接口文档需要启用 JavaScript;原始文件见 <a href="openapi.yaml">openapi.yaml</a>。</noscript>
  <div id="swagger-ui"></div>
  <script src="swagger-ui-bundle.js"></script>
  <script src="swagger-ui-standalone-preset.js"></script>
  <script>
    fetch("openapi-ui.json").then((response) => response.json()).then((spec) => {
      // The first server is this origin ("/"); spelled out, so Try it out (which uses the first server
      // unless another is picked) sends requests here, never to production.
      spec.servers[0].url = window.location.origin;
      window.ui = SwaggerUIBundle({
        spec: spec,
        dom_id: "#swagger-ui",
        deepLinking: true,
        docExpansion: "list",
        // null: no badge from the public validator service (nothing leaves this server).
        validatorUrl: null,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
        layout: "BaseLayout"
      });
    });
  </script>
</body>
</html>
"""


class _SpecCache:
    """The spec file parsed once per modification time (the file is read by every worker thread)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._raw = b""
        self._parsed: dict = {}
        self._for_ui: dict = {}

    def _load(self) -> None:
        mtime = self.path.stat().st_mtime
        with self._lock:
            if mtime != self._mtime:
                raw = self.path.read_bytes()
                parsed = yaml.safe_load(raw)
                self._raw, self._parsed = raw, parsed
                self._for_ui = this_origin_first(openapi_31_to_30(parsed))
                self._mtime = mtime

    def raw(self) -> bytes:
        self._load()
        return self._raw

    def parsed(self) -> dict:
        self._load()
        return self._parsed

    def for_ui(self) -> dict:
        self._load()
        return self._for_ui


spec_cache = _SpecCache(SPEC_PATH)


def _schema_node_to_30(node: dict) -> dict:
    """One schema node rewritten from 3.1 to 3.0 idioms (type lists, type null, const, examples)."""
    node_type = node.get("type")
    if isinstance(node_type, list):
        kinds = [kind for kind in node_type if kind != "null"]
        if len(kinds) < len(node_type):
            node["nullable"] = True
        if len(kinds) == 1:
            node["type"] = kinds[0]
        elif kinds:
            del node["type"]
            node["anyOf"] = [{"type": kind} for kind in kinds]
        else:
            del node["type"]
    elif node_type == "null":
        del node["type"]
        node["nullable"] = True
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list):
            kept = [option for option in options if option != {"nullable": True}]
            if len(kept) < len(options):
                node["nullable"] = True
                node[key] = kept
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if isinstance(node.get("examples"), list) and "type" in node:
        examples = node.pop("examples")
        if examples:
            node.setdefault("example", examples[0])
    return node


def openapi_31_to_30(spec: dict) -> dict:
    """A copy of an OpenAPI 3.1 document that Swagger UI 4 (OpenAPI 3.0 only) can display."""
    converted = copy.deepcopy(spec)

    def walk(value):
        if isinstance(value, dict):
            for child in value.values():
                walk(child)
            _schema_node_to_30(value)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(converted)
    converted["openapi"] = "3.0.3"
    license_info = converted.get("info", {}).get("license")
    if isinstance(license_info, dict):
        license_info.pop("identifier", None)
    converted.pop("jsonSchemaDialect", None)
    converted.pop("webhooks", None)
    return converted


# A relative server URL resolves against the document's own URL: the origin that served this page.
THIS_ORIGIN_SERVER = {"url": "/", "description": "当前服务(本页面所在地址)"}


def this_origin_first(spec: dict) -> dict:
    """The spec with this origin as the first (default) server, the contract's servers after it."""
    others = [server for server in spec.get("servers", []) if server.get("url") != THIS_ORIGIN_SERVER["url"]]
    spec["servers"] = [dict(THIS_ORIGIN_SERVER), *others]
    return spec


@bp.get("")
def page_without_slash():
    """Redirect to the page with a trailing slash, relatively, so the /pb prefix and host survive."""
    return redirect("docs/", code=301)


@bp.get("/")
def page():
    """The Swagger UI page."""
    return Response(PAGE, mimetype="text/html")


@bp.get("/openapi.yaml")
def spec_yaml():
    """The API contract, exactly as in the repository."""
    return Response(spec_cache.raw(), mimetype="application/yaml")


@bp.get("/openapi.json")
def spec_json():
    """The API contract as JSON."""
    return jsonify(spec_cache.parsed())


@bp.get("/openapi-ui.json")
def spec_for_ui():
    """The contract in the OpenAPI 3.0 dialect the bundled Swagger UI renders (display only)."""
    return jsonify(spec_cache.for_ui())


@bp.get("/<path:filename>")
def asset(filename: str):
    """Swagger UI's static files from the swagger_ui_bundle package."""
    if filename not in SWAGGER_UI_ASSETS:
        raise NotFound("接口不存在")
    return send_from_directory(SWAGGER_UI_DIR, filename, max_age=ASSET_MAX_AGE)
