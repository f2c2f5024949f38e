"""nginx's config, from templates: the stack's (deploy/nginx.conf.template) and production's site, which share
their API server block (deploy/nginx-api-server.conf.template), and where nginx is installed.

    python -m ops.nginx_conf production    # rewrite deploy/nginx-production.conf (make nginx-production)
    python -m ops.nginx_conf site          # print that site with the environment's CORS_ALLOWED_ORIGINS,
                                           # UPLOAD_MAX_BYTES and MAX_BODY_BYTES

PocketBase's paths take bodies up to the largest file field's max_size in schema.yaml plus the upload's framing
allowance (sidecar/limits.py pocketbase_body_limit), rendered as ${PB_BODY_MAX}.
"""
from __future__ import annotations

import os
import re
import shutil
import string
import sys
from pathlib import Path

from ops.nginx_cache import cache_http, cache_locations
from ops.processes import ROOT
from ops.settings import BY_NAME
from ops.stack_config import RateLimit, StackConfig, StackError
from sidecar.cors import parse_origins
from sidecar.limits import pocketbase_body_limit, upload_body_limit

NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
API_SERVER_TEMPLATE = ROOT / "deploy" / "nginx-api-server.conf.template"
PRODUCTION_TEMPLATE = ROOT / "deploy" / "nginx-production.conf.template"
PRODUCTION_CONF = ROOT / "deploy" / "nginx-production.conf"
GENERATED_NOTE = ("# Generated from deploy/nginx-production.conf.template and deploy/nginx-api-server.conf.template\n"
                  "# by `make nginx-production`: edit those, not this file.\n")


class UppercaseTemplate(string.Template):
    """${NAME} placeholders with upper-case names only, so nginx's lower-case $variables are left alone."""

    flags = 0
    idpattern = r"[A-Z][A-Z0-9_]*"


def with_api_server(template: str) -> str:
    """template with its ${API_SERVER} line replaced by the shared API server block, indented as that line."""
    body = API_SERVER_TEMPLATE.read_text().replace("${LIST_CACHE_LOCATIONS}", cache_locations())
    body = body.split("\n\n", 1)[1].splitlines()  # after its header comment
    match = re.search(r"^( *)\$\{API_SERVER\}\n", template, re.M)
    if not match:
        raise StackError("nginx template has no ${API_SERVER} line")
    indent = match.group(1)
    block = "".join(f"{indent}{line}\n" if line else "\n" for line in body).lstrip("\n")
    return template[:match.start()] + block + template[match.end():]


def substitute(template: str, **values) -> str:
    """template with its ${NAME}s filled; StackError naming any left unfilled."""
    rendered = UppercaseTemplate(with_api_server(template)).safe_substitute(**values)
    leftover = re.findall(r"\$\{[A-Z][A-Z0-9_]*\}", rendered)
    if leftover:
        raise StackError(f"nginx template has unknown placeholders: {sorted(set(leftover))}")
    return rendered


def rate_limit_http(rate_limit: RateLimit | None, indent: str = "") -> str:
    """The http-level lines of the sidecar routes' rate limit, from RATE_LIMITS ("" when it is off)."""
    if not rate_limit:
        return ""
    lines = (f"limit_req_zone $binary_remote_addr zone=sidecar_per_ip:10m rate={rate_limit.rate};",
             "limit_req_status 429;", "limit_req_log_level warn;")
    return "\n".join(indent + line for line in lines)


def rate_limit_location(rate_limit: RateLimit | None) -> str:
    """The limit_req line of the sidecar routes ("" when RATE_LIMITS is off)."""
    return f"limit_req zone=sidecar_per_ip burst={rate_limit.burst} nodelay;" if rate_limit else ""


def cors_maps(allowed_origins: str) -> str:
    """The http-level maps behind the CORS headers of nginx's own envelopes, from CORS_ALLOWED_ORIGINS.

    As the sidecar (sidecar/cors.py): no Origin, no header; `*` answers `*`; a list echoes a listed origin only,
    with `Vary: Origin`. An empty value makes nginx leave the header out. $sidecar_cors_any is for an answer
    given before the headers were read (a 414: no Origin known): `*` when any origin is allowed, else "".
    """
    origins = parse_origins(allowed_origins)
    if origins is None:
        allow = ['default "*";', '"" "";']
        vary = '""'
    else:
        allow = ['default "";', *(f'"{origin}" "{origin}";' for origin in sorted(origins))]
        vary = '"Origin"'
    lines = ["# CORS_ALLOWED_ORIGINS for the envelopes nginx answers itself (the sidecar answers its own).",
             "map $http_origin $sidecar_cors_origin {", *(f"    {line}" for line in allow), "}",
             "map $sidecar_cors_origin $sidecar_cors_expose {", '    default "X-Request-Id";', '    "" "";', "}",
             "map $http_origin $sidecar_cors_vary {", f"    default {vary};", "}",
             "map $host $sidecar_cors_any {", f'    default "{"*" if origins is None else ""}";', "}"]
    return "\n".join(lines)


# The http-level maps the API server block reads besides CORS's (deploy/nginx-api-server.conf.template).
# - $files_disposition: how a file PocketBase serves is disposed: a PDF is always a download (attachment), never
#   shown inline by a browser (issue #31); anything else as PocketBase says.
# - $header_control_byte: 1 when a header clients commonly send holds a control byte (RFC 9110 5.5: none but
#   HTAB in a field value); nginx then answers 400 itself. It names every header the sidecar's locations pass on
#   (the proxy_set_header lines of the template: they pass no other), so gunicorn never sees one and never
#   answers its HTML page; on PocketBase's paths a header not named here still reaches PocketBase's HTTP server,
#   whose 400 is plain text (docs/security.md).
COMMON_HEADERS = ("user_agent", "referer", "authorization", "cookie", "origin", "content_type", "accept",
                  "accept_language", "accept_encoding", "if_none_match", "if_modified_since", "if_match",
                  "if_unmodified_since", "if_range", "range", "access_control_request_method",
                  "access_control_request_headers", "x_requested_with", "x_forwarded_for", "x_real_ip",
                  "cache_control", "pragma", "last_event_id")
API_MAPS = "\n".join([
    "# Files served by PocketBase: a PDF is a download, never shown inline (issue #31).",
    "map $upstream_http_content_type $files_disposition {",
    "    default $upstream_http_content_disposition;",
    '    "~*^application/pdf" "attachment";',
    "}",
    "# A control byte (not HTAB) in a header clients commonly send: answered 400 before any upstream sees it.",
    'map "' + "|".join(f"$http_{name}" for name in COMMON_HEADERS) + '" $header_control_byte {',
    "    default 0;",
    '    "~[\\x00-\\x08\\x0a-\\x1f\\x7f]" 1;',
    "}",
])


def render_nginx_conf(config: StackConfig, template_path: Path = NGINX_TEMPLATE) -> str:
    """The nginx config for this stack, from deploy/nginx.conf.template."""
    rate_limit = RateLimit.parse(config.rate_limits)
    # As root nginx would hand its workers to `nobody`, who cannot write temp dirs under a private run dir.
    user_directive = "user root;" if os.geteuid() == 0 else ""
    return substitute(
        template_path.read_text(),
        USER_DIRECTIVE=user_directive,
        RUN_DIR=str(config.run_dir),
        LISTEN=config.nginx_listen if ":" not in config.nginx_listen else f"[{config.nginx_listen}]",
        HTTP_PORT=config.http_port,
        PB_PORT=config.pb_port,
        SIDECAR_PORT=config.sidecar_port,
        SIDECAR_SERVERS="\n        ".join(f"server {upstream};" for upstream in config.sidecar_upstreams),
        RATE_LIMIT_HTTP=rate_limit_http(rate_limit, "    "),
        RATE_LIMIT_LOCATION=rate_limit_location(rate_limit),
        CORS_MAPS=indented(cors_maps(config.cors_allowed_origins), "    "),
        API_MAPS=indented(API_MAPS, "    "),
        UPLOAD_BODY_MAX=upload_body_limit(config.upload_max_bytes),
        MAX_BODY_BYTES=nginx_size(config.max_body_bytes),
        PB_BODY_MAX=nginx_size(pocketbase_body_limit()),
        LIST_CACHE_HTTP=cache_http(str(config.run_dir / "tmp" / "lists")),
    )


def nginx_size(size: int) -> str:
    """A size in bytes as nginx reads it: in KiB ("64k") when it is whole KiB, else in bytes."""
    return f"{size // 1024}k" if size % 1024 == 0 else str(size)


def indented(text: str, indent: str) -> str:
    """text with every line but the first indented (the first takes its placeholder's indentation)."""
    return text.replace("\n", "\n" + indent)


def render_production_conf(cors_allowed_origins: str = BY_NAME["CORS_ALLOWED_ORIGINS"].default,
                           upload_max_bytes: int = int(BY_NAME["UPLOAD_MAX_BYTES"].default),
                           max_body_bytes: int = int(BY_NAME["MAX_BODY_BYTES"].default),
                           rate_limits: str = BY_NAME["RATE_LIMITS"].default) -> str:
    """deploy/nginx-production.conf: the production site, by default with the defaults of RATE_LIMITS (its rate and
    burst both), CORS_ALLOWED_ORIGINS, UPLOAD_MAX_BYTES and MAX_BODY_BYTES."""
    rate_limit = RateLimit.parse(rate_limits)
    return GENERATED_NOTE + substitute(PRODUCTION_TEMPLATE.read_text(),
                                       RATE_LIMIT_HTTP=rate_limit_http(rate_limit),
                                       RATE_LIMIT_LOCATION=rate_limit_location(rate_limit),
                                       CORS_MAPS=cors_maps(cors_allowed_origins),
                                       API_MAPS=API_MAPS,
                                       UPLOAD_BODY_MAX=upload_body_limit(upload_max_bytes),
                                       MAX_BODY_BYTES=nginx_size(max_body_bytes),
                                       PB_BODY_MAX=nginx_size(pocketbase_body_limit()),
                                       LIST_CACHE_HTTP=cache_http("/var/cache/nginx/bai-wechat-lists"))


def nginx_binary() -> str:
    """The nginx executable (Debian puts it in /usr/sbin, which a user's PATH may lack)."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                           if os.access(p, os.X_OK)), None)
    if not found:
        raise StackError("nginx is not installed; run `make nginx`")
    return found


if __name__ == "__main__":
    if sys.argv[1:] == ["production"]:
        PRODUCTION_CONF.write_text(render_production_conf())
    elif sys.argv[1:] == ["site"]:
        try:
            def setting(name: str) -> str:
                return os.environ.get(name) or BY_NAME[name].default
            print(render_production_conf(setting("CORS_ALLOWED_ORIGINS"), int(setting("UPLOAD_MAX_BYTES")),
                                         int(setting("MAX_BODY_BYTES"))), end="")
        except ValueError as exc:
            sys.exit(f"error: {exc}")
    else:
        sys.exit(__doc__)
