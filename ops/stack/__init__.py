"""The whole stack on one machine: PocketBase, the WeChat dev stub (without WECHAT_APPID), gunicorn, the subscribe
message sender, nginx.

Used by `make run` (``python -m ops.stack``: ops/stack/__main__.py runs ops/cli.py, which imports this package; this
package imports no command line), by the end-to-end tests and by the benchmark.
Every process runs in its own process group and logs to a file in the run dir; nothing secret is ever printed.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ops.nginx_conf import nginx_binary, render_nginx_conf
from ops.pbserver import DATA_UMASK, PocketBaseServer
from ops.processes import ROOT, ManagedProcess, proc_stat, retry_on_fresh_ports
from ops.replica import (CONFIG_NAME, DB_NAME, ReplicaError, check_before_start, litestream_env, replicate_argv,
                         write_private)
from ops.stack_config import StackConfig, StackError
from ops.storage import S3_SETTINGS, StorageError, apply_storage_settings
from sidecar.replica import read_databases

# gunicorn's settings, shared with the systemd unit; workers, threads, bind and name come on the command line.
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
HEALTH_PATH = "/pb/api/system/health"
PUSH_PATH = "/pb/api/wechat/push"
# Dev-mode credentials the sidecar presents to the stub; they only ever reach the local stub.
DEV_APPID = "dev-appid"
DEV_SECRET = "dev-secret"


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
    """PocketBase (+ Litestream with REPLICA_URL) + WeChat dev stub (dev mode) + gunicorn(sidecar) + nginx,
    started and stopped as one."""

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
            self.check_replica()
            self.start_pocketbase()
            if self.config.replica.enabled:
                self.start_litestream()
            if self.config.dev_mode:
                self.start_stub()
            for port in self.config.local_sidecar_ports:
                self.start_sidecar(port)
            self.start_sender()
            self.start_nginx()
        except BaseException:
            self.stop()
            raise
        return self

    def start_pocketbase(self) -> None:
        """PocketBase on 127.0.0.1:PB_PORT with the project's migrations and hooks."""
        env = dict(without_storage_keys(os.environ), PUBLIC_BASE_URL=self.config.public_base_url,
                   RATE_LIMITS=self.config.rate_limits, UPLOAD_RATE=self.config.upload_rate,
                   LOGIN_LOG_DAYS=self.config.login_log_days, SUBSCRIBE_TEMPLATES=self.config.subscribe_templates,
                   **self.config.superuser_switches)
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

    def check_replica(self) -> None:
        """With REPLICA_URL: its bucket answers, and an empty data dir is not started over a full replica."""
        try:
            check_before_start(self.config.replica, self.config.pb_data_dir, self.run_dir)
        except ReplicaError as exc:
            raise StackError(str(exc)) from None

    def start_litestream(self, deadline: float = 30.0) -> None:
        """`litestream replicate` for data.db, once PocketBase has created it; ready when its socket answers."""
        config, socket_path = self.config, self.config.replica_socket
        conf = write_private(self.run_dir / CONFIG_NAME,
                             config.replica.config_yaml(config.pb_data_dir / DB_NAME, socket_path))
        socket_path.unlink(missing_ok=True)  # left by a Litestream that was killed
        litestream = ManagedProcess("litestream", replicate_argv(conf), self.run_dir / "litestream.log",
                                    env=litestream_env(os.environ, config.replica), umask=DATA_UMASK)
        self._track("litestream", litestream.start())
        end = time.monotonic() + deadline
        while True:
            if not litestream.alive():
                raise StackError(f"litestream exited with {litestream.proc.returncode}:\n{litestream.log_tail()}")
            try:
                if read_databases(str(socket_path)):
                    return
            except (OSError, ValueError):
                pass
            if time.monotonic() > end:
                raise StackError(f"litestream not ready after {deadline:g}s:\n{litestream.log_tail()}")
            time.sleep(0.1)

    def start_stub(self) -> None:
        """The WeChat dev stub as a process on a free port (a fresh one if another process takes it first)."""
        retry_on_fresh_ports(lambda ports: self._start_stub_on(ports[0]))

    def _start_stub_on(self, port: int) -> None:
        stub = ManagedProcess(
            "wechat_stub", [sys.executable, "-m", "ops.wechat_stub", "--port", str(port),
                            "--appid", DEV_APPID, "--secret", DEV_SECRET],
            self.run_dir / "wechat_stub.log", env=dict(
                os.environ, PYTHONUNBUFFERED="1",
                # Picture verdicts go to our push route through nginx, signed (and encrypted) as WeChat does;
                # in the environment, as the sidecar gets them: never on a command line.
                WECHAT_STUB_PUSH_URL=self.base_url + PUSH_PATH, WECHAT_STUB_PUSH_TOKEN=self.config.wechat_push_token,
                WECHAT_STUB_PUSH_AES_KEY=self.config.wechat_push_aes_key),
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
            FILE_URLS_FROM_HOST="1" if config.file_urls_from_host else "0",
            CORS_ALLOWED_ORIGINS=config.cors_allowed_origins,
            WECHAT_PUSH_TOKEN=config.wechat_push_token,
            WECHAT_PUSH_AES_KEY=config.wechat_push_aes_key,
            UPLOAD_MAX_BYTES=str(config.upload_max_bytes),
            MAX_BODY_BYTES=str(config.max_body_bytes),
            REPLICA_URL=config.replica.url,
            REPLICA_SOCKET=str(config.replica_socket),
            SUBSCRIBE_TEMPLATES=config.subscribe_templates,
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
        """gunicorn (gevent workers) serving the sidecar on 127.0.0.1:port (SIDECAR_PORT); (re)startable on its own."""
        config = self.config
        port = port or config.sidecar_port
        # The first sidecar keeps its historical name and log; others are named by their port.
        name = "sidecar" if port == config.sidecar_port else f"sidecar-{port}"
        if self.sidecar_env is None:
            self.sidecar_env = self.build_sidecar_env()
        argv = [
            sys.executable, "-m", "gunicorn", config.sidecar_app,
            "-c", str(GUNICORN_CONF),
            "--workers", str(config.sidecar_workers),
            "--bind", f"127.0.0.1:{port}",
            "--name", f"sidecar-{config.http_port}" + ("" if name == "sidecar" else f"-{port}"),
        ]
        sidecar = ManagedProcess(name, argv, self.run_dir / f"{name}.log", env=self.sidecar_env)
        self._track(name, sidecar.start())
        sidecar.wait_http(f"http://127.0.0.1:{port}{HEALTH_PATH}", 60, ok=lambda r: r.status_code == 200)

    def start_sender(self, *args: str) -> ManagedProcess:
        """The subscribe message sender (python -m sidecar.sender) with the sidecar's environment; args go to its
        command line (tests: --lease, --backoff). (Re)startable on its own; alive once it logged its start."""
        if self.sidecar_env is None:
            self.sidecar_env = self.build_sidecar_env()
        log_path = self.run_dir / "sender.log"
        offset = log_path.stat().st_size if log_path.exists() else 0  # a restart appends to the log
        sender = ManagedProcess("sender", [sys.executable, "-m", "sidecar.sender", *args], log_path,
                                env=self.sidecar_env)
        self._track("sender", sender.start())
        end = time.monotonic() + 30
        while b"sender started" not in log_path.read_bytes()[offset:]:
            if not sender.alive():
                raise StackError(f"sender exited with {sender.proc.returncode}:\n{sender.log_tail()}")
            if time.monotonic() > end:
                raise StackError(f"sender not started after 30s:\n{sender.log_tail()}")
            time.sleep(0.05)
        return sender

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
        """Stop nginx, gunicorn, the sender, the stub, PocketBase and Litestream (its last sync after PocketBase's
        last write), in that order; nothing is left running."""
        sidecars = [name for name in self.processes if name.startswith("sidecar")]
        for name in ("nginx", *sidecars, "sender", "wechat_stub", "pocketbase", "litestream"):
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

