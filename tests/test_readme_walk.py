"""The README's curl walk-through, run as it is written: the shell block after the readme-walk marker, with bash,
against a fresh dev stack holding the demo records (as `make run` on a new data dir, or `make demo`, leaves it).

Only API differs from what a reader copies. The block stops at the first step that fails (set -euo pipefail,
curl -f), so a README that drifts from the running system fails here.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from ops.demo import DEMO_PNG
from ops.processes import ROOT

README = ROOT / "README.md"
MARKER = "<!-- readme-walk:"


def walk_block(text: str) -> str:
    """The ```sh block that follows the marker."""
    after = text[text.index(MARKER):]
    match = re.search(r"^```sh\n(.*?)^```$", after, re.S | re.M)
    assert match, "no ```sh block after the readme-walk marker"
    return match.group(1)


def run_walk(api: str, cwd) -> subprocess.CompletedProcess:
    script = cwd / "walk.sh"
    script.write_text(walk_block(README.read_text(encoding="utf-8")))
    return subprocess.run(["bash", str(script)], cwd=cwd, env=dict(os.environ, API=api), capture_output=True,
                          text=True, timeout=180)


def test_the_walk_is_fail_loud_as_written():
    """Every curl whose answer the walk uses fails on a non-2xx (-f); the one that reads a status checks it."""
    block = walk_block(README.read_text(encoding="utf-8"))
    lines = block.splitlines()
    assert lines[0] == "API=${API:-http://localhost:8080/pb/api}" and lines[1] == "set -euo pipefail"
    calls = [line for line in lines if re.search(r"\bcurl ", line)]
    assert len(calls) >= 15
    for line in calls:
        assert re.search(r"curl -f\w*S", line) or "%{http_code}" in line, line
    # Logout and close-account use logins of their own, not the token the other steps use.
    assert not re.search(r"(logout|close-account) .*\$TOKEN", block)


@pytest.mark.slow
def test_the_readme_walk_runs_as_written_on_a_fresh_dev_stack(make_stack, tmp_path):
    fresh = make_stack()
    demo = subprocess.run(  # `make demo`, with this stack's settings
        [sys.executable, "-m", "ops.demo"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PB_URL=fresh.pb.url, PB_DATA_DIR=str(fresh.config.pb_data_dir), PB_SUPERUSER_EMAIL="",
                 PB_SUPERUSER_PASSWORD="", WECHAT_APPID="", WECHAT_SECRET="", HTTP_PORT=str(fresh.config.http_port)))
    assert demo.returncode == 0, demo.stderr

    walked = run_walk(fresh.base_url + "/pb/api", tmp_path)
    assert walked.returncode == 0, f"the README walk failed:\n{walked.stdout[-3000:]}\n{walked.stderr[-3000:]}"
    out = walked.stdout
    # Each step showed a real answer, not an empty list.
    for shown in ('"status":"register_success"', '"status":"login_success"', "注册用户", "138****8000",
                  '"total_users":', '"company_name":"微信侧测试企业"', "演示文档", '"attachments_id":"ATT-',
                  '"msg":"上传成功"', "users_picture_url is the upload's url", "alice's uploads: 1, the newest ATT-",
                  "HTTP 401", "logout_success",
                  "close_success"):
        assert shown in out, (shown, out[-3000:])
    assert '"items":[]' not in out and '"totalItems":0' not in out
    assert (tmp_path / "attachment.png").read_bytes() == DEMO_PNG
    # The avatar served is the upload's clean copy: a PNG as wide and high as the one the walk made.
    assert (tmp_path / "avatar.png").read_bytes()[:24] == (tmp_path / "photo.png").read_bytes()[:24]


@pytest.mark.slow
def test_the_walk_stops_at_the_first_failing_step(stack, tmp_path):
    """A stack that does not answer the walk's first step: bash exits non-zero there, nothing after it runs."""
    walked = run_walk(stack.base_url + "/pb/api/no-such-prefix", tmp_path)
    assert walked.returncode != 0
    assert "404" in walked.stderr and "register_success" not in walked.stdout and "login_success" not in walked.stdout
