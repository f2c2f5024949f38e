"""sidecar/config.py and sidecar/wsgi.py: settings from the environment, one clear line when one is missing."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sidecar.config import Config, ConfigError
from tests.conftest import ROOT

FULL_ENV = {"PB_URL": "http://127.0.0.1:1", "PB_SUPERUSER_EMAIL": "a@b.cd", "PB_SUPERUSER_PASSWORD": "pw-secret-1",
            "WECHAT_APPID": "wx1", "WECHAT_SECRET": "wx-secret-1"}


def test_config_reads_the_environment(monkeypatch):
    for key, value in FULL_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WECHAT_DEV_STUB", "1")
    monkeypatch.setenv("PB_TIMEOUT", "3.5")
    config = Config.from_env(load_dotenv_file=False)
    assert (config.PB_TIMEOUT, config.WECHAT_DEV_STUB, config.WECHAT_APPID) == (3.5, True, "wx1")
    assert "pw-secret-1" not in repr(config) and "wx-secret-1" not in repr(config)


@pytest.mark.parametrize("missing", ["PB_SUPERUSER_PASSWORD", "WECHAT_APPID", "WECHAT_SECRET"])
def test_missing_setting_is_named(monkeypatch, missing):
    for key, value in FULL_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(missing)
    with pytest.raises(ConfigError, match=missing):
        Config.from_env(load_dotenv_file=False)


@pytest.mark.parametrize("key, value", [("PB_TIMEOUT", "x"), ("WECHAT_TIMEOUT", "soon"), ("MAX_BODY_BYTES", "64k"),
                                        ("CONTENT_SECURITY", "maybe"), ("WECHAT_PUSH_AES_KEY", "too-short-key"),
                                        ("WECHAT_PUSH_AES_KEY", "!" * 43), ("SUBSCRIBE_TEMPLATES", "{not json"),
                                        ("SUBSCRIBE_TEMPLATES", '{"a": {"id": "t", "data": {"title": "x"}}}')])
def test_malformed_setting_is_refused(monkeypatch, key, value):
    for name, setting in FULL_ENV.items():
        monkeypatch.setenv(name, setting)
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=key) as raised:
        Config.from_env(load_dotenv_file=False)
    if key == "WECHAT_PUSH_AES_KEY":
        assert value not in str(raised.value)


@pytest.mark.parametrize("value, on", [("", True), ("on", True), ("ON", True), ("off", False)])
def test_content_security_is_on_unless_off(monkeypatch, value, on):
    for name, setting in FULL_ENV.items():
        monkeypatch.setenv(name, setting)
    monkeypatch.setenv("CONTENT_SECURITY", value)
    assert Config.from_env(load_dotenv_file=False).content_security is on


def test_push_token_and_aes_key_stay_out_of_repr():
    config = Config(**FULL_ENV, WECHAT_PUSH_TOKEN="push-token-secret", WECHAT_PUSH_AES_KEY="A" * 43)
    assert "push-token-secret" not in repr(config) and "A" * 43 not in repr(config)


def test_wsgi_without_settings_prints_one_line_and_exits(tmp_path):
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", "import sidecar.wsgi"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 4
    assert result.stderr.strip().splitlines() == [
        "sidecar: configuration error: missing required setting(s): PB_SUPERUSER_EMAIL, PB_SUPERUSER_PASSWORD, "
        "WECHAT_APPID, WECHAT_SECRET"]
