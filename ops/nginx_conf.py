"""deploy/nginx.conf.template rendered for one stack, and where nginx is installed."""
from __future__ import annotations

import os
import re
import shutil
import string
from pathlib import Path

from ops.processes import ROOT
from ops.stack_config import RateLimit, StackConfig, StackError

NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf.template"


class UppercaseTemplate(string.Template):
    """${NAME} placeholders with upper-case names only, so nginx's lower-case $variables are left alone."""

    flags = 0
    idpattern = r"[A-Z][A-Z0-9_]*"


def render_nginx_conf(config: StackConfig, template_path: Path = NGINX_TEMPLATE) -> str:
    """The nginx config for this stack, from deploy/nginx.conf.template."""
    rate_limit = RateLimit.parse(config.rate_limits)
    if rate_limit:
        rate_limit_http = (
            f"    limit_req_zone $binary_remote_addr zone=sidecar_per_ip:10m rate={rate_limit.rate};\n"
            "    limit_req_status 429;\n"
            "    limit_req_log_level warn;"
        )
        rate_limit_location = f"limit_req zone=sidecar_per_ip burst={rate_limit.burst} nodelay;"
    else:
        rate_limit_http = rate_limit_location = ""
    # As root nginx would hand its workers to `nobody`, who cannot write temp dirs under a private run dir.
    user_directive = "user root;" if os.geteuid() == 0 else ""
    rendered = UppercaseTemplate(template_path.read_text()).safe_substitute(
        USER_DIRECTIVE=user_directive,
        RUN_DIR=str(config.run_dir),
        LISTEN=config.nginx_listen if ":" not in config.nginx_listen else f"[{config.nginx_listen}]",
        HTTP_PORT=config.http_port,
        PB_PORT=config.pb_port,
        SIDECAR_PORT=config.sidecar_port,
        SIDECAR_SERVERS="\n        ".join(f"server {upstream};" for upstream in config.sidecar_upstreams),
        RATE_LIMIT_HTTP=rate_limit_http,
        RATE_LIMIT_LOCATION=rate_limit_location,
    )
    leftover = re.findall(r"\$\{[A-Z][A-Z0-9_]*\}", rendered)
    if leftover:
        raise StackError(f"nginx template has unknown placeholders: {sorted(set(leftover))}")
    return rendered



def nginx_binary() -> str:
    """The nginx executable (Debian puts it in /usr/sbin, which a user's PATH may lack)."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                           if os.access(p, os.X_OK)), None)
    if not found:
        raise StackError("nginx is not installed; run `make nginx`")
    return found
