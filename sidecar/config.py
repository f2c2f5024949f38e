"""Configuration, read from the environment (and an optional .env file) in one place."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields

from sidecar.cors import parse_origins
from sidecar.wechat.push import aes_key_bytes


class ConfigError(Exception):
    """A required setting is missing or malformed."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Config:
    """Every setting of the sidecar. Secrets are kept out of repr()."""

    PB_URL: str = "http://127.0.0.1:8090"
    PB_SUPERUSER_EMAIL: str = ""
    PB_SUPERUSER_PASSWORD: str = ""
    WECHAT_APPID: str = ""
    WECHAT_SECRET: str = ""
    WECHAT_API_BASE: str = "https://api.weixin.qq.com"
    WECHAT_DEV_STUB: bool = False
    WECHAT_TIMEOUT: float = 5.0
    PUBLIC_BASE_URL: str = "http://localhost:8080"
    PB_TIMEOUT: float = 10.0
    MAX_BODY_BYTES: int = 64 * 1024
    # Seconds a token past its exp is still sent on to PocketBase, which decides (the sidecar's clock may run ahead).
    TOKEN_LEEWAY_SECONDS: float = 60.0
    # The largest file POST /pb/api/wechat/upload takes (its body may be larger by limits.UPLOAD_FRAMING_BYTES).
    UPLOAD_MAX_BYTES: int = 10 * 1024 * 1024
    # "*" (any origin, as PocketBase's own API) or origins separated by commas: https://h5.example.com
    CORS_ALLOWED_ORIGINS: str = "*"
    # Message push (消息推送) as configured in WeChat's admin console: Token and EncodingAESKey (safe mode).
    WECHAT_PUSH_TOKEN: str = ""
    WECHAT_PUSH_AES_KEY: str = ""
    # WeChat content security on profile text and pictures: "on" or "off" (benchmarks, teams without UGC).
    CONTENT_SECURITY: str = "on"
    # Litestream's replica of data.db (empty: off) and its control socket, read by the health route.
    REPLICA_URL: str = ""
    REPLICA_SOCKET: str = "/run/bai-litestream/litestream.sock"

    REQUIRED = ("PB_URL", "PB_SUPERUSER_EMAIL", "PB_SUPERUSER_PASSWORD", "WECHAT_APPID", "WECHAT_SECRET")
    SECRETS = ("PB_SUPERUSER_PASSWORD", "WECHAT_SECRET", "WECHAT_PUSH_TOKEN", "WECHAT_PUSH_AES_KEY")

    def __repr__(self) -> str:
        shown = {f.name: ("***" if f.name in self.SECRETS else getattr(self, f.name)) for f in fields(self)}
        return f"Config({shown})"

    @classmethod
    def from_env(cls, load_dotenv_file: bool = True) -> "Config":
        """Build the config from os.environ (after .env, which never overrides the environment)."""
        if load_dotenv_file:
            from dotenv import load_dotenv
            load_dotenv(override=False)
        values = {}
        for field in fields(cls):
            raw = _env(field.name)
            if raw is None:
                continue
            try:
                if field.type in ("bool", bool):
                    values[field.name] = raw.strip().lower() in ("1", "true", "yes", "on")
                elif field.type in ("int", int):
                    values[field.name] = int(raw)
                elif field.type in ("float", float):
                    values[field.name] = float(raw)
                else:
                    values[field.name] = raw.strip()
            except ValueError:
                raise ConfigError(f"setting {field.name} is not a valid {field.type}") from None
        return cls(**values).validated()

    def validated(self) -> "Config":
        """Raise ConfigError naming every missing required setting."""
        missing = [name for name in self.REQUIRED if not getattr(self, name)]
        if missing:
            raise ConfigError("missing required setting(s): " + ", ".join(missing))
        try:
            parse_origins(self.CORS_ALLOWED_ORIGINS)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.CONTENT_SECURITY.lower() not in ("on", "off"):
            raise ConfigError("setting CONTENT_SECURITY must be on or off")
        if self.WECHAT_PUSH_AES_KEY:
            try:
                aes_key_bytes(self.WECHAT_PUSH_AES_KEY)
            except ValueError as exc:
                # Worded without the value: it is a secret.
                raise ConfigError(f"setting WECHAT_PUSH_AES_KEY is not an EncodingAESKey: {exc}") from None
        return self

    @property
    def content_security(self) -> bool:
        return self.CONTENT_SECURITY.lower() == "on"
