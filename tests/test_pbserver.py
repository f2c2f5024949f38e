"""ops/pbserver.py: the superuser upsert takes any password the operator chose."""
from __future__ import annotations

import pytest

from ops.pbserver import PocketBaseServer


@pytest.mark.parametrize("password", ["-Fleading-dash-pass", "--dir=/elsewhere-pass", "with space and \"quote\""])
def test_superuser_upsert_takes_passwords_that_look_like_flags(tmp_path, password):
    server = PocketBaseServer(tmp_path / "data", "dash@example.com", password, log_path=tmp_path / "pb.log")
    server.start()
    try:
        assert server.superuser_token().count(".") == 2
    finally:
        server.stop()
