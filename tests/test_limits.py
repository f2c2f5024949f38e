"""sidecar/limits.py: the stored fields' limits come from schema.yaml, read when the app is built, not at import."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sidecar.limits import WX_PHONE_CODE_MAX_LENGTH, declared_max_lengths, profile_max_lengths

SCHEMA = """
collections:
  - name: other
    fields: [{name: users_name, type: text, max: 7}]
  - name: tbl_auth_users
    fields:
      - {name: users_name, type: text, max: 12}
      - {name: users_tag, type: text, max: 30}
      - {name: users_note, type: text}
      - {name: users_rank_level, type: number, max: 9}
"""


def test_declared_max_lengths_reads_text_fields_with_a_max(tmp_path):
    schema = tmp_path / "schema.yaml"
    schema.write_text(SCHEMA, encoding="utf-8")
    assert declared_max_lengths("tbl_auth_users", schema) == {"users_name": 12, "users_tag": 30}


def test_profile_max_lengths_keep_the_route_order_and_the_phone_codes_limit(tmp_path):
    schema = tmp_path / "schema.yaml"
    schema.write_text(SCHEMA, encoding="utf-8")
    limits = profile_max_lengths("tbl_auth_users", ("users_name", "code", "users_tag"), "code", schema)
    assert list(limits.items()) == [("users_name", 12), ("code", WX_PHONE_CODE_MAX_LENGTH), ("users_tag", 30)]


def test_importing_the_sidecar_reads_no_schema():
    probe = (
        "import sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda event, args: event == 'open' and str(args[0]).endswith('.yaml')"
        " and opened.append(str(args[0])))\n"
        "import sidecar, sidecar.users, sidecar.routes.wechat, sidecar.routes.system\n"
        "print(opened)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[1],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
