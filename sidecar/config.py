"""Configuration, read from the environment (and an optional .env file) in one place.

Config's fields are the settings ops/settings.py says the sidecar reads, with that table's types and defaults
(a required setting has none: the sidecar refuses to start without it); nothing about a setting is written here.
"""
from __future__ import annotations

import os
from dataclasses import field, fields, make_dataclass

from ops.settings import SETTINGS, SIDECAR, SettingError, parse
from sidecar.cors import parse_origins
from sidecar.subscribe_templates import parse_templates
from sidecar.wechat.push import aes_key_bytes

TYPES = {"str": str, "int": int, "float": float, "bool": bool}
TRUE_WORDS = ("1", "true", "yes", "on")
READ = tuple(setting for setting in SETTINGS if SIDECAR in setting.read_by)


class ConfigError(Exception):
    """A required setting is missing or malformed."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _typed(kind: str, raw: str):
    """raw as the Config field of that kind holds it; ValueError when it is not one."""
    if kind == "bool":
        return raw.strip().lower() in TRUE_WORDS
    return TYPES[kind](raw) if kind != "str" else raw.strip()


class _ConfigBehaviour:
    """What Config does; its fields come from the settings table (below)."""

    REQUIRED = tuple(setting.name for setting in READ if setting.required)
    SECRETS = tuple(setting.name for setting in READ if setting.secret)

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
        for setting in READ:
            raw = _env(setting.name)
            if raw is None:
                continue
            try:
                values[setting.name] = _typed(setting.kind, raw)
            except ValueError:
                raise ConfigError(f"setting {setting.name} is not a valid {setting.kind}") from None
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
        if self.FILE_URLS_FROM_HOST and not self.WECHAT_DEV_STUB:
            # The Host header is client input: in production file URLs come from PUBLIC_BASE_URL only.
            raise ConfigError("setting FILE_URLS_FROM_HOST is for dev mode only (WECHAT_DEV_STUB)")
        if self.CONTENT_SECURITY.lower() not in ("on", "off"):
            raise ConfigError("setting CONTENT_SECURITY must be on or off")
        if not self.share_pages:
            raise ConfigError("setting SHARE_PAGES needs at least one page path")
        if any(page.startswith("/") or "?" in page for page in self.share_pages):
            raise ConfigError("setting SHARE_PAGES: page paths have no leading / and no query")
        try:
            parse("SHARE_ENV_VERSION", self.SHARE_ENV_VERSION)
        except SettingError as exc:
            raise ConfigError(str(exc)) from None
        if self.WECHAT_PUSH_AES_KEY:
            try:
                aes_key_bytes(self.WECHAT_PUSH_AES_KEY)
            except ValueError as exc:
                # Worded without the value: it is a secret.
                raise ConfigError(f"setting WECHAT_PUSH_AES_KEY is not an EncodingAESKey: {exc}") from None
        try:
            parse_templates(self.SUBSCRIBE_TEMPLATES)
        except ValueError as exc:
            raise ConfigError(f"setting SUBSCRIBE_TEMPLATES: {exc}") from None
        return self

    @property
    def share_pages(self) -> tuple[str, ...]:
        """SHARE_PAGES as a tuple of page paths, the default first."""
        return tuple(page.strip() for page in self.SHARE_PAGES.split(",") if page.strip())

    @property
    def share_env_version(self) -> str:
        """SHARE_ENV_VERSION as WeChat takes it (release, trial or develop)."""
        return parse("SHARE_ENV_VERSION", self.SHARE_ENV_VERSION)[0]

    @property
    def content_security(self) -> bool:
        return self.CONTENT_SECURITY.lower() == "on"


# Every setting of the sidecar, frozen; secrets are kept out of repr().
Config = make_dataclass(
    "Config",
    [(s.name, TYPES[s.kind], field(default="" if s.required else _typed(s.kind, s.default))) for s in READ],
    bases=(_ConfigBehaviour,), frozen=True, repr=False,
)
Config.__module__ = __name__
