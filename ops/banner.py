"""What `make run` prints once the stack is up: the URLs, where credentials live, the dev-mode warning."""
from __future__ import annotations

import socket

from ops.stack import HEALTH_PATH, Stack
from ops.stack_config import RateLimit, StackConfig, mask_secrets, superuser_source

STUB_CODES_DOC = "docs/operations.md, \"WeChat dev stub\""
LAN_DOC = "docs/operations.md, \"A phone on the LAN\""

DEV_BANNER = """\
################################################################################
#                                                                              #
#   WECHAT IS THE LOCAL DEV STUB - no WECHAT_APPID is set.                     #
#   No request reaches the real WeChat servers. Login codes are fake:          #
#     any code NAME (or NAME.anything) logs in as openid dev-openid-NAME,      #
#     a real wx.login code (devtools, a phone) as dev-openid-devtools,         #
#     phone-13800138000 is a phone code, fail-40029 / slow-2 / http500 ...     #
#   The table of codes: {doc:<55}#
#   Set WECHAT_APPID and WECHAT_SECRET (env or .env) to use the real WeChat.   #
#                                                                              #
################################################################################"""



def lan_address() -> str:
    """The address this machine leaves by towards the LAN (where a phone reaches it), or "" when it has no route."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))  # UDP: picks the outgoing interface, sends nothing
            return probe.getsockname()[0]
    except OSError:
        return ""


def dev_exposure(config: StackConfig, address: str | None = None) -> str:
    """The dev banner's lines on who can reach the stub's fake logins (address: this machine's on the LAN)."""
    if config.nginx_listen in ("127.0.0.1", "::1", "localhost"):
        return (f"Dev mode listens on {config.nginx_listen} only: nobody else can reach it. `make run LAN=1` opens "
                "it to the LAN for a phone or WeChat's developer tools.")
    address = lan_address() if address is None else address
    base = f"http://{address or '<this machine on the LAN>'}:{config.http_port}/pb"
    return (f"WARNING: dev mode listens on {config.nginx_listen} ({'LAN=1' if config.lan else 'NGINX_LISTEN'}): "
            "anyone who reaches this machine can log in as any user by name.\n"
            f"On a phone or in WeChat's developer tools: createClient({{baseUrl: '{base}'}}), with domain checks "
            f"off ({LAN_DOC}).")


def print_started(stack: Stack, demo: list[str] | None = None) -> None:
    """The URLs and where credentials live; nothing secret. demo: the lines of ops.demo.seed, when it ran."""
    config = stack.config
    base = config.public_base_url
    lines = [
        "",
        "Stack is up:",
        f"  API base   {base}/pb/api/",
        f"  Dashboard  {base}/pb/_/",
        f"  API docs   {base}/pb/api/docs",
        f"  Health     {base}{HEALTH_PATH}",
        f"  Superuser  {config.superuser_email} ({superuser_source(config)})",
        f"  nginx      listening on {config.nginx_listen}:{config.http_port}"
        + ("" if RateLimit.parse(config.rate_limits) else " (rate limits off)"),
        f"  Storage    {config.storage.describe()}",
        f"  Replica    {config.replica.describe()}",
        f"  Sidecars   {', '.join(config.sidecar_upstreams)}",
        f"  Logs       {stack.run_dir}/*.log   (make logs)",
        f"  WeChat     {'local dev stub at ' + str(stack.stub_url) if config.dev_mode else 'live, appid ' + config.wechat_appid}",
        *([f"  Subscribe  messages the stub was asked to send: {stack.stub_url}/__stub/subscribe-messages"]
          if config.dev_mode else []),
        "",
    ]
    if demo:
        lines += ["Demo records (new data dir, dev mode; ops/demo.py, `make demo` adds them to an existing one):",
                  *(f"  {line}" for line in demo), ""]
    if config.dev_mode:
        lines += [DEV_BANNER.format(doc=STUB_CODES_DOC), dev_exposure(config), ""]
    lines.append("Press Ctrl-C to stop.")
    print(mask_secrets("\n".join(lines), config.secret_values()), flush=True)
