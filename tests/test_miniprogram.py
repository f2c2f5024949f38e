"""The mini-program client (miniprogram/) end to end: node runs miniprogram/test/e2e.test.js against the
session's whole stack (nginx, sidecar, PocketBase, WeChat dev stub) with a fake wx doing real HTTP.

What a guest cannot make through the client is seeded here as a superuser and handed over in the
MINIPROGRAM_E2E environment variable (JSON): a ManagePlatform user, a one-hour token PocketBase minted,
an attachment, documents. The client's unit tests run under `make test` before pytest (node --test).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from ops.processes import free_ports
from tests.helpers import login_through

ROOT = Path(__file__).resolve().parent.parent
E2E_TEST = ROOT / "miniprogram" / "test" / "e2e.test.js"
# The e2e file's tests, all of which must run and pass.
E2E_TESTS = len(re.findall(r"^test\(", E2E_TEST.read_text(encoding="utf-8"), re.MULTILINE))


@pytest.fixture()
def seeded(stack, stack_pb, unique, tmp_path) -> dict:
    """What the e2e test needs and cannot make as a guest or a WeChat user."""
    manager = f"mgr{unique}"
    _, manager_user = login_through(stack, f"{manager}.0")
    promoted = stack_pb.request("PATCH", f"/api/collections/tbl_auth_users/records/{manager_user['pb_id']}",
                                json={"users_idtype": "ManagePlatform"})
    assert promoted.status_code == 200, promoted.text

    short = f"short{unique}"
    _, short_user = login_through(stack, f"{short}.0")

    attachment = stack_pb.request("POST", "/api/collections/tbl_attachments/records",
                                  files={"attachments_link": ("a.png", b"\x89PNG\r\n" + unique.encode(), "image/png")})
    assert attachment.status_code == 200, attachment.text
    dict_id = f"DICT-{unique}"
    for title, type_ in (("old", f"{dict_id}@UT1"), ("skip", f"{dict_id}@UT2"), ("new", f"{dict_id}@UT1")):
        made = stack_pb.create("tbl_document", {"document_title": title, "document_type": type_, "document_status": "有效"})
        assert made.status_code == 200, made.text

    png = tmp_path / "avatar.png"
    Image.new("RGB", (8, 8), (200, 30, 30)).save(png)
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    (closed_port,) = free_ports(1)
    return {
        "base_url": stack.base_url + "/pb",
        "closed_url": f"http://127.0.0.1:{closed_port}/pb",
        "name": f"mp{unique}",
        "manager": manager,
        "short_name": short,
        "short_token": stack_pb.user_token(short_user["pb_id"], duration=3600),
        "attachment": {key: attachment.json()[key] for key in ("attachments_id", "attachments_md5")},
        "dict": dict_id,
        "png_path": str(png),
        "text_path": str(text),
    }


def test_every_client_function_against_the_stack(stack, seeded):
    node = shutil.which("node")
    assert node, "node is missing: `make test` installs it (Debian package nodejs)"
    env = {**os.environ, "MINIPROGRAM_E2E": json.dumps(seeded)}
    run = subprocess.run([node, "--test", "--test-reporter=spec", str(E2E_TEST)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=240)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    counts = {name: int(n) for name, n in re.findall(r"^ℹ (pass|fail|skipped) (\d+)$", output, re.MULTILINE)}
    assert counts == {"pass": E2E_TESTS, "fail": 0, "skipped": 0}, output

