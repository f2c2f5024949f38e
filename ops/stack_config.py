"""One stack's settings: read from the environment (else .env), checked, and masked wherever printed."""
from __future__ import annotations

import base64
import json
import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ops.processes import ROOT
from ops.replica import SOCKET_NAME, ReplicaError, ReplicaSettings
from ops.settings import BY_NAME, STACK, SettingError, parse, read_by
from ops.storage import StorageError, StorageSettings
from sidecar.cors import parse_origins
from sidecar.subscribe_templates import parse_templates
from sidecar.wechat.push import aes_key_bytes

PASSWORD_FILE_NAME = ".superuser_password"
DEFAULT_SUPERUSER_EMAIL = BY_NAME["PB_SUPERUSER_EMAIL"].default
DEFAULT_RATE_LIMITS = BY_NAME["RATE_LIMITS"].default
# Read by pb_hooks/superuser_access.pb.js, so PocketBase gets them: both off by default.
SUPERUSER_SWITCHES = ("SUPERUSER_MFA", "SUPERUSER_ALLOWED_IPS")
# Every setting StackConfig reads; other keys given as overrides go to the sidecar's environment as they are.
SETTINGS = read_by(STACK)
LOCAL_HOSTS = ("127.0.0.1", "localhost")
# Dev mode's subscribe templates (the dev stub takes any template id): the project's two events, so that the dev
# stack shows what a user would receive (the stub's GET /__stub/subscribe-messages).
DEV_SUBSCRIBE_TEMPLATES = json.dumps({
    "picture_removed": {"id": "dev-tmpl-picture-removed", "page": "pages/index/index",
                        "data": {"thing1": "{filename}", "time2": "{time}", "thing3": "{reason}"}},
    "company_status": {"id": "dev-tmpl-company-status",
                       "data": {"thing1": "{company_name}", "phrase2": "{company_status}", "time3": "{time}"}},
}, ensure_ascii=False)


class StackError(Exception):
    """The stack cannot be configured or started; the message is safe to print."""


def mask_secrets(text: str, secret_values) -> str:
    """Replace every occurrence of each non-trivial secret with ***."""
    for value in secret_values:
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def _resolve(path: str | Path) -> Path:
    """Relative paths are relative to the repository, wherever the command is run from."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else (ROOT / path).resolve()


def read_superuser_password(data_dir: Path, generate: bool) -> str:
    """The password kept in <data_dir>/.superuser_password; created (mode 0600) when missing and generate, else ""."""
    password_file = data_dir / PASSWORD_FILE_NAME
    if password_file.exists():
        password = password_file.read_text().strip()
        if password:
            return password
    if not generate:
        return ""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    password = secrets.token_urlsafe(24)
    # Created with mode 0600, so the password is never readable by others, not even for a moment.
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    os.chmod(password_file, 0o600)
    return password


@dataclass(frozen=True)
class RateLimit:
    """nginx's per-IP request rate for the sidecar routes, parsed from RATE_LIMITS (e.g. 20r/s,burst=40)."""

    rate: str
    burst: int

    @classmethod
    def parse(cls, value: str) -> "RateLimit | None":
        """None when it says off; StackError naming RATE_LIMITS and its accepted forms (ops/settings.py's parse,
        the one parser: PocketBase's hooks read it from the same table) for anything else it does not accept."""
        groups = parse_setting("RATE_LIMITS", value)
        if groups is None:
            return None
        count, unit, burst = groups
        return cls(f"{count}r/{unit}", int(burst) if burst else 2 * int(count))


def parse_setting(name: str, value: str) -> tuple[str, ...] | None:
    """ops/settings.py's parse(), its SettingError as StackError (the message names the setting and its forms)."""
    try:
        return parse(name, value)
    except SettingError as exc:
        raise StackError(str(exc)) from None


def check_superuser_switches(switches: dict) -> None:
    """Raise StackError on a SUPERUSER_MFA or SUPERUSER_ALLOWED_IPS PocketBase would refuse at boot."""
    if switches.get("SUPERUSER_MFA", "").lower() not in ("", "on", "off"):
        raise StackError(f"SUPERUSER_MFA must be on, off or empty, not {switches['SUPERUSER_MFA']!r}")
    for entry in filter(None, (e.strip() for e in switches.get("SUPERUSER_ALLOWED_IPS", "").split(","))):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise StackError(f"SUPERUSER_ALLOWED_IPS: {entry!r} is not an IP address or CIDR network") from None


@dataclass
class StackConfig:
    """Ports, paths, credentials and tuning of one stack."""

    http_port: int = int(BY_NAME["HTTP_PORT"].default)
    pb_port: int = int(BY_NAME["PB_PORT"].default)
    sidecar_port: int = int(BY_NAME["SIDECAR_PORT"].default)
    pb_data_dir: Path = ROOT / BY_NAME["PB_DATA_DIR"].default
    superuser_email: str = DEFAULT_SUPERUSER_EMAIL
    superuser_password: str = field(default="", repr=False)
    # Where the generated password is kept; None when PB_SUPERUSER_PASSWORD was given.
    superuser_password_file: Path | None = None
    wechat_appid: str = ""
    wechat_secret: str = field(default="", repr=False)
    wechat_api_base: str = ""
    # Message push (消息推送) Token and EncodingAESKey; dev mode generates them for the stub when unset.
    wechat_push_token: str = field(default="", repr=False)
    wechat_push_aes_key: str = field(default="", repr=False)
    public_base_url: str = "http://localhost:8080"
    rate_limits: str = DEFAULT_RATE_LIMITS
    # The sidecar's and nginx's (for its own error envelopes) CORS allow list.
    cors_allowed_origins: str = BY_NAME["CORS_ALLOWED_ORIGINS"].default
    # The largest upload (sidecar and nginx) and the uploads per user and hour (PocketBase; "off" lifts it).
    upload_max_bytes: int = int(BY_NAME["UPLOAD_MAX_BYTES"].default)
    # The largest body of every other route (sidecar and nginx).
    max_body_bytes: int = int(BY_NAME["MAX_BODY_BYTES"].default)
    upload_rate: str = BY_NAME["UPLOAD_RATE"].default
    # Subscribe message templates (JSON, sidecar/subscribe_templates.py); dev mode: DEV_SUBSCRIBE_TEMPLATES when unset.
    subscribe_templates: str = ""
    # Days the login audit keeps its rows (PocketBase's cron reads it).
    login_log_days: str = BY_NAME["LOGIN_LOG_DAYS"].default
    # As deploy/gunicorn.conf.py's fallbacks (which says why; tests/test_stack.py checks they agree).
    sidecar_workers: int = max(1, (os.cpu_count() or 1) // 2)
    sidecar_app: str = BY_NAME["SIDECAR_APP"].default
    run_dir: Path = ROOT / ".run" / "8080"
    nginx_listen: str = "0.0.0.0"
    # LAN=1 in dev mode: nginx on 0.0.0.0 for a phone or WeChat's developer tools (the banner warns).
    lan: bool = False
    # Dev mode without PUBLIC_BASE_URL: file URLs take the request's host (sidecar/fileurls.py).
    file_urls_from_host: bool = False
    # SUPERUSER_MFA / SUPERUSER_ALLOWED_IPS as given ("" = unset).
    superuser_switches: dict = field(default_factory=dict)
    # Overrides that are not stack settings (e.g. WECHAT_TIMEOUT): passed to the sidecar as they are.
    sidecar_extra_env: dict = field(default_factory=dict)
    # nginx's sidecar upstream, host:port each; the stack runs a gunicorn for every local one.
    sidecar_upstreams: tuple[str, ...] = ()
    storage: StorageSettings = field(default_factory=StorageSettings)
    replica: ReplicaSettings = field(default_factory=ReplicaSettings)

    @classmethod
    def from_env(cls, overrides: dict | None = None, dotenv_path: Path | None = ROOT / ".env",
                 generate_password: bool = True) -> "StackConfig":
        """Settings from overrides, else the environment, else .env, else the defaults ("" counts as unset).

        Without PB_SUPERUSER_PASSWORD the password is read from <PB_DATA_DIR>/.superuser_password, which is
        generated on first use unless generate_password is false.
        """
        values: dict[str, str] = {}
        if dotenv_path and Path(dotenv_path).exists():
            from dotenv import dotenv_values
            values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        values.update({k: v for k, v in os.environ.items() if k in SETTINGS})
        overrides = {k: ("" if v is None else str(v)) for k, v in (overrides or {}).items()}
        values.update({k: v for k, v in overrides.items() if k in SETTINGS})

        def get(name: str, default: str | None = None) -> str:
            """The setting's value, else default, else its default in ops/settings.py."""
            value = (values.get(name) or "").strip()
            return value or (default if default is not None else BY_NAME[name].default)

        def get_int(name: str, default: int | None = None) -> int:
            raw = get(name)
            try:
                number = int(raw) if raw else (default if default is not None else int(BY_NAME[name].default))
            except ValueError:
                raise StackError(f"{name} must be a whole number, not {raw!r}") from None
            if number <= 0 and name.endswith(("_PORT", "_WORKERS", "_THREADS")):
                raise StackError(f"{name} must be positive")
            return number

        http_port = get_int("HTTP_PORT")
        data_dir = _resolve(get("PB_DATA_DIR"))
        dev_mode = not get("WECHAT_APPID")
        lan = parse_setting("LAN", get("LAN")) is not None and dev_mode
        password = get("PB_SUPERUSER_PASSWORD")
        password_file = None
        if not password:
            password_file = data_dir / PASSWORD_FILE_NAME
            password = read_superuser_password(data_dir, generate=generate_password)
        config = cls(
            http_port=http_port,
            pb_port=get_int("PB_PORT"),
            sidecar_port=get_int("SIDECAR_PORT"),
            pb_data_dir=data_dir,
            superuser_email=get("PB_SUPERUSER_EMAIL"),
            superuser_password=password,
            superuser_password_file=password_file,
            wechat_appid=get("WECHAT_APPID"),
            wechat_secret=get("WECHAT_SECRET"),
            # Empty unless set: the sidecar then uses its own default (the same, ops/settings.py).
            wechat_api_base=get("WECHAT_API_BASE", ""),
            wechat_push_token=get("WECHAT_PUSH_TOKEN") or ("" if get("WECHAT_APPID") else secrets.token_urlsafe(24)),
            wechat_push_aes_key=get("WECHAT_PUSH_AES_KEY") or ("" if get("WECHAT_APPID") else new_aes_key()),
            public_base_url=get("PUBLIC_BASE_URL", f"http://localhost:{http_port}").rstrip("/"),
            rate_limits=get("RATE_LIMITS"),
            cors_allowed_origins=get("CORS_ALLOWED_ORIGINS"),
            login_log_days=get("LOGIN_LOG_DAYS"),
            subscribe_templates=get("SUBSCRIBE_TEMPLATES") or ("" if get("WECHAT_APPID") else DEV_SUBSCRIBE_TEMPLATES),
            upload_max_bytes=get_int("UPLOAD_MAX_BYTES"),
            max_body_bytes=get_int("MAX_BODY_BYTES"),
            upload_rate=get("UPLOAD_RATE"),
            sidecar_workers=get_int("SIDECAR_WORKERS", cls.sidecar_workers),
            sidecar_app=get("SIDECAR_APP"),
            run_dir=_resolve(get("RUN_DIR", f".run/{http_port}")),
            # The dev stub logs anyone in as any user by name: dev mode stays on this machine unless asked (LAN).
            nginx_listen=get("NGINX_LISTEN", "127.0.0.1" if dev_mode and not lan else "0.0.0.0"),
            lan=lan,
            file_urls_from_host=dev_mode and not get("PUBLIC_BASE_URL", ""),
            superuser_switches={name: get(name) for name in SUPERUSER_SWITCHES},
            sidecar_extra_env={k: v for k, v in overrides.items() if k not in SETTINGS},
            sidecar_upstreams=parse_upstreams(get("SIDECAR_UPSTREAMS"), get_int("SIDECAR_PORT")),
        )
        try:
            config.storage = StorageSettings.from_values(get)
            config.replica = ReplicaSettings.from_values(get, config.storage)
        except (StorageError, ReplicaError) as exc:
            raise StackError(str(exc)) from None
        return config.validated()

    def validated(self) -> "StackConfig":
        """Raise StackError on settings that cannot work together."""
        if self.wechat_appid and not self.wechat_secret:
            raise StackError("WECHAT_APPID is set but WECHAT_SECRET is not")
        if self.wechat_push_aes_key:
            try:
                aes_key_bytes(self.wechat_push_aes_key)
            except ValueError as exc:
                raise StackError(f"WECHAT_PUSH_AES_KEY is not an EncodingAESKey: {exc}") from None
        RateLimit.parse(self.rate_limits)
        parse_setting("UPLOAD_RATE", self.upload_rate)
        parse_setting("LOGIN_LOG_DAYS", self.login_log_days)
        try:
            parse_origins(self.cors_allowed_origins)
        except ValueError as exc:
            raise StackError(str(exc)) from None
        for name, value in (("UPLOAD_MAX_BYTES", self.upload_max_bytes), ("MAX_BODY_BYTES", self.max_body_bytes)):
            if value <= 0:
                raise StackError(f"{name} must be a positive number of bytes, not {value}")
        check_superuser_switches(self.superuser_switches)
        try:
            parse_templates(self.subscribe_templates)
        except ValueError as exc:
            raise StackError(f"SUBSCRIBE_TEMPLATES: {exc}") from None
        ports = [self.http_port, self.pb_port, *self.local_sidecar_ports]
        if len(set(ports)) != len(ports):
            raise StackError(f"HTTP_PORT, PB_PORT and the sidecar ports (SIDECAR_PORT, SIDECAR_UPSTREAMS) "
                             f"must differ: {ports}")
        return self

    @property
    def dev_mode(self) -> bool:
        """No WeChat credentials: the sidecar talks to the local dev stub."""
        return not self.wechat_appid

    @property
    def replica_socket(self) -> Path:
        """Litestream's control socket in the run dir (the health route reads the lag there)."""
        return self.run_dir / SOCKET_NAME

    @property
    def pb_url(self) -> str:
        return f"http://127.0.0.1:{self.pb_port}"

    def secret_values(self) -> list[str]:
        """Values that must never appear in any output."""
        return [self.superuser_password, self.wechat_secret, os.environ.get("WECHAT_STUB_SESSION_KEY", ""),
                self.storage.secret, self.wechat_push_token, self.wechat_push_aes_key]

    @property
    def local_sidecar_ports(self) -> list[int]:
        """SIDECAR_PORT first, then the other ports of SIDECAR_UPSTREAMS on this machine."""
        ports = [self.sidecar_port]
        for upstream in self.sidecar_upstreams:
            host, port = upstream.rsplit(":", 1)
            if host in LOCAL_HOSTS and int(port) not in ports:
                ports.append(int(port))
        return ports


def new_aes_key() -> str:
    """A random EncodingAESKey: 43 base64 characters (32 bytes), as WeChat's console generates one."""
    return base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def parse_upstreams(value: str, sidecar_port: int) -> tuple[str, ...]:
    """SIDECAR_UPSTREAMS as host:port entries (default 127.0.0.1:SIDECAR_PORT); StackError when malformed."""
    entries = [entry.strip() for entry in (value or "").split(",") if entry.strip()]
    for entry in entries:
        if not re.fullmatch(r"[A-Za-z0-9.-]+:\d{1,5}", entry) or not 0 < int(entry.rsplit(":", 1)[1]) < 65536:
            raise StackError(f"SIDECAR_UPSTREAMS must be host:port entries separated by commas, not {entry!r}")
    if entries and f"127.0.0.1:{sidecar_port}" not in entries and f"localhost:{sidecar_port}" not in entries:
        raise StackError(f"SIDECAR_UPSTREAMS must include this stack's own sidecar, 127.0.0.1:{sidecar_port}")
    return tuple(entries) or (f"127.0.0.1:{sidecar_port}",)


def superuser_source(config: StackConfig) -> str:
    """Where the superuser password comes from, for humans (never the password itself)."""
    if config.superuser_password_file:
        return f"password kept in {config.superuser_password_file} (mode 0600)"
    return "password from PB_SUPERUSER_PASSWORD"

