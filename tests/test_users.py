"""sidecar/users.py: pieces of the user service that need no PocketBase (the rest runs through the routes)."""
from __future__ import annotations

from sidecar.users import declared_max_lengths, mask_phone


def test_declared_max_lengths_reads_text_fields_with_a_max(tmp_path):
    schema = tmp_path / "schema.yaml"
    schema.write_text("""
collections:
  - name: other
    fields: [{name: users_name, type: text, max: 7}]
  - name: tbl_auth_users
    fields:
      - {name: users_name, type: text, max: 12}
      - {name: users_tag, type: text}
      - {name: users_rank_level, type: number, max: 9}
""", encoding="utf-8")
    assert declared_max_lengths("tbl_auth_users", schema) == {"users_name": 12}


def test_mask_phone_keeps_three_and_four_digits():
    assert (mask_phone("13800138000"), mask_phone("1234567")) == ("138****8000", "*******")
