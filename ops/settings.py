"""Every setting of the project, once: its default, type, accepted forms, meaning, readers and whether it is secret.

Everything else is derived from this table: ops/stack_config.py reads the settings `make run` reads (and their
defaults) from here; the sidecar's Config (sidecar/config.py) is built from the settings it reads; nginx's
config is rendered from the values (ops/nginx_conf.py); pb_hooks/lib/settings.js (PocketBase's defaults and
parse()) is generated from it by `make schema`; deploy/env.example and the settings table of
docs/operations.md are generated from it by `make docs`. Both checks (`make schema-check`, `make docs-check`)
fail on a stale copy.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Who reads a setting: `make run` (ops.stack, which renders nginx's config), the sidecar (gunicorn),
# PocketBase (migrations and pb_hooks), the operator commands on a running PocketBase (make backup ...),
# gunicorn's config file (deploy/gunicorn.conf.py, used by make run and the systemd unit).
STACK, SIDECAR, POCKETBASE, TOOLS = "make run", "sidecar", "PocketBase", "operator commands"
GUNICORN = "deploy/gunicorn.conf.py"


class SettingError(ValueError):
    """A setting's value is not one of the forms it accepts; the message names the setting and the forms."""


@dataclass(frozen=True)
class Forms:
    """The values a setting accepts (besides empty: its default). Python's re and JS's RegExp read pattern
    alike; it is matched whole against the trimmed, lower-cased value (parse() here, lib/settings.js)."""

    off: tuple[str, ...]
    pattern: str
    described: str


@dataclass(frozen=True)
class Setting:
    """One environment variable: default ("" = unset), meaning, section of env.example, readers."""

    name: str
    default: str
    meaning: str
    section: str
    read_by: tuple[str, ...]
    secret: bool = False
    # The sidecar's type of it (its Config field): str, int, float or bool.
    kind: str = "str"
    # The sidecar refuses to start without it (its Config has no default for it).
    required: bool = False
    # The values it accepts, when it is not free text (one parser for every reader: parse()).
    forms: Forms | None = None
    # The default as the documents show it, when it is computed ("" = the literal default, or empty).
    default_doc: str = ""
    # What deploy/env.example writes (None: the default); commented out when server_only.
    example: str | None = None
    server_only: bool = False

    @property
    def shown_default(self) -> str:
        return self.default_doc or self.default


PORTS, PB, WECHAT, PUBLIC, FILES, PROCESSES = (
    "ports and paths (make run / ops.stack)", "PocketBase", "WeChat", "public face", "files and backups",
    "sidecar processes",
)
S3_ALL = ("one of the five S3 settings: all five set, PocketBase keeps uploaded files and backups in that "
          "S3(-compatible) bucket; all empty, in the local data dir. Applied at every start over PocketBase's "
          "settings API; a wrong endpoint, bucket or key stops the start with one line")

# A positive whole number (leading zeros allowed).
POSITIVE = "0*([1-9][0-9]*)"
RATE_LIMIT_FORMS = Forms(off=("off", "none", "0", "false", "no"),
                         pattern=POSITIVE + r"r/([sm])(?:[ \t]*,[ \t]*burst[ \t]*=[ \t]*([0-9]+))?",
                         described="off (or none, 0, false, no), or <n>r/s or <n>r/m with an optional ,burst=<n> "
                                   "(e.g. 20r/s,burst=40)")

SETTINGS: tuple[Setting, ...] = (
    Setting("HTTP_PORT", "8080", "nginx's port", PORTS, (STACK,)),
    Setting("PB_PORT", "8090", "PocketBase's port (127.0.0.1)", PORTS, (STACK, TOOLS)),
    Setting("SIDECAR_PORT", "8000", "gunicorn's port (127.0.0.1)", PORTS, (STACK,)),
    Setting("PB_DATA_DIR", "pb_data", "PocketBase's data (relative paths are relative to the repository)",
            PORTS, (STACK, TOOLS), default_doc="./pb_data", example="./pb_data"),
    Setting("RUN_DIR", "", "nginx.conf, pid and temp files, and the log of every process of `make run`",
            PORTS, (STACK,), default_doc=".run/<HTTP_PORT>"),
    Setting("NGINX_LISTEN", "", "nginx's listen address. In dev mode (no `WECHAT_APPID`) the WeChat dev stub "
            "lets anyone log in as any user by name, so the default keeps it on this machine; `LAN` opens it",
            PORTS, (STACK,), default_doc="0.0.0.0; 127.0.0.1 in dev mode"),
    Setting("LAN", "0", "dev mode on the LAN, for a phone or WeChat's developer tools on another machine "
            "(`make run LAN=1`): `1` makes nginx listen on 0.0.0.0 and prints the addresses to use, with a "
            "warning: the dev stub lets anyone who reaches the machine log in as any user. No effect with "
            "`WECHAT_APPID` (live mode listens on 0.0.0.0)", PORTS, (STACK,),
            forms=Forms(off=("0", "off", "false", "no"), pattern="1|on|true|yes", described="1 (on) or 0 (off)")),
    Setting("PB_URL", "http://127.0.0.1:8090", "servers only: where the sidecar (and make backup/restore) "
            "reach PocketBase; `make run` derives it from `PB_PORT`", PB, (SIDECAR, TOOLS), server_only=True),
    Setting("PB_SUPERUSER_EMAIL", "admin@localhost.local", "the superuser the sidecar logs in as", PB,
            (STACK, SIDECAR, POCKETBASE, TOOLS), required=True),
    Setting("PB_SUPERUSER_PASSWORD", "", "empty: generated on first `make run` / `make superuser` into "
            "`<PB_DATA_DIR>/.superuser_password` (mode 0600) and reused, never printed; PocketBase gets it in "
            "its environment (`pb_hooks/superuser.pb.js`), never on a command line. On a server the sidecar "
            "needs it here (deploy/README.md, step 4)", PB, (STACK, SIDECAR, POCKETBASE, TOOLS), secret=True,
            default_doc="generated", required=True),
    Setting("SUPERUSER_ALLOWED_IPS", "", "addresses / CIDR networks (comma-separated, IPv4 or IPv6) from which "
            "superusers may log in or use a superuser token; loopback is always allowed. Empty: from anywhere",
            PB, (STACK, POCKETBASE)),
    Setting("SUPERUSER_MFA", "", "`on`: PocketBase's MFA for superusers coming through nginx (password, then a "
            "one-time code by email: set up SMTP in the dashboard first); `off`: no MFA; empty: leave what the "
            "dashboard stored (off)", PB, (STACK, POCKETBASE)),
    Setting("PB_TIMEOUT", "10.0", "seconds the sidecar waits for PocketBase", PB, (SIDECAR,), example="",
            kind="float"),
    Setting("TOKEN_LEEWAY_SECONDS", "60.0", "seconds past a token's expiry during which the sidecar still asks "
            "PocketBase rather than refusing it itself: the sidecar host's clock may run ahead of PocketBase's, "
            "and its check must never refuse a token PocketBase accepts", PB, (SIDECAR,), example="", kind="float"),
    Setting("WECHAT_APPID", "", "the mini-program's app id; empty: `make run` uses the local WeChat dev stub "
            "(docs/operations.md, \"WeChat dev stub\")", WECHAT, (STACK, SIDECAR), default_doc="empty = dev stub",
            required=True),
    Setting("WECHAT_SECRET", "", "the mini-program's app secret", WECHAT, (STACK, SIDECAR), secret=True,
            required=True),
    Setting("WECHAT_API_BASE", "https://api.weixin.qq.com", "the WeChat server (live mode)", WECHAT,
            (STACK, SIDECAR), example=""),
    Setting("WECHAT_TIMEOUT", "5.0", "seconds the sidecar waits for WeChat", WECHAT, (SIDECAR,), example="",
            kind="float"),
    Setting("WECHAT_DEV_STUB", "false", "set by `make run` in dev mode (the health route says so); never on a "
            "server", WECHAT, (SIDECAR,), example="", kind="bool"),
    Setting("WECHAT_PUSH_TOKEN", "", "the Token of WeChat's message push (消息推送, 服务器配置: URL "
            "`<PUBLIC_BASE_URL>/pb/api/wechat/push`, data format JSON): pushes whose signature it does not make "
            "are refused (401); empty: every push is refused. Dev mode: generated for the dev stub when empty",
            WECHAT, (STACK, SIDECAR), secret=True),
    Setting("WECHAT_PUSH_AES_KEY", "", "the EncodingAESKey (43 characters) of the message push in safe mode "
            "(安全模式, recommended); empty: plain mode only; set: safe mode only (a plain push, whose signature "
            "does not cover its body, is refused 401). Dev mode: generated for the dev stub when empty",
            WECHAT, (STACK, SIDECAR), secret=True),
    Setting("CONTENT_SECURITY", "on", "WeChat content security (运营规范 5.18): `on` sends profile names and tags "
            "to msg_sec_check before they are stored and uploaded pictures to media_check_async; `off` for "
            "benchmarks and teams without user content", WECHAT, (SIDECAR,)),
    Setting("SUBSCRIBE_TEMPLATES", "", "subscribe messages (订阅消息, docs/subscribe.md): a JSON object, our name -> "
            "`{\"id\": <WeChat template id>, \"data\": {<keyword, e.g. thing1>: <text with {placeholders}>}, "
            "\"page\": <optional page>}`; the project's events use the names `picture_removed` ({filename}, {time}, "
            "{reason}) and `company_status` ({company_name}, {company_status}, {time}). A name left out is not sent; "
            "empty: none (dev mode: two sample templates of the dev stub). A malformed value stops the start",
            WECHAT, (STACK, SIDECAR, POCKETBASE), default_doc="empty (dev mode: samples)", example=""),
    Setting("SHARE_PAGES", "pages/index/index", "the mini-program pages a share code (`POST /pb/api/wechat/share-code`, "
            "docs/share.md) may open, page paths without a leading `/` separated by commas; the first is the default",
            WECHAT, (SIDECAR,)),
    Setting("SHARE_ENV_VERSION", "release", "the version of the mini-program a share code opens: `release`, `trial` "
            "or `develop` (wxacode.getUnlimited's env_version)", WECHAT, (SIDECAR,),
            forms=Forms(off=(), pattern="(release|trial|develop)", described="release, trial or develop")),
    Setting("SHARE_CHECK_PATH", "true", "`true`: WeChat makes a share code only for a page of the published "
            "mini-program (41030 otherwise); `false`: for any page (before the first release)", WECHAT, (SIDECAR,),
            kind="bool"),
    Setting("MEDIA_RECHECK_INTERVAL", "20", "seconds between two rounds of each sidecar worker's resubmission of "
            "pictures WeChat has not judged (a push without a verdict, or still 审核中 after 30 minutes; "
            "docs/security.md); 0: none", WECHAT, (SIDECAR,), example="", kind="float"),
    # The default is the sidecar's (make run computes it from HTTP_PORT).
    Setting("PUBLIC_BASE_URL", "http://localhost:8080", "the URL clients use (no trailing slash): file URLs in "
            "UserInfo start with it, PocketBase's appURL is it + `/pb`. Unset in dev mode, file URLs use the host "
            "each request came by instead of `localhost` (`FILE_URLS_FROM_HOST`). On a server: "
            "https://CHANGE_ME.example.com", PUBLIC, (STACK, SIDECAR, POCKETBASE),
            default_doc="http://localhost:<HTTP_PORT>", example=""),
    Setting("FILE_URLS_FROM_HOST", "false", "set by `make run` in dev mode when `PUBLIC_BASE_URL` is not: file "
            "URLs take the host name of the request's Host header (an IP address or DNS name, else "
            "`PUBLIC_BASE_URL`'s) with `PUBLIC_BASE_URL`'s scheme and port. The sidecar refuses it without "
            "`WECHAT_DEV_STUB`: the Host header is client input; never on a server", PUBLIC, (SIDECAR,),
            example="", kind="bool"),
    # Per client IP. A mini-program makes a handful of calls at launch; many phones can share one carrier NAT
    # address, so the steady rate is generous and the burst absorbs launch storms.
    Setting("RATE_LIMITS", "20r/s,burst=40", "nginx's per-client-IP limit on the sidecar routes, and PocketBase's "
            "own limiter and its bound on phone probing: `off` (benchmarks; also `none`, `0`, `false`, `no`) lifts all "
            "three, or e.g. `20r/s,burst=40`; a value not of these forms stops the start", PUBLIC, (STACK, POCKETBASE),
            forms=RATE_LIMIT_FORMS),
    Setting("CORS_ALLOWED_ORIGINS", "*", "origins whose browser (H5) pages may call our routes: `*` (any, as "
            "PocketBase's own API) or a comma-separated list such as `https://h5.example.com`. The sidecar "
            "answers CORS on its routes; nginx's config is rendered from it for the envelopes nginx answers "
            "itself (413, 429, 400 for oversized headers, 502-504)", PUBLIC, (STACK, SIDECAR)),
    Setting("MAX_BODY_BYTES", "65536", "largest request body of our routes but the upload, in bytes (64 KiB): "
            "the sidecar's limit, and nginx's `client_max_body_size` there is rendered from it", PUBLIC,
            (STACK, SIDECAR), example="", kind="int"),
    Setting("UPLOAD_MAX_BYTES", "10485760", "the largest file `POST /pb/api/wechat/upload` takes, in bytes (10 MiB); "
            "nginx's body limit for that one route is rendered from it, every other route keeps `MAX_BODY_BYTES`",
            PUBLIC, (STACK, SIDECAR), example="", kind="int"),
    Setting("UPLOAD_RATE", "30", "uploads one user may make per hour (counted in PocketBase, so every sidecar "
            "worker and host sees the same figure); `off` (benchmarks) lifts it", PUBLIC, (STACK, POCKETBASE),
            example="", forms=Forms(off=("off",), pattern=POSITIVE, described="off or a positive whole number")),
    Setting("LOGIN_LOG_DAYS", "90", "days the login audit (`tbl_login_log`) keeps its rows", PUBLIC,
            (STACK, POCKETBASE), forms=Forms(off=(), pattern=POSITIVE, described="a positive whole number of days")),
    Setting("S3_ENDPOINT", "", S3_ALL, FILES, (STACK, TOOLS)),
    Setting("S3_BUCKET", "", "the S3 bucket of uploaded files (and of backups, unless `S3_BACKUPS_BUCKET`)",
            FILES, (STACK, TOOLS)),
    Setting("S3_REGION", "", "the bucket's region", FILES, (STACK, TOOLS)),
    Setting("S3_ACCESS_KEY", "", "the S3 access key", FILES, (STACK, TOOLS)),
    Setting("S3_SECRET", "", "the S3 secret key", FILES, (STACK, TOOLS), secret=True),
    Setting("S3_FORCE_PATH_STYLE", "false", "`true` for MinIO and most S3-compatible servers (path-style URLs)",
            FILES, (STACK, TOOLS)),
    Setting("S3_BACKUPS_BUCKET", "", "backups in a bucket of their own, same endpoint and key (recommended: "
            "PocketBase lists everything in the backups bucket as a backup, uploaded files included when they "
            "share one)", FILES, (STACK, TOOLS), default_doc="S3_BUCKET"),
    Setting("BACKUP_CRON", "0 3 * * *", "PocketBase's scheduled backups (cron, UTC); `off`: none", FILES,
            (STACK, TOOLS)),
    Setting("BACKUP_KEEP", "7", "how many scheduled backups PocketBase keeps", FILES, (STACK, TOOLS)),
    Setting("REPLICA_URL", "", "`s3://<bucket>/<path>`: Litestream replicates `data.db` there continuously "
            "(every second), on the S3 endpoint, region and key above; empty: off. A bucket it cannot reach stops "
            "the start with one line; `make restore-replica` restores from it (deploy/README.md, \"Machine lost\")",
            FILES, (STACK, SIDECAR, TOOLS)),
    Setting("REPLICA_SOCKET", "/run/bai-litestream/litestream.sock", "Litestream's control socket, where the "
            "health route reads the replica's lag; `make run` uses `<RUN_DIR>/litestream.sock`", FILES,
            (SIDECAR, TOOLS), server_only=True),
    Setting("SIDECAR_WORKERS", "", "gunicorn gevent workers, each serving many requests at once on one event "
            "loop (the sidecar mostly waits on PocketBase and WeChat, and shares the CPUs with PocketBase: "
            "docs/performance.md)", PROCESSES, (STACK, GUNICORN),
            default_doc="half the cores, at least 1"),
    Setting("SIDECAR_APP", "sidecar.wsgi:app", "the WSGI app gunicorn serves (tests swap in a variant)",
            PROCESSES, (STACK,), example=""),
    Setting("SIDECAR_UPSTREAMS", "", "nginx's sidecar upstream, `host:port` entries separated by commas; "
            "`make run` starts a gunicorn for each `127.0.0.1` entry (deploy/README.md, \"Past one machine\")",
            PROCESSES, (STACK,), default_doc="127.0.0.1:<SIDECAR_PORT>"),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}


def read_by(reader: str) -> tuple[str, ...]:
    """The names of the settings reader reads, in the table's order."""
    return tuple(setting.name for setting in SETTINGS if reader in setting.read_by)


def secret_names() -> tuple[str, ...]:
    """The settings whose values must never be printed."""
    return tuple(setting.name for setting in SETTINGS if setting.secret)


def parse(name: str, value: str | None) -> tuple[str, ...] | None:
    """value as the setting `name` accepts it (its Forms; empty is its default): None when it says off, else the
    pattern's groups ("" for one that did not take part). SettingError naming the setting and its forms otherwise.
    pb_hooks/lib/settings.js's parse() is generated from the same Forms."""
    setting = BY_NAME[name]
    text = (value or "").strip() or setting.default
    lowered = text.lower()
    if lowered in setting.forms.off:
        return None
    match = re.fullmatch(setting.forms.pattern, lowered)
    if not match:
        raise SettingError(f"setting {name} must be {setting.forms.described}, not {text!r}")
    return tuple(group or "" for group in match.groups())
