"""ops/settings.py is the one source of every setting: the documents are generated from it, the readers agree."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest

from ops import settings_docs
from ops.processes import ROOT
from ops.settings import BY_NAME, SETTINGS, SIDECAR, SettingError, read_by, secret_names
from ops.settings import parse as settings_parse
from ops.stack_config import SETTINGS as STACK_SETTINGS
from ops.stack_config import SUPERUSER_SWITCHES
from ops.storage import BACKUP_SETTINGS, S3_SETTINGS
from sidecar.config import Config


def test_generated_documents_are_current():
    assert settings_docs.stale_documents() == [], "run `make docs` (the settings live in ops/settings.py)"


def test_docs_check_names_a_stale_document(tmp_path, monkeypatch):
    stale = tmp_path / "env.example"
    stale.write_text(settings_docs.env_example().replace("HTTP_PORT=8080\n", ""))
    monkeypatch.setattr(settings_docs, "ENV_EXAMPLE", stale)
    monkeypatch.setattr(settings_docs, "ROOT", tmp_path)
    monkeypatch.setattr(settings_docs, "TABLE_DOCUMENTS", ())
    assert settings_docs.stale_documents() == ["env.example"]


def test_docs_check_command_fails_on_a_missing_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no table here\n")
    code = ("import sys, pathlib; from ops import settings_docs as d; "
            f"d.TABLE_DOCUMENTS = (pathlib.Path({str(readme)!r}),); d.ROOT = pathlib.Path({str(tmp_path)!r}); "
            f"d.ENV_EXAMPLE = pathlib.Path({str(tmp_path / 'env')!r}); d.ENV_EXAMPLE.write_text(d.env_example()); "
            "sys.exit(d.main(['check']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "README.md is stale" in result.stderr, result.stderr


def test_every_setting_is_written_once_with_a_reader_and_a_meaning():
    assert len(BY_NAME) == len(SETTINGS)
    for setting in SETTINGS:
        assert setting.read_by and setting.meaning and setting.section, setting.name


# Config is derived from the table (sidecar/config.py): what these check is the derivation, not a second copy.
def test_the_sidecars_config_is_the_tables_sidecar_settings_with_their_types_and_defaults():
    assert [field.name for field in fields(Config)] == list(read_by(SIDECAR))
    assert set(Config.SECRETS) == {name for name in secret_names() if SIDECAR in BY_NAME[name].read_by}
    config = Config()
    assert (config.MAX_BODY_BYTES, config.PB_TIMEOUT, config.WECHAT_DEV_STUB) == (65536, 10.0, False)
    assert config.PUBLIC_BASE_URL == BY_NAME["PUBLIC_BASE_URL"].default
    # A required setting has no default in the sidecar, whatever `make run` gives it.
    assert Config.REQUIRED and all(getattr(config, name) == "" for name in Config.REQUIRED)


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.forms is not None], ids=lambda s: s.name)
def test_each_setting_with_forms_accepts_its_own_default(setting):
    settings_parse(setting.name, setting.default)
    with pytest.raises(SettingError, match=setting.name):
        settings_parse(setting.name, "not-a-form-of-any-setting")


def test_the_stack_reads_the_storage_and_superuser_settings_from_the_table():
    assert set(S3_SETTINGS + BACKUP_SETTINGS + SUPERUSER_SWITCHES) <= set(STACK_SETTINGS)
