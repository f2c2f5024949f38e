"""/pb/api/docs: the API contract (spec/openapi-wx.yaml) and a Swagger UI page to read it.

Swagger UI 5 comes from the swagger-ui-bundle-v2 package's files: no CDN, nothing fetched at run time. It
renders OpenAPI 3.1 as it is, so the page loads /pb/api/docs/openapi.json, the contract as JSON, unchanged;
/pb/api/docs/openapi.yaml is the contract file byte for byte. Every URL in the page is relative, so it
works behind nginx's /pb prefix and any host name.

Try it out sends requests to the stack that served the page: the page puts this origin first in the
server list (Swagger UI selects the first server), so pressing Execute on a local stack never reaches
production, which stays listed after it.

In dev mode (WECHAT_DEV_STUB) the page swaps the WeChat routes' request examples for codes the WeChat dev
stub accepts (the contract's are real-looking WeChat codes the stub refuses) and puts a note listing the
stub's codes on top; openapi.yaml and openapi.json stay the contract as it is.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import yaml
from flask import Blueprint, Response, current_app, redirect, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from ops.wechat_stub.codes import dev_note
from sidecar.errors import NotFound
from sidecar.offload import run_off_loop

SPEC_PATH = Path(__file__).resolve().parents[2] / "spec" / "openapi-wx.yaml"
SWAGGER_UI_DIR = Path(str(swagger_ui_path))
# The static files the page needs; anything else in the bundle's folder is not served.
SWAGGER_UI_ASSETS = frozenset({
    "swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
    "favicon-16x16.png", "favicon-32x32.png",
})
# Assets are cached for a day; their URLs carry the bundle's folder name (its version), so a browser
# never pairs this page with a cached Swagger UI of another version after an upgrade.
ASSET_MAX_AGE = 24 * 3600
ASSET_VERSION = SWAGGER_UI_DIR.name
# The page and the contract change with a deploy: browsers revalidate them on every visit.
NO_CACHE = "no-cache"

bp = Blueprint("docs", __name__, url_prefix="/pb/api/docs")

PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>BAI 微信小程序接口文档</title>
  <link rel="stylesheet" href="swagger-ui.css?v=@V@">
  <link rel="icon" type="image/png" href="favicon-32x32.png?v=@V@" sizes="32x32">
  <style>body { margin: 0; } .swagger-ui .topbar { display: none; }</style>
</head>
<body>
  <noscript>接口文档需要启用 JavaScript;原始文件见 <a href="openapi.yaml">openapi.yaml</a>。</noscript>
  <div id="swagger-ui"></div>
  <script src="swagger-ui-bundle.js?v=@V@"></script>
  <script src="swagger-ui-standalone-preset.js?v=@V@"></script>
  <script>
    fetch("openapi.json").then((response) => response.json()).then((spec) => {
      // Try it out uses the first server unless another is picked: this origin, so Execute sends
      // requests to the stack that served this page; the contract's servers (production) follow.
      const here = window.location.origin;
      const others = (spec.servers || []).filter((server) => server.url !== here);
      spec.servers = [{ url: here, description: "当前服务(本页面所在地址)" }, ...others];
      // Dev mode only (null otherwise): request examples the WeChat dev stub accepts, and its codes on top.
      const devStub = @DEV_STUB@;
      if (devStub) {
        for (const [path, example] of Object.entries(devStub.examples)) {
          const media = (((spec.paths[path] || {}).post || {}).requestBody || {}).content;
          if (!media || !media["application/json"]) continue;
          delete media["application/json"].examples;
          media["application/json"].example = example;
        }
        spec.info.description = devStub.note + "\\n\\n" + (spec.info.description || "");
      }
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
""".replace("@V@", ASSET_VERSION)

# The dev-mode request examples, by path: codes the WeChat dev stub accepts (ops/wechat_stub/answers.py;
# tests/test_routes_docs.py runs each through it). A media-type example replaces the body Swagger UI would
# build from the schema, which for the profile would hold placeholder attachment ids the route refuses.
DEV_EXAMPLES = {
    "/pb/api/wechat/login": {"users_wx_code": "alice"},
    "/pb/api/wechat/profile": {"users_name": "张三", "users_phone_code": "phone-13800138000"},
    "/pb/api/system/refresh-token": {"users_wx_code": "alice.2"},
}
# The stub's codes (ops/wechat_stub/codes.py, the one source of docs/operations.md's table too; Markdown: the
# page renders it).
DEV_NOTE = dev_note()


def render_page(dev_stub: bool) -> str:
    """The page; in dev mode with the stub's examples and note (as JSON, safe inside <script>)."""
    dev = json.dumps({"examples": DEV_EXAMPLES, "note": DEV_NOTE}, ensure_ascii=False) if dev_stub else "null"
    return PAGE.replace("@DEV_STUB@", dev.replace("</", "<\\/"))


PAGES = {dev_stub: render_page(dev_stub) for dev_stub in (False, True)}


def _as_json(spec_yaml: bytes) -> bytes:
    return json.dumps(yaml.safe_load(spec_yaml), ensure_ascii=False).encode()


class _SpecCache:
    """The spec file, raw and as JSON, read again only when its modification time changes."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._raw = b""
        self._json = b""

    def _load(self) -> None:
        mtime = self.path.stat().st_mtime
        with self._lock:
            if mtime != self._mtime:
                raw = self.path.read_bytes()
                # The contract's key order (paths, properties) is kept: it is the order the page shows. The
                # parse (~100 ms for the 100 KB spec) runs off the worker's event loop (sidecar/offload.py).
                self._raw = raw
                self._json = run_off_loop(_as_json, raw)
                self._mtime = mtime

    def raw(self) -> bytes:
        self._load()
        return self._raw

    def as_json(self) -> bytes:
        self._load()
        return self._json


spec_cache = _SpecCache(SPEC_PATH)


def _not_cached(body: bytes | str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = NO_CACHE
    return response


@bp.get("")
def page_without_slash():
    """Redirect to the page with a trailing slash, relatively, so the /pb prefix and host survive."""
    return redirect("docs/", code=301)


@bp.get("/")
def page():
    """The Swagger UI page (with the dev stub's examples in dev mode)."""
    return _not_cached(PAGES[bool(current_app.config["SIDECAR"].WECHAT_DEV_STUB)], "text/html")


@bp.get("/openapi.yaml")
def spec_yaml():
    """The API contract, exactly as in the repository."""
    return _not_cached(spec_cache.raw(), "application/yaml")


@bp.get("/openapi.json")
def spec_json():
    """The API contract as JSON (what the page renders)."""
    return _not_cached(spec_cache.as_json(), "application/json")


@bp.get("/<path:filename>")
def asset(filename: str):
    """Swagger UI's static files from the swagger-ui-bundle-v2 package."""
    if filename not in SWAGGER_UI_ASSETS:
        raise NotFound("接口不存在")
    return send_from_directory(SWAGGER_UI_DIR, filename, max_age=ASSET_MAX_AGE)
