"""Start the pinned PocketBase with this project's migrations and hooks."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests

from ops.processes import ROOT, ManagedProcess, free_port, pocketbase_binary

MIGRATIONS_DIR = ROOT / "pb_migrations"
HOOKS_DIR = ROOT / "pb_hooks"


def superuser_token(url: str, email: str, password: str, timeout: float = 15) -> str:
    """A fresh superuser token from the PocketBase at url; requests' errors when that fails."""
    response = requests.post(f"{url}/api/collections/_superusers/auth-with-password",
                             json={"identity": email, "password": password}, timeout=timeout)
    response.raise_for_status()
    return response.json()["token"]


@dataclass
class PocketBaseServer:
    """One PocketBase process: its data dir, port, superuser and log."""

    data_dir: Path
    superuser_email: str
    superuser_password: str
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    env: dict | None = None
    migrations_dir: Path = MIGRATIONS_DIR
    hooks_dir: Path = HOOKS_DIR
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _flags(self) -> list[str]:
        return [
            f"--dir={self.data_dir}",
            f"--migrationsDir={self.migrations_dir}",
            f"--hooksDir={self.hooks_dir}",
            "--automigrate=false",
        ]

    def upsert_superuser(self) -> None:
        """Create or update the superuser (runs the migrations first, as PocketBase does on bootstrap)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            # "--" ends the flags: a password may start with "-" (token_urlsafe makes such ones).
            [pocketbase_binary(), "superuser", "upsert", *self._flags(), "--", self.superuser_email,
             self.superuser_password],
            capture_output=True, text=True, env=self.env, timeout=120,
        )
        if result.returncode != 0:
            # The output can echo the password back; never show it.
            raise RuntimeError("pocketbase superuser upsert failed: "
                               + result.stderr.replace(self.superuser_password, "***")[-2000:])

    def start(self, deadline: float = 60.0) -> "PocketBaseServer":
        """Upsert the superuser, serve, and wait until /api/health answers 200."""
        self.upsert_superuser()
        log_path = self.log_path or self.data_dir / "pocketbase.log"
        self.process = ManagedProcess(
            "pocketbase",
            [pocketbase_binary(), "serve", f"--http=127.0.0.1:{self.port}", "--hooksWatch=false", *self._flags()],
            log_path, env=self.env,
        ).start()
        self.process.wait_http(self.url + "/api/health", deadline, ok=lambda r: r.status_code == 200)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def kill(self) -> None:
        if self.process:
            self.process.kill()

    def superuser_token(self) -> str:
        """A fresh superuser auth token."""
        return superuser_token(self.url, self.superuser_email, self.superuser_password)
