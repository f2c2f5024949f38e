"""The whole stack on one machine: PocketBase, the WeChat dev stub (without WECHAT_APPID), gunicorn, nginx.

Used by `make run` (``python -m ops.stack``), by the end-to-end tests and by the benchmark. Every process
runs in its own process group and logs to a file in the run dir; nothing secret is ever printed.

Commands (the Makefile targets of the same names)::

    python -m ops.stack [run]          # start everything, stay in the foreground until SIGINT/SIGTERM
    python -m ops.stack superuser      # create or update the superuser
    python -m ops.stack backup         # back up a running PocketBase (pb_data/backups/ or the S3 bucket)
    python -m ops.stack restore NAME   # restore that backup into the running PocketBase
    python -m ops.stack storage        # apply S3_* / BACKUP_* to the running PocketBase
    python -m ops.stack logs           # tail the run dir's logs

Settings come from the environment, else from .env (the environment wins); see StackConfig.from_env.
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import requests

from ops.pbserver import PocketBaseServer
from ops.pbserver import superuser_token as pocketbase_superuser_token
from ops.processes import ROOT, ManagedProcess, free_port, proc_stat
from ops.storage import BACKUP_SETTINGS, S3_SETTINGS, StorageError, StorageSettings, apply_storage_settings

NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
STUB_CODES_DOC = "deploy/README.md, section \"WeChat dev stub\""
PASSWORD_FILE_NAME = ".superuser_password"
DEFAULT_SUPERUSER_EMAIL = "admin@localhost.local"
# Per client IP on the sidecar routes. A mini-program makes a handful of calls at launch; many phones can
# share one carrier NAT address, so the steady rate is generous and the burst absorbs launch storms.
DEFAULT_RATE_LIMITS = "20r/s,burst=40"
HEALTH_PATH = "/pb/api/system/health"
# Dev-mode credentials the sidecar presents to the stub; they only ever reach the local stub.
DEV_APPID = "dev-appid"
DEV_SECRET = "dev-secret"

# Read by pb_hooks/superuser_access.pb.js, so PocketBase gets them: both off by default.
SUPERUSER_SWITCHES = ("SUPERUSER_MFA", "SUPERUSER_ALLOWED_IPS")
# Every setting StackConfig reads; other keys given as overrides go to the sidecar's environment as they are.
SETTINGS = (
    "HTTP_PORT", "PB_PORT", "SIDECAR_PORT", "PB_DATA_DIR", "PB_SUPERUSER_EMAIL", "PB_SUPERUSER_PASSWORD",
    "WECHAT_APPID", "WECHAT_SECRET", "WECHAT_API_BASE", "PUBLIC_BASE_URL", "RATE_LIMITS",
    "SIDECAR_WORKERS", "SIDECAR_THREADS", "SIDECAR_APP", "RUN_DIR", "NGINX_LISTEN", "SIDECAR_UPSTREAMS",
    "LOGIN_LOG_DAYS", *S3_SETTINGS, *BACKUP_SETTINGS, *SUPERUSER_SWITCHES,
)
LOCAL_HOSTS = ("127.0.0.1", "localhost")


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
        """None for "off"; raise StackError for anything that is not `<n>r/s|r/m[,burst=<n>]`."""
        value = (value or "").strip().lower()
        if value in ("off", "none", "0", "false", "no"):
            return None
        match = re.fullmatch(r"(\d+)r/([sm])(?:\s*,\s*burst\s*=\s*(\d+))?", value)
        if not match or int(match.group(1)) <= 0:
            raise StackError(f"RATE_LIMITS must be 'off' or like '20r/s,burst=40', not {value!r}")
        rate = f"{match.group(1)}r/{match.group(2)}"
        burst = int(match.group(3)) if match.group(3) is not None else 2 * int(match.group(1))
        return cls(rate, burst)


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

    http_port: int = 8080
    pb_port: int = 8090
    sidecar_port: int = 8000
    pb_data_dir: Path = ROOT / "pb_data"
    superuser_email: str = DEFAULT_SUPERUSER_EMAIL
    superuser_password: str = field(default="", repr=False)
    # Where the generated password is kept; None when PB_SUPERUSER_PASSWORD was given.
    superuser_password_file: Path | None = None
    wechat_appid: str = ""
    wechat_secret: str = field(default="", repr=False)
    wechat_api_base: str = ""
    public_base_url: str = "http://localhost:8080"
    rate_limits: str = DEFAULT_RATE_LIMITS
    # Days tbl_login_log keeps its rows (PocketBase's cron reads it; "" = its default, 90).
    login_log_days: str = ""
    # The sidecar mostly waits on PocketBase and WeChat, and PocketBase shares the CPUs: a few processes
    # with more threads each for the waiting (the shapes tried measured alike: bench/limits.md, "worker model").
    sidecar_workers: int = (os.cpu_count() or 1) + 1
    sidecar_threads: int = 8
    sidecar_app: str = "sidecar.wsgi:app"
    run_dir: Path = ROOT / ".run" / "8080"
    nginx_listen: str = "0.0.0.0"
    # SUPERUSER_MFA / SUPERUSER_ALLOWED_IPS as given ("" = unset).
    superuser_switches: dict = field(default_factory=dict)
    # Overrides that are not stack settings (e.g. WECHAT_TIMEOUT): passed to the sidecar as they are.
    sidecar_extra_env: dict = field(default_factory=dict)
    # nginx's sidecar upstream, host:port each; the stack runs a gunicorn for every local one.
    sidecar_upstreams: tuple[str, ...] = ()
    storage: StorageSettings = field(default_factory=StorageSettings)

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

        def get(name: str, default: str = "") -> str:
            value = (values.get(name) or "").strip()
            return value or default

        def get_int(name: str, default: int) -> int:
            raw = get(name)
            try:
                number = int(raw) if raw else default
            except ValueError:
                raise StackError(f"{name} must be a whole number, not {raw!r}") from None
            if number <= 0 and name.endswith(("_PORT", "_WORKERS", "_THREADS")):
                raise StackError(f"{name} must be positive")
            return number

        http_port = get_int("HTTP_PORT", 8080)
        data_dir = _resolve(get("PB_DATA_DIR", "pb_data"))
        password = get("PB_SUPERUSER_PASSWORD")
        password_file = None
        if not password:
            password_file = data_dir / PASSWORD_FILE_NAME
            password = read_superuser_password(data_dir, generate=generate_password)
        config = cls(
            http_port=http_port,
            pb_port=get_int("PB_PORT", 8090),
            sidecar_port=get_int("SIDECAR_PORT", 8000),
            pb_data_dir=data_dir,
            superuser_email=get("PB_SUPERUSER_EMAIL", DEFAULT_SUPERUSER_EMAIL),
            superuser_password=password,
            superuser_password_file=password_file,
            wechat_appid=get("WECHAT_APPID"),
            wechat_secret=get("WECHAT_SECRET"),
            wechat_api_base=get("WECHAT_API_BASE"),
            public_base_url=get("PUBLIC_BASE_URL", f"http://localhost:{http_port}").rstrip("/"),
            rate_limits=get("RATE_LIMITS", DEFAULT_RATE_LIMITS),
            login_log_days=get("LOGIN_LOG_DAYS"),
            sidecar_workers=get_int("SIDECAR_WORKERS", cls.sidecar_workers),
            sidecar_threads=get_int("SIDECAR_THREADS", cls.sidecar_threads),
            sidecar_app=get("SIDECAR_APP", cls.sidecar_app),
            run_dir=_resolve(get("RUN_DIR", f".run/{http_port}")),
            # The dev stub logs anyone in as any user by name: dev mode stays on this machine unless asked.
            nginx_listen=get("NGINX_LISTEN", "0.0.0.0" if get("WECHAT_APPID") else "127.0.0.1"),
            superuser_switches={name: get(name) for name in SUPERUSER_SWITCHES},
            sidecar_extra_env={k: v for k, v in overrides.items() if k not in SETTINGS},
            sidecar_upstreams=parse_upstreams(get("SIDECAR_UPSTREAMS"), get_int("SIDECAR_PORT", 8000)),
        )
        try:
            config.storage = StorageSettings.from_values(get)
        except StorageError as exc:
            raise StackError(str(exc)) from None
        return config.validated()

    def validated(self) -> "StackConfig":
        """Raise StackError on settings that cannot work together."""
        if self.wechat_appid and not self.wechat_secret:
            raise StackError("WECHAT_APPID is set but WECHAT_SECRET is not")
        RateLimit.parse(self.rate_limits)
        if self.login_log_days and not (self.login_log_days.isdigit() and int(self.login_log_days) > 0):
            raise StackError(f"LOGIN_LOG_DAYS must be a positive whole number of days, not {self.login_log_days!r}")
        check_superuser_switches(self.superuser_switches)
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
    def pb_url(self) -> str:
        return f"http://127.0.0.1:{self.pb_port}"

    def secret_values(self) -> list[str]:
        """Values that must never appear in any output."""
        return [self.superuser_password, self.wechat_secret, os.environ.get("WECHAT_STUB_SESSION_KEY", ""),
                self.storage.secret]

    @property
    def local_sidecar_ports(self) -> list[int]:
        """SIDECAR_PORT first, then the other ports of SIDECAR_UPSTREAMS on this machine."""
        ports = [self.sidecar_port]
        for upstream in self.sidecar_upstreams:
            host, port = upstream.rsplit(":", 1)
            if host in LOCAL_HOSTS and int(port) not in ports:
                ports.append(int(port))
        return ports


def parse_upstreams(value: str, sidecar_port: int) -> tuple[str, ...]:
    """SIDECAR_UPSTREAMS as host:port entries (default 127.0.0.1:SIDECAR_PORT); StackError when malformed."""
    entries = [entry.strip() for entry in (value or "").split(",") if entry.strip()]
    for entry in entries:
        if not re.fullmatch(r"[A-Za-z0-9.-]+:\d{1,5}", entry) or not 0 < int(entry.rsplit(":", 1)[1]) < 65536:
            raise StackError(f"SIDECAR_UPSTREAMS must be host:port entries separated by commas, not {entry!r}")
    if entries and f"127.0.0.1:{sidecar_port}" not in entries and f"localhost:{sidecar_port}" not in entries:
        raise StackError(f"SIDECAR_UPSTREAMS must include this stack's own sidecar, 127.0.0.1:{sidecar_port}")
    return tuple(entries) or (f"127.0.0.1:{sidecar_port}",)


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


def ensure_port_free(host: str, port: int, setting: str) -> None:
    """Raise StackError when something already listens on host:port (we would talk to a stranger)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As the servers themselves do: a port in TIME_WAIT is free, one with a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise StackError(f"{setting}={port} is not free on {host} ({exc.strerror}); "
                             f"stop what uses it or choose another port") from None


def nginx_binary() -> str:
    """The nginx executable (Debian puts it in /usr/sbin, which a user's PATH may lack)."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                           if os.access(p, os.X_OK)), None)
    if not found:
        raise StackError("nginx is not installed; run `make nginx`")
    return found


def process_group_members(pgids) -> list[int]:
    """Pids of live (non-zombie) processes whose process group is one of pgids."""
    wanted = {pgid for pgid in pgids if pgid}
    found = []
    for entry in Path("/proc").iterdir():
        fields = proc_stat(entry.name) if entry.name.isdigit() else None
        if fields and int(fields[2]) in wanted and fields[0] != "Z":
            found.append(int(entry.name))
    return found


class Stack:
    """PocketBase + WeChat dev stub (dev mode) + gunicorn(sidecar) + nginx, started and stopped as one."""

    def __init__(self, config: StackConfig):
        self.config = config
        self.run_dir: Path = config.run_dir
        self.pb: PocketBaseServer | None = None
        self.stub_url: str | None = None
        self.sidecar_env: dict | None = None
        self.processes: dict[str, ManagedProcess] = {}
        self._pgids: set[int] = set()

    # -- addresses -----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Where nginx answers from this machine."""
        host = self.config.nginx_listen
        if host in ("0.0.0.0", "*", "::", "[::]"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.config.http_port}"

    @property
    def sidecar_url(self) -> str:
        return f"http://127.0.0.1:{self.config.sidecar_port}"

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> "Stack":
        """Start PocketBase, the stub (dev mode), gunicorn and nginx, each once the previous one answers."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        listen = self.config.nginx_listen
        ensure_port_free("0.0.0.0" if listen in ("*", "::", "[::]") else listen.strip("[]"),
                         self.config.http_port, "HTTP_PORT")
        ensure_port_free("127.0.0.1", self.config.pb_port, "PB_PORT")
        ensure_port_free("127.0.0.1", self.config.sidecar_port, "SIDECAR_PORT")
        for port in self.config.local_sidecar_ports[1:]:
            ensure_port_free("127.0.0.1", port, "SIDECAR_UPSTREAMS")
        try:
            self.start_pocketbase()
            if self.config.dev_mode:
                self.start_stub()
            for port in self.config.local_sidecar_ports:
                self.start_sidecar(port)
            self.start_nginx()
        except BaseException:
            self.stop()
            raise
        return self

    def start_pocketbase(self) -> None:
        """PocketBase on 127.0.0.1:PB_PORT with the project's migrations and hooks."""
        env = dict(without_storage_keys(os.environ), PUBLIC_BASE_URL=self.config.public_base_url,
                   RATE_LIMITS=self.config.rate_limits,
                   **self.config.superuser_switches)
        if self.config.login_log_days:
            env["LOGIN_LOG_DAYS"] = self.config.login_log_days
        self.pb = PocketBaseServer(
            data_dir=self.config.pb_data_dir, superuser_email=self.config.superuser_email,
            superuser_password=self.config.superuser_password, port=self.config.pb_port,
            log_path=self.run_dir / "pocketbase.log", env=env,
        )
        try:
            self.pb.start()
        finally:
            if self.pb.process:
                self._track("pocketbase", self.pb.process)
        try:
            apply_storage_settings(self.pb.url, self.pb.superuser_token(), self.config.storage)
        except StorageError as exc:
            raise StackError(str(exc)) from None

    def start_stub(self) -> None:
        """The WeChat dev stub as a process on a free port."""
        port = free_port()
        stub = ManagedProcess(
            "wechat_stub", [sys.executable, "-m", "ops.wechat_stub", "--port", str(port),
                            "--appid", DEV_APPID, "--secret", DEV_SECRET],
            self.run_dir / "wechat_stub.log", env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        self._track("wechat_stub", stub.start())
        self.stub_url = f"http://127.0.0.1:{port}"
        stub.wait_http(self.stub_url + "/__stub/stats", 15, ok=lambda r: r.status_code == 200)

    def build_sidecar_env(self) -> dict:
        """The sidecar's environment: the inherited one (PATH etc.) plus this stack's settings."""
        config = self.config
        env = without_storage_keys(os.environ)
        env.update(
            PYTHONUNBUFFERED="1",
            PB_URL=config.pb_url,
            PB_SUPERUSER_EMAIL=config.superuser_email,
            PB_SUPERUSER_PASSWORD=config.superuser_password,
            PUBLIC_BASE_URL=config.public_base_url,
        )
        if config.dev_mode:
            env.update(WECHAT_APPID=DEV_APPID, WECHAT_SECRET=DEV_SECRET, WECHAT_API_BASE=self.stub_url,
                       WECHAT_DEV_STUB="1")
        else:
            env.update(WECHAT_APPID=config.wechat_appid, WECHAT_SECRET=config.wechat_secret, WECHAT_DEV_STUB="0")
            if config.wechat_api_base:
                env["WECHAT_API_BASE"] = config.wechat_api_base
            else:
                env.pop("WECHAT_API_BASE", None)
        env.update(config.sidecar_extra_env)
        return env

    def start_sidecar(self, port: int | None = None) -> None:
        """gunicorn (gthread) serving the sidecar on 127.0.0.1:port (SIDECAR_PORT); (re)startable on its own."""
        config = self.config
        port = port or config.sidecar_port
        # The first sidecar keeps its historical name and log; others are named by their port.
        name = "sidecar" if port == config.sidecar_port else f"sidecar-{port}"
        if self.sidecar_env is None:
            self.sidecar_env = self.build_sidecar_env()
        argv = [
            sys.executable, "-m", "gunicorn", config.sidecar_app,
            "--worker-class", "gthread",
            "--workers", str(config.sidecar_workers),
            "--threads", str(config.sidecar_threads),
            "--bind", f"127.0.0.1:{port}",
            # Longer than nginx's upstream keepalive_timeout (30 s): nginx always closes idle ones first.
            "--keep-alive", "75",
            "--timeout", "30",
            "--graceful-timeout", "10",
            # nginx passes header lines up to 16 KiB (large_client_header_buffers); gunicorn's default 8 KiB
            # would answer longer ones with its own plain-text 400 instead of the sidecar's envelope.
            "--limit-request-field_size", "16384",
            # The sidecar writes its own line per request; gunicorn's error log joins it in sidecar.log.
            "--error-logfile", "-",
            "--log-level", "info",
            # The default control socket is one fixed path per user: two stacks would fight over it.
            "--no-control-socket",
            "--name", f"sidecar-{config.http_port}" + ("" if name == "sidecar" else f"-{port}"),
        ]
        sidecar = ManagedProcess(name, argv, self.run_dir / f"{name}.log", env=self.sidecar_env)
        self._track(name, sidecar.start())
        sidecar.wait_http(f"http://127.0.0.1:{port}{HEALTH_PATH}", 60, ok=lambda r: r.status_code == 200)

    def write_nginx_conf(self) -> Path:
        """Render the nginx config into the run dir, with its temp dirs."""
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run_dir / "tmp" / name).mkdir(parents=True, exist_ok=True)
        conf = self.run_dir / "nginx.conf"
        conf.write_text(render_nginx_conf(self.config))
        return conf

    def nginx_argv(self, conf: Path) -> list[str]:
        return [nginx_binary(), "-p", f"{self.run_dir}/", "-c", str(conf), "-e", str(self.run_dir / "nginx-error.log")]

    def start_nginx(self) -> None:
        """nginx in the foreground with its pid, logs and temp files in the run dir."""
        conf = self.write_nginx_conf()
        check = subprocess_run([*self.nginx_argv(conf), "-t", "-q"])
        if check.returncode != 0:
            raise StackError(f"nginx rejected {conf}:\n{check.stdout}{check.stderr}")
        nginx = ManagedProcess("nginx", self.nginx_argv(conf), self.run_dir / "nginx.log")
        self._track("nginx", nginx.start())
        nginx.wait_http(self.base_url + HEALTH_PATH, 30, ok=lambda r: r.status_code == 200)

    def stop(self) -> None:
        """Stop nginx, gunicorn, the stub and PocketBase, in that order; nothing is left running."""
        sidecars = [name for name in self.processes if name.startswith("sidecar")]
        for name in ("nginx", *sidecars, "wechat_stub", "pocketbase"):
            process = self.processes.get(name)
            if process:
                process.stop()
        # A child that outlived its group leader (it should not) is killed here rather than left behind.
        for pid in process_group_members(self._pgids):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def leftover_pids(self) -> list[int]:
        """Pids of this stack's processes that are still running (empty after stop())."""
        return process_group_members(self._pgids)

    def dead_process(self) -> ManagedProcess | None:
        """The first tracked process that has exited, if any."""
        return next((p for p in self.processes.values() if not p.alive()), None)

    def _track(self, name: str, process: ManagedProcess) -> None:
        self.processes[name] = process
        if process.pid:
            self._pgids.add(process.pid)

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def without_storage_keys(environ) -> dict:
    """A copy of environ without the S3 settings: they reach PocketBase over its API, and no child needs them."""
    return {key: value for key, value in environ.items() if key not in S3_SETTINGS}


def subprocess_run(argv: list[str]) -> subprocess.CompletedProcess:
    """Run a short command, capturing its output as text."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


# -- commands ------------------------------------------------------------------------------------------

DEV_BANNER = """\
################################################################################
#                                                                              #
#   WECHAT IS THE LOCAL DEV STUB - no WECHAT_APPID is set.                     #
#   No request reaches the real WeChat servers. Login codes are fake:          #
#     any code NAME (or NAME.anything) logs in as openid dev-openid-NAME,      #
#     phone-13800138000 is a phone code, fail-40029 / slow-2 / http500 ...     #
#   The table of codes: {doc:<55}#
#   Set WECHAT_APPID and WECHAT_SECRET (env or .env) to use the real WeChat.   #
#                                                                              #
################################################################################"""


def superuser_source(config: StackConfig) -> str:
    """Where the superuser password comes from, for humans (never the password itself)."""
    if config.superuser_password_file:
        return f"password kept in {config.superuser_password_file} (mode 0600)"
    return "password from PB_SUPERUSER_PASSWORD"


def dev_exposure(config: StackConfig) -> str:
    """The dev banner's line on who can reach the stub's fake logins."""
    if config.nginx_listen in ("127.0.0.1", "::1", "localhost"):
        return (f"Dev mode listens on {config.nginx_listen} only: nobody else can reach it. "
                "NGINX_LISTEN=0.0.0.0 would open it to the network.")
    return (f"WARNING: dev mode listens on {config.nginx_listen} (NGINX_LISTEN): anyone who reaches this "
            "machine can log in as any user by name.")


def print_started(stack: Stack) -> None:
    """The URLs and where credentials live; nothing secret."""
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
        f"  Sidecars   {', '.join(config.sidecar_upstreams)}",
        f"  Logs       {stack.run_dir}/*.log   (make logs)",
        f"  WeChat     {'local dev stub at ' + str(stack.stub_url) if config.dev_mode else 'live, appid ' + config.wechat_appid}",
        "",
    ]
    if config.dev_mode:
        lines += [DEV_BANNER.format(doc=STUB_CODES_DOC), dev_exposure(config), ""]
    lines.append("Press Ctrl-C to stop.")
    print(mask_secrets("\n".join(lines), config.secret_values()), flush=True)


class StopRequested(Exception):
    """SIGINT or SIGTERM arrived."""


def run(config: StackConfig) -> int:
    """Start the stack and watch it: 0 after SIGINT/SIGTERM, 1 when a child dies or the start fails."""
    stopping = {"requested": False}

    def on_signal(signum, frame):
        if not stopping["requested"]:
            stopping["requested"] = True
            raise StopRequested()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stack = Stack(config)
    secret_values = config.secret_values()
    try:
        print(f"Starting the stack (logs in {stack.run_dir}) ...", flush=True)
        stack.start()
        print_started(stack)
        while True:
            time.sleep(0.5)
            dead = stack.dead_process()
            if dead:
                stopping["requested"] = True  # from here on a signal must not interrupt the cleanup
                print(f"\n{dead.name} exited unexpectedly with status {dead.proc.returncode}; stopping the stack.",
                      file=sys.stderr, flush=True)
                print(f"--- last lines of {dead.log_path} ---\n"
                      + mask_secrets(dead.log_tail(), secret_values), file=sys.stderr, flush=True)
                stack.stop()
                return 1
    except StopRequested:
        print("\nStopping the stack ...", flush=True)
        stopping["requested"] = True
        stack.stop()
        print("Stopped.", flush=True)
        return 0
    except (StackError, RuntimeError) as exc:
        stopping["requested"] = True
        stack.stop()
        print("The stack failed to start:\n" + mask_secrets(str(exc), secret_values), file=sys.stderr, flush=True)
        return 1


def admin_pb_url(config: StackConfig) -> str:
    """PB_URL from the environment (or .env), else PocketBase on PB_PORT."""
    from dotenv import dotenv_values
    env_file = dotenv_values(ROOT / ".env") if (ROOT / ".env").exists() else {}
    return (os.environ.get("PB_URL") or env_file.get("PB_URL") or config.pb_url).rstrip("/")


def superuser_token(pb_url: str, config: StackConfig) -> str:
    """A superuser token from the running PocketBase."""
    if not config.superuser_password:
        raise StackError(f"no superuser password: set PB_SUPERUSER_PASSWORD or run `make superuser` "
                         f"(which keeps one in {config.pb_data_dir / PASSWORD_FILE_NAME})")
    try:
        return pocketbase_superuser_token(pb_url, config.superuser_email, config.superuser_password)
    except requests.ConnectionError:
        raise StackError(f"cannot reach PocketBase at {pb_url}; is the stack running (make run)? "
                         "Set PB_URL or PB_PORT if it listens elsewhere.") from None
    except requests.HTTPError as exc:
        raise StackError(f"superuser login at {pb_url} failed with HTTP {exc.response.status_code}; "
                         f"is the stack running, and is {config.superuser_email} its superuser?") from None


def cmd_superuser(config: StackConfig) -> int:
    """Create or update the superuser in PB_DATA_DIR."""
    server = PocketBaseServer(data_dir=config.pb_data_dir, superuser_email=config.superuser_email,
                              superuser_password=config.superuser_password)
    server.upsert_superuser()
    print(f"Superuser {config.superuser_email} is set in {config.pb_data_dir} ({superuser_source(config)}).")
    return 0


def cmd_backup(config: StackConfig) -> int:
    """Ask the running PocketBase for a backup; print the zip's path."""
    pb_url = admin_pb_url(config)
    token = superuser_token(pb_url, config)
    # PocketBase accepts lower-case [a-z0-9_-] names ending in .zip.
    name = datetime.now(timezone.utc).strftime("backup_%Y%m%d_%H%M%S.zip")
    response = requests.post(pb_url + "/api/backups", json={"name": name},
                             headers={"Authorization": token}, timeout=600)
    if response.status_code not in (200, 204):
        raise StackError(f"backup failed with HTTP {response.status_code}: {response.text[:500]}")
    # Where PocketBase put it is its own setting, whatever this process's environment says.
    settings = requests.get(pb_url + "/api/settings", headers={"Authorization": token}, timeout=30).json()
    s3 = settings.get("backups", {}).get("s3", {})
    if s3.get("enabled"):
        print(f"Backup created: {name} in S3 bucket {s3.get('bucket')} at {s3.get('endpoint')}")
    else:
        print(f"Backup created: {config.pb_data_dir / 'backups' / name}")
    return 0


def cmd_restore(config: StackConfig, name: str) -> int:
    """Restore a backup (a name in pb_data/backups/) into the running PocketBase, which then restarts."""
    name = Path(name).name
    pb_url = admin_pb_url(config)
    token = superuser_token(pb_url, config)
    response = requests.post(f"{pb_url}/api/backups/{name}/restore", headers={"Authorization": token}, timeout=600)
    if response.status_code not in (200, 204):
        raise StackError(f"restore of {name} failed with HTTP {response.status_code}: {response.text[:500]}")
    # PocketBase restores in the background, then re-executes itself: wait for it to go away (so the
    # old process's answer is not taken for the new one's), then for it to answer again.
    went_away_by = time.monotonic() + 15
    while time.monotonic() < went_away_by:
        try:
            requests.get(pb_url + "/api/health", timeout=1)
        except requests.RequestException:
            break
        time.sleep(0.1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(pb_url + "/api/health", timeout=2).status_code == 200:
                reapply_storage(pb_url, config)
                print(f"Restored {name}; PocketBase at {pb_url} is back up.")
                return 0
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise StackError(f"restored {name}, but PocketBase at {pb_url} did not come back within 60 s")


def reapply_storage(pb_url: str, config: StackConfig) -> None:
    """After a restore: the backup brought its own S3 settings back; put this environment's in place again."""
    if not config.storage.s3_enabled:
        return  # no S3 here: the restored settings stay until the next start applies the environment's
    apply_storage_settings(pb_url, superuser_token(pb_url, config), config.storage)


def cmd_storage(config: StackConfig) -> int:
    """Apply the S3 and backup settings to the running PocketBase (servers run it without ops.stack)."""
    pb_url = admin_pb_url(config)
    apply_storage_settings(pb_url, superuser_token(pb_url, config), config.storage)
    print(f"PocketBase at {pb_url}: {config.storage.describe()}.")
    return 0


def cmd_logs(config: StackConfig) -> int:
    """Follow the run dir's log files (replaces this process with tail)."""
    logs = sorted(str(p) for p in config.run_dir.glob("*.log"))
    if not logs:
        print(f"No logs in {config.run_dir} yet; start the stack with `make run`.", file=sys.stderr)
        return 1
    os.execvp("tail", ["tail", "-n", "40", "-F", *logs])
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m ops.stack`."""
    parser = argparse.ArgumentParser(prog="python -m ops.stack", description="Run and administer the stack.")
    parser.add_argument("command", nargs="?", default="run", choices=("run", "superuser", "backup", "restore", "storage", "logs"))
    parser.add_argument("name", nargs="?", help="restore: the backup's file name (pb_data/backups/<name>.zip)")
    args = parser.parse_args(argv)
    secret_values = [os.environ.get(name, "") for name in ("PB_SUPERUSER_PASSWORD", "WECHAT_SECRET", "S3_SECRET")]
    try:
        # Only `run` and `superuser` may create the password file; the others need the existing one.
        config = StackConfig.from_env(generate_password=args.command in ("run", "superuser"))
        secret_values = config.secret_values()
        if args.command == "run":
            return run(config)
        if args.command == "superuser":
            return cmd_superuser(config)
        if args.command == "backup":
            return cmd_backup(config)
        if args.command == "restore":
            if not args.name:
                parser.error("restore needs the backup's name: make restore NAME=<file.zip>")
            return cmd_restore(config, args.name)
        if args.command == "storage":
            return cmd_storage(config)
        return cmd_logs(config)
    except (StackError, StorageError, RuntimeError, requests.RequestException) as exc:
        print(f"error: {mask_secrets(str(exc), secret_values)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
