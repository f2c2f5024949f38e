"""The whole stack through nginx: routing, error envelopes, limits, docs page, the `make run` CLI, admin commands."""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from ops.banner import dev_exposure
from ops.demo import DEMO_ATTACHMENT_ID, DEMO_COMPANY_ID
from ops.nginx_conf import render_nginx_conf, render_production_conf
from ops.processes import ROOT, proc_stat
from ops.stack import Stack, process_group_members
from ops.stack_config import DEFAULT_RATE_LIMITS, PASSWORD_FILE_NAME, StackConfig, StackError
from sidecar import limits
from sidecar.limits import UPLOAD_FRAMING_BYTES, upload_body_limit
from sidecar.routes.docs import DEV_EXAMPLES
from tests.helpers import assert_envelope, chromium_page
from tests.stack_fixtures import stack_settings

SPEC_FILE = ROOT / "spec" / "openapi-wx.yaml"
NGINX_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def get_from(source_ip: str, host: str, port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    """One request from a given local source address; (status, JSON body)."""
    connection = http.client.HTTPConnection(host, port, timeout=10, source_address=(source_ip, 0))
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


# -- configuration (no processes) ----------------------------------------------------------------------


def test_config_precedence_overrides_then_env_then_dotenv(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("HTTP_PORT=9101\nPB_PORT=9102\nSIDECAR_PORT=9103\nSIDECAR_WORKERS=3\n"
                      f"PB_DATA_DIR={tmp_path / 'data'}\n")
    monkeypatch.setenv("PB_PORT", "9202")
    monkeypatch.delenv("HTTP_PORT", raising=False)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("RUN_DIR", raising=False)
    monkeypatch.delenv("PB_SUPERUSER_PASSWORD", raising=False)
    monkeypatch.delenv("SIDECAR_WORKERS", raising=False)
    monkeypatch.delenv("SIDECAR_PORT", raising=False)
    config = StackConfig.from_env({"SIDECAR_PORT": "9303", "WECHAT_TIMEOUT": "2"}, dotenv_path=dotenv)
    assert (config.http_port, config.pb_port, config.sidecar_port) == (9101, 9202, 9303)
    assert config.sidecar_workers == 3
    assert config.public_base_url == "http://localhost:9101"
    assert config.run_dir == ROOT / ".run" / "9101"
    assert config.sidecar_extra_env == {"WECHAT_TIMEOUT": "2"}
    assert config.dev_mode


def test_generated_password_is_private_and_reused(tmp_path):
    settings = {"PB_DATA_DIR": str(tmp_path / "data"), "PB_SUPERUSER_PASSWORD": ""}
    first = StackConfig.from_env(settings, dotenv_path=None)
    password_file = tmp_path / "data" / PASSWORD_FILE_NAME
    assert first.superuser_password_file == password_file
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert len(first.superuser_password) >= 20
    assert StackConfig.from_env(settings, dotenv_path=None).superuser_password == first.superuser_password
    given = StackConfig.from_env({**settings, "PB_SUPERUSER_PASSWORD": "Given-password-1"}, dotenv_path=None)
    assert given.superuser_password == "Given-password-1" and given.superuser_password_file is None
    assert "Given-password-1" not in repr(given)


def test_config_rejects_appid_without_secret_and_bad_rate_limits(tmp_path):
    base = {"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12}
    with pytest.raises(StackError, match="WECHAT_SECRET"):
        StackConfig.from_env({**base, "WECHAT_APPID": "wx123", "WECHAT_SECRET": ""}, dotenv_path=None)
    with pytest.raises(StackError, match="RATE_LIMITS"):
        StackConfig.from_env({**base, "RATE_LIMITS": "lots"}, dotenv_path=None)


def test_push_token_and_aes_key_are_generated_in_dev_mode_only_and_checked(tmp_path):
    base = {"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, "WECHAT_PUSH_TOKEN": "",
            "WECHAT_PUSH_AES_KEY": ""}
    dev = StackConfig.from_env({**base, "WECHAT_APPID": ""}, dotenv_path=None)
    assert dev.wechat_push_token and len(dev.wechat_push_aes_key) == 43
    assert {dev.wechat_push_token, dev.wechat_push_aes_key} <= set(dev.secret_values())
    assert dev.wechat_push_token not in repr(dev) and dev.wechat_push_aes_key not in repr(dev)
    live = StackConfig.from_env({**base, "WECHAT_APPID": "wx1", "WECHAT_SECRET": "s"}, dotenv_path=None)
    assert (live.wechat_push_token, live.wechat_push_aes_key) == ("", "")
    given = StackConfig.from_env({**base, "WECHAT_PUSH_TOKEN": "t0ken", "WECHAT_PUSH_AES_KEY": "B" * 43},
                                 dotenv_path=None)
    assert (given.wechat_push_token, given.wechat_push_aes_key) == ("t0ken", "B" * 43)
    with pytest.raises(StackError, match="WECHAT_PUSH_AES_KEY"):
        StackConfig.from_env({**base, "WECHAT_PUSH_AES_KEY": "short"}, dotenv_path=None)


@pytest.mark.parametrize("settings, listen", [
    ({}, "127.0.0.1"),  # dev mode: the stub's fake logins stay on this machine
    ({"NGINX_LISTEN": "0.0.0.0"}, "0.0.0.0"),
    ({"WECHAT_APPID": "wx1", "WECHAT_SECRET": "s"}, "0.0.0.0"),
    ({"WECHAT_APPID": "wx1", "WECHAT_SECRET": "s", "NGINX_LISTEN": "127.0.0.1"}, "127.0.0.1"),
])
def test_dev_mode_listens_on_loopback_unless_told_and_the_banner_says_which(tmp_path, settings, listen):
    base = {"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, "WECHAT_APPID": "",
            "WECHAT_SECRET": "", "NGINX_LISTEN": ""}
    config = StackConfig.from_env({**base, **settings}, dotenv_path=None)
    assert config.nginx_listen == listen
    exposure = dev_exposure(config)
    assert listen in exposure and (("WARNING" in exposure) is (listen != "127.0.0.1"))


@pytest.mark.parametrize("settings, listen, lan, from_host", [
    ({"LAN": "1"}, "0.0.0.0", True, True),
    ({"LAN": "1", "NGINX_LISTEN": "192.168.1.20"}, "192.168.1.20", True, True),
    ({"LAN": "1", "PUBLIC_BASE_URL": "http://dev.example:8080"}, "0.0.0.0", True, False),
    ({"LAN": "0"}, "127.0.0.1", False, True),
    ({"LAN": "1", "WECHAT_APPID": "wx1", "WECHAT_SECRET": "s"}, "0.0.0.0", False, False),  # live: no effect
])
def test_lan_opens_dev_mode_to_the_network_and_file_urls_follow_the_host(tmp_path, settings, listen, lan, from_host):
    base = {"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, "WECHAT_APPID": "",
            "WECHAT_SECRET": "", "NGINX_LISTEN": "", "PUBLIC_BASE_URL": ""}
    config = StackConfig.from_env({**base, **settings}, dotenv_path=None)
    assert (config.nginx_listen, config.lan, config.file_urls_from_host) == (listen, lan, from_host)
    if config.dev_mode and lan:
        exposure = dev_exposure(config, address="192.168.1.20")
        assert exposure.startswith(f"WARNING: dev mode listens on {listen} (LAN=1)")
        assert f"baseUrl: 'http://192.168.1.20:{config.http_port}/pb'" in exposure


def test_lan_is_on_or_off(tmp_path):
    with pytest.raises(StackError, match="setting LAN must be 1 \\(on\\) or 0 \\(off\\)"):
        StackConfig.from_env({"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, "LAN": "maybe"},
                             dotenv_path=None)


def test_the_sidecar_hears_from_the_stack_whether_file_urls_follow_the_host(tmp_path):
    base = {"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, "WECHAT_APPID": "", "WECHAT_SECRET": ""}
    for settings, expected in (({"PUBLIC_BASE_URL": ""}, "1"), ({"PUBLIC_BASE_URL": "http://x.example"}, "0"),
                               ({"WECHAT_APPID": "wx1", "WECHAT_SECRET": "s", "PUBLIC_BASE_URL": ""}, "0")):
        stack = Stack(StackConfig.from_env({**base, **settings}, dotenv_path=None))
        stack.stub_url = "http://127.0.0.1:1"
        assert stack.build_sidecar_env()["FILE_URLS_FROM_HOST"] == expected, settings


def test_nginx_conf_rate_limit_lines_follow_rate_limits(tmp_path):
    base = {"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, "RUN_DIR": str(tmp_path / "run")}
    off = render_nginx_conf(StackConfig.from_env({**base, "RATE_LIMITS": "off"}, dotenv_path=None))
    assert "limit_req" not in off
    on = render_nginx_conf(StackConfig.from_env({**base, "RATE_LIMITS": "7r/s,burst=9"}, dotenv_path=None))
    assert "limit_req_zone $binary_remote_addr zone=sidecar_per_ip:10m rate=7r/s;" in on
    assert "limit_req zone=sidecar_per_ip burst=9 nodelay;" in on
    assert "limit_req_status 429;" in on
    default = render_nginx_conf(StackConfig.from_env({**base, "RATE_LIMITS": ""}, dotenv_path=None))
    assert f"rate={DEFAULT_RATE_LIMITS.split(',')[0]};" in default
    # Nothing is left unrendered, and nginx's own variables survive the templating.
    assert "${" not in on and "$request_id" in on and "$proxy_add_x_forwarded_for" in on


def test_nginx_conf_cors_maps_follow_cors_allowed_origins(tmp_path):
    base = {"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, "RUN_DIR": str(tmp_path / "run")}
    listed = render_nginx_conf(StackConfig.from_env(
        {**base, "CORS_ALLOWED_ORIGINS": "https://h5.example.com, http://localhost:5173/"}, dotenv_path=None))
    assert '"https://h5.example.com" "https://h5.example.com";' in listed
    assert '"http://localhost:5173" "http://localhost:5173";' in listed and 'default "Origin";' in listed
    assert 'default "*";' not in listed
    assert 'default "*";' in render_nginx_conf(StackConfig.from_env(base, dotenv_path=None))
    # The values land in nginx's config: anything but an origin is refused before rendering.
    with pytest.raises(StackError, match="CORS_ALLOWED_ORIGINS"):
        StackConfig.from_env({**base, "CORS_ALLOWED_ORIGINS": 'https://a.example.com";}'}, dotenv_path=None)
    site = subprocess.run([sys.executable, "-m", "ops.nginx_conf", "site"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, CORS_ALLOWED_ORIGINS="https://h5.example.com"))
    assert site.returncode == 0 and '"https://h5.example.com" "https://h5.example.com";' in site.stdout


def upload_location(conf: str) -> str:
    return conf.split("location = /pb/api/wechat/upload {", 1)[1].split("}", 1)[0]


def test_nginx_body_limit_of_the_upload_route_follows_upload_max_bytes_and_no_other_route(tmp_path):
    base = {"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, "RUN_DIR": str(tmp_path / "run")}
    conf = render_nginx_conf(StackConfig.from_env({**base, "UPLOAD_MAX_BYTES": "1000000"}, dotenv_path=None))
    limit = upload_body_limit(1_000_000)
    assert f"client_max_body_size {limit};" in upload_location(conf)
    assert f"client_body_buffer_size {limit};" in upload_location(conf)  # in memory: no temp file
    assert conf.count("client_max_body_size 64k;") == 1 and conf.count(f"client_max_body_size {limit};") == 1
    default = render_nginx_conf(StackConfig.from_env(base, dotenv_path=None))
    assert f"client_max_body_size {upload_body_limit(10 * 1024 * 1024)};" in upload_location(default)
    site = subprocess.run([sys.executable, "-m", "ops.nginx_conf", "site"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, UPLOAD_MAX_BYTES="2000000"))
    assert f"client_max_body_size {upload_body_limit(2_000_000)};" in upload_location(site.stdout)


def pocketbase_body_limits(conf: str) -> list[str]:
    """client_max_body_size of each location passed to PocketBase (proxy_pass http://pocketbase)."""
    return [re.search(r"client_max_body_size (\S+);", block).group(1)
            for block in re.findall(r"location [^{]*\{[^}]*proxy_pass http://pocketbase[^}]*\}", conf)
            if "client_max_body_size" in block]


def test_nginx_body_limit_of_pocketbase_paths_follows_the_largest_file_field_of_schema_yaml(tmp_path, monkeypatch):
    schema = yaml.safe_load(limits.SCHEMA_PATH.read_text(encoding="utf-8"))
    largest = max(f["max_size"] for c in schema["collections"] for f in c.get("fields", ()) if f["type"] == "file")
    base = {"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, "RUN_DIR": str(tmp_path / "run")}
    expected = f"{(largest + UPLOAD_FRAMING_BYTES) // 1024}k"
    for conf in (render_nginx_conf(StackConfig.from_env(base, dotenv_path=None)), render_production_conf(),
                 (ROOT / "deploy" / "nginx-production.conf").read_text()):
        found = pocketbase_body_limits(conf)
        assert len(found) >= 2 and set(found) == {expected}, found   # /pb/ and the cached feed
    # A larger file field in schema.yaml raises it, on both configs.
    schema["collections"][0]["fields"].append({"name": "scan", "type": "file", "max_select": 1,
                                               "max_size": 50 * 1024 * 1024})
    bigger = tmp_path / "schema.yaml"
    bigger.write_text(yaml.safe_dump(schema, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(limits, "SCHEMA_PATH", bigger)
    raised = f"{(50 * 1024 * 1024 + UPLOAD_FRAMING_BYTES) // 1024}k"
    for conf in (render_nginx_conf(StackConfig.from_env(base, dotenv_path=None)), render_production_conf()):
        assert set(pocketbase_body_limits(conf)) == {raised}


@pytest.mark.parametrize("settings, error", [
    ({"UPLOAD_MAX_BYTES": "lots"}, "UPLOAD_MAX_BYTES"), ({"UPLOAD_MAX_BYTES": "-1"}, "UPLOAD_MAX_BYTES"),
    ({"UPLOAD_RATE": "0"}, "UPLOAD_RATE"), ({"UPLOAD_RATE": "30/h"}, "UPLOAD_RATE"), ({"UPLOAD_RATE": "-3"}, "UPLOAD_RATE"),
])
def test_upload_settings_are_checked(tmp_path, settings, error):
    with pytest.raises(StackError, match=error):
        StackConfig.from_env({"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, **settings},
                             dotenv_path=None)


def test_upload_max_bytes_reaches_the_sidecar(tmp_path):
    # UPLOAD_RATE reaching PocketBase: tests/test_uploads_e2e.py, on a stack of its own.
    config = StackConfig.from_env({"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12,
                                   "UPLOAD_MAX_BYTES": "123456"}, dotenv_path=None)
    assert Stack(config).build_sidecar_env()["UPLOAD_MAX_BYTES"] == "123456"


def test_production_nginx_conf_takes_rate_and_burst_from_rate_limits():
    """Both halves of RATE_LIMITS reach the production site (the rate was once written into its template)."""
    production = render_production_conf(rate_limits="7r/s,burst=9")
    assert "limit_req_zone $binary_remote_addr zone=sidecar_per_ip:10m rate=7r/s;" in production
    assert "burst=9 nodelay;" in production and "20r/s" not in production and "burst=40" not in production
    assert "limit_req" not in render_production_conf(rate_limits="off").split("# below to turn it off.", 1)[1]


def test_production_nginx_conf_is_generated_from_the_shared_api_server_block_and_passes_nginx_t(tmp_path):
    production = (ROOT / "deploy" / "nginx-production.conf").read_text()
    assert production == render_production_conf(), "run `make nginx-production`"
    config = StackConfig.from_env({"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12},
                                  dotenv_path=None)
    # Both servers carry the same block, rate limit included (production uses the default RATE_LIMITS).
    api_server = render_nginx_conf(config).split("server_name _;\n", 1)[1].rsplit("    }\n}", 1)[0]
    assert "location ~ ^/pb/api/(wechat/|system/|docs(/|$))" in api_server
    assert api_server.replace("\n        ", "\n    ").strip() in production
    openssl, nginx = shutil.which("openssl"), shutil.which("nginx") or "/usr/sbin/nginx"
    if not openssl or not Path(nginx).exists():
        pytest.skip("openssl or nginx missing")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    site = (production.replace("/etc/ssl/CHANGE_ME/fullchain.pem", str(tmp_path / "cert.pem"))
            .replace("/etc/ssl/CHANGE_ME/privkey.pem", str(tmp_path / "key.pem"))
            .replace("/var/log/nginx/", f"{tmp_path}/").replace("/var/cache/nginx/", f"{tmp_path}/"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n client_body_temp_path {tmp_path}/body;\n proxy_temp_path {tmp_path}/proxy;\n"
        f" fastcgi_temp_path {tmp_path}/fastcgi;\n uwsgi_temp_path {tmp_path}/uwsgi;\n scgi_temp_path {tmp_path}/scgi;\n"
        f" include {tmp_path}/site.conf;\n}}\n")
    check = subprocess.run([nginx, "-t", "-p", f"{tmp_path}/", "-c", str(tmp_path / "nginx.conf"),
                            "-e", str(tmp_path / "error.log")], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


# -- the session stack ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_health_envelope_through_nginx(stack):
    body = assert_envelope(requests.get(stack.base_url + "/pb/api/system/health", timeout=10), 200)
    assert body["data"] == {"pocketbase": "ok", "wechat_mode": "dev-stub", "replica": {"status": "off"}}


@pytest.mark.slow
def test_sidecar_env_points_at_this_stacks_pocketbase_and_stub(stack):
    env = stack.sidecar_env
    assert env["PB_URL"] == stack.pb.url
    assert env["WECHAT_API_BASE"] == stack.stub_url
    assert env["WECHAT_DEV_STUB"] == "1"
    assert env["PUBLIC_BASE_URL"] == stack.config.public_base_url
    assert env["PB_SUPERUSER_PASSWORD"] == stack.config.superuser_password
    assert "PATH" in env


@pytest.mark.slow
def test_dashboard_is_served_under_pb_and_redirects_keep_the_prefix(stack):
    page = requests.get(stack.base_url + "/pb/_/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<html" in page.text.lower()
    for path in ("/pb/_", "/pb"):
        redirect = requests.get(stack.base_url + path, timeout=10, allow_redirects=False)
        assert redirect.status_code in (301, 302, 307, 308), path
        assert redirect.headers["Location"] == "/pb/_/", path
    assert requests.get(stack.base_url + "/pb", timeout=10).url == stack.base_url + "/pb/_/"


@pytest.mark.slow
def test_pocketbase_api_is_reached_with_the_prefix_stripped(stack):
    health = requests.get(stack.base_url + "/pb/api/health", timeout=10)
    assert health.status_code == 200 and health.json()["message"] == "API is healthy."
    # The default superuser email is one PocketBase accepts, and the generated password works through nginx.
    login = requests.post(stack.base_url + "/pb/api/collections/_superusers/auth-with-password", timeout=10,
                          json={"identity": stack.config.superuser_email, "password": stack.config.superuser_password})
    assert login.status_code == 200, login.text
    assert login.json()["record"]["email"] == "admin@localhost.local"


@pytest.mark.slow
def test_realtime_events_stream_unbuffered(stack):
    with requests.get(stack.base_url + "/pb/api/realtime", stream=True, timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        # PocketBase's first event; it only arrives in time if nginx does not buffer the stream.
        started = time.monotonic()
        first_lines = []
        for line in response.iter_lines(decode_unicode=True):
            first_lines.append(line)
            if line.startswith("data:"):
                break
        assert time.monotonic() - started < 5
        assert any(line == "event:PB_CONNECT" or line == "event: PB_CONNECT" for line in first_lines), first_lines


@pytest.mark.slow
def test_docs_page_and_spec_are_served_through_nginx(stack):
    """nginx routes /pb/api/docs[/*] to the sidecar; what each URL answers is in tests/test_routes_docs.py."""
    redirect = requests.get(stack.base_url + "/pb/api/docs", timeout=10, allow_redirects=False)
    assert redirect.status_code == 301 and redirect.headers["Location"] == "docs/"
    page = requests.get(stack.base_url + "/pb/api/docs", timeout=10)
    assert page.url == stack.base_url + "/pb/api/docs/"
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    bundle = requests.get(stack.base_url + "/pb/api/docs/swagger-ui-bundle.js", timeout=10)
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    spec_yaml = requests.get(stack.base_url + "/pb/api/docs/openapi.yaml", timeout=10)
    assert spec_yaml.status_code == 200 and spec_yaml.content == SPEC_FILE.read_bytes()
    assert_envelope(requests.get(stack.base_url + "/pb/api/docs/index.html", timeout=10), 404)


@pytest.mark.slow
def test_unknown_wechat_path_is_an_envelope_404(stack):
    assert_envelope(requests.post(stack.base_url + "/pb/api/wechat/no-such-route", json={}, timeout=10), 404)
    assert_envelope(requests.get(stack.base_url + "/nothing-here", timeout=10), 404)


@pytest.mark.slow
def test_request_id_is_generated_by_nginx_and_echoed(stack):
    first = requests.get(stack.base_url + "/pb/api/system/health", timeout=10)
    second = requests.get(stack.base_url + "/pb/api/system/health", timeout=10)
    ids = [first.headers.get("X-Request-Id"), second.headers.get("X-Request-Id")]
    assert all(ids) and all(NGINX_REQUEST_ID.match(i) for i in ids), ids
    assert ids[0] != ids[1]
    # The sidecar saw the same id nginx generated (it logs it), so logs of both can be joined.
    deadline = time.monotonic() + 5
    while ids[1] not in (stack.run_dir / "sidecar.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ids[1] in (stack.run_dir / "sidecar.log").read_text()


@pytest.mark.slow
def test_body_over_64k_to_a_sidecar_route_is_an_envelope_413(stack):
    response = requests.post(stack.base_url + "/pb/api/wechat/login", data=b"{" + b" " * 70_000 + b"}",
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert_envelope(response, 413)
    assert NGINX_REQUEST_ID.match(response.headers["X-Request-Id"])
    # Just under the limit reaches the sidecar (which answers for itself, not with 413).
    small = requests.post(stack.base_url + "/pb/api/wechat/login", data=b"{" + b" " * 60_000 + b"}",
                          headers={"Content-Type": "application/json"}, timeout=10)
    assert small.status_code != 413


def test_nginx_body_limit_of_the_sidecar_routes_follows_max_body_bytes(tmp_path):
    base = {"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, "RUN_DIR": str(tmp_path / "run")}
    conf = render_nginx_conf(StackConfig.from_env({**base, "MAX_BODY_BYTES": str(128 * 1024)}, dotenv_path=None))
    assert conf.count("client_max_body_size 128k;") == 1 and "client_max_body_size 64k;" not in conf
    odd = render_nginx_conf(StackConfig.from_env({**base, "MAX_BODY_BYTES": "100000"}, dotenv_path=None))
    assert odd.count("client_max_body_size 100000;") == 1
    with pytest.raises(StackError, match="MAX_BODY_BYTES"):
        StackConfig.from_env({**base, "MAX_BODY_BYTES": "0"}, dotenv_path=None)


@pytest.mark.slow
def test_max_body_bytes_raised_lets_a_larger_body_through_nginx_and_refuses_a_larger_one(make_stack):
    stack = make_stack(MAX_BODY_BYTES=str(128 * 1024))
    url = stack.base_url + "/pb/api/wechat/login"
    # 100 KiB reaches the sidecar: it answers for itself (no code in the body), not nginx's 413.
    through = requests.post(url, data=b"{" + b" " * (100 * 1024) + b"}", timeout=10,
                            headers={"Content-Type": "application/json"})
    assert_envelope(through, 400)
    assert "users_wx_code" in through.json()["msg"] or through.json()["data"].get("field") == "users_wx_code"
    refused = requests.post(url, data=b"{" + b" " * (200 * 1024) + b"}", timeout=10,
                            headers={"Content-Type": "application/json"})
    assert_envelope(refused, 413)


@pytest.mark.slow
def test_long_headers_reach_the_sidecar_and_too_long_ones_are_an_envelope_400(stack):
    # 10 kB: over nginx's and gunicorn's default 8 kB, so only the raised limits let the sidecar judge it.
    long_token = requests.post(stack.base_url + "/pb/api/wechat/profile", json={}, timeout=10,
                               headers={"Authorization": "Bearer " + "a" * 10240})
    assert_envelope(long_token, 401)
    too_long = requests.post(stack.base_url + "/pb/api/wechat/profile", json={}, timeout=10,
                             headers={"Authorization": "Bearer " + "a" * 20480})
    assert_envelope(too_long, 400)
    with socket.create_connection(("127.0.0.1", stack.config.http_port), timeout=10) as raw:
        raw.sendall(b"NOT-HTTP\r\n\r\n")
        answer = raw.recv(65536).decode("utf-8", "replace")
    assert answer.startswith("HTTP/1.1 400") and '"code":400' in answer and "<html" not in answer


@pytest.mark.slow
def test_body_over_25m_to_pocketbase_is_a_pocketbase_413(stack):
    response = requests.post(stack.base_url + "/pb/api/collections/tbl_attachments/records",
                             data=b"x" * (26 * 1024 * 1024), headers={"Content-Type": "application/octet-stream"},
                             timeout=30)
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == 413 and body["message"] and body["data"] == {}


# -- extra stacks -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_dead_sidecar_gives_json_502_and_dead_pocketbase_gives_pocketbase_502(make_stack):
    extra = make_stack()
    extra.processes["sidecar"].kill()
    response = requests.post(extra.base_url + "/pb/api/wechat/login", json={"users_wx_code": "alice"}, timeout=10)
    assert response.status_code in (502, 503)
    assert_envelope(response, response.status_code)
    # The sidecar can be started again on its own, and the route answers for itself again.
    extra.start_sidecar()
    assert requests.get(extra.base_url + "/pb/api/system/health", timeout=10).status_code == 200

    extra.pb.kill()
    down = requests.get(extra.base_url + "/pb/api/collections/tbl_company/records", timeout=10)
    assert down.status_code == 502 and down.headers["Content-Type"].startswith("application/json")
    assert down.json()["code"] == 502 and down.json()["message"]
    # The sidecar's own 503 passes through nginx untouched (its data says why).
    health = requests.get(extra.base_url + "/pb/api/system/health", timeout=15)
    assert_envelope(health, 503)
    assert health.json()["data"]["pocketbase"] != "ok"


@pytest.mark.slow
def test_rate_limit_is_per_client_ip_and_spares_health(make_stack):
    extra = make_stack(RATE_LIMITS="5r/s,burst=5")
    host, port = "127.0.0.1", extra.config.http_port
    statuses, bodies = [], []
    for _ in range(30):
        status, body = get_from("127.0.0.1", host, port, "POST", "/pb/api/system/users-count", b"{}")
        statuses.append(status)
        bodies.append(body)
    assert 200 in statuses and 429 in statuses, statuses
    limited = bodies[statuses.index(429)]
    assert limited["code"] == 429 and limited["msg"] and limited["data"] == {}
    # Another client address has its own allowance.
    assert get_from("127.0.0.2", host, port, "POST", "/pb/api/system/users-count", b"{}")[0] == 200
    # The health route is never limited, even for the client that just was.
    health = [get_from("127.0.0.1", host, port, "GET", "/pb/api/system/health")[0] for _ in range(20)]
    assert health == [200] * 20


@pytest.mark.slow
def test_two_stacks_side_by_side_keep_their_own_data(stack, make_stack):
    other = make_stack()
    assert other.base_url != stack.base_url and other.run_dir != stack.run_dir
    assert other.config.pb_data_dir != stack.config.pb_data_dir

    def users_count(target: Stack) -> int:
        # Straight from the stack's own PocketBase: the users-count route may answer a cached figure.
        response = requests.get(target.config.pb_url + "/api/collections/tbl_auth_users/records", timeout=10,
                                params={"perPage": 1, "fields": "id"},
                                headers={"Authorization": target.pb.superuser_token()})
        assert response.status_code == 200, response.text
        return response.json()["totalItems"]

    before = users_count(stack)
    other_before = users_count(other)
    login = requests.post(other.base_url + "/pb/api/wechat/login", json={"users_wx_code": "side-by-side.1"}, timeout=15)
    assert login.status_code == 200, login.text
    assert users_count(other) == other_before + 1
    assert users_count(stack) == before
    assert other.stub_url != stack.stub_url


# -- the CLI (`make run`, `make backup`, `make restore`) --------------------------------------------------


def cli_env(base_dir: Path, **settings) -> dict:
    """The environment for `python -m ops.stack` with a stack of its own."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.update({key: str(value) for key, value in stack_settings(base_dir, **settings).items()})
    return env


def wait_for_output(process: subprocess.Popen, output_path: Path, text: str, deadline: float = 90) -> str:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        output = output_path.read_text(errors="replace")
        if text in output:
            return output
        if process.poll() is not None:
            pytest.fail(f"ops.stack exited with {process.returncode}:\n{output}")
        time.sleep(0.1)
    pytest.fail(f"no {text!r} in the output of ops.stack:\n{output_path.read_text(errors='replace')}")


def child_process_groups(parent_pid: int) -> set[int]:
    """Process groups of the direct children of parent_pid (each stack process leads its own)."""
    groups = set()
    for entry in Path("/proc").iterdir():
        fields = proc_stat(entry.name) if entry.name.isdigit() else None
        if fields and int(fields[1]) == parent_pid:
            groups.add(int(fields[2]))
    return groups


def start_cli_stack(base_dir: Path, output_name: str = "output.txt", **settings) -> tuple[subprocess.Popen, Path]:
    """`python -m ops.stack` as `make run` starts it, once it says it is up; its output goes to a file."""
    output_path = base_dir / output_name
    with open(output_path, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "ops.stack"], cwd=ROOT, env=cli_env(base_dir, **settings),
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_output(process, output_path, "Press Ctrl-C to stop.")
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return process, output_path


@pytest.mark.slow
def test_cli_runs_the_stack_and_sigint_stops_everything(tmp_path):
    process, output_path = start_cli_stack(tmp_path)
    try:
        groups = child_process_groups(process.pid)
        assert len(groups) == 5, groups  # pocketbase, stub, gunicorn, the subscribe sender, nginx
        assert process_group_members(groups)
        # Every URL the banner prints answers (redirects followed), none with PocketBase's "File not found."
        urls = re.findall(r"^  (?:API base|Dashboard|API docs|Health)\s+(\S+)$", output_path.read_text(), re.M)
        assert len(urls) == 4
        for url in urls:
            assert requests.get(url, timeout=10).status_code == 200, url
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    printed = output_path.read_text()
    assert process_group_members(groups) == [], "a stack process outlived ops.stack"
    password = (tmp_path / "pb_data" / PASSWORD_FILE_NAME).read_text().strip()
    assert password and password not in printed
    for log in (tmp_path / "run").glob("*.log"):
        assert password not in log.read_text(errors="replace"), log
    assert re.search(r"API base\s+http://localhost:\d+/pb/api/", printed)
    assert re.search(r"Dashboard\s+http://localhost:\d+/pb/_/", printed)
    assert re.search(r"API docs\s+http://localhost:\d+/pb/api/docs", printed)
    assert "admin@localhost.local" in printed and str(tmp_path / "pb_data" / PASSWORD_FILE_NAME) in printed
    assert "DEV STUB" in printed and "docs/operations.md" in printed
    assert "Dev mode listens on 127.0.0.1 only" in printed
    # A new data dir in dev mode: make run added the demo records (ops/demo.py).
    assert "Demo records" in printed and f"tbl_attachments {DEMO_ATTACHMENT_ID}: added" in printed
    assert "Stopped." in printed


@pytest.mark.slow
def test_cli_adds_demo_records_only_in_dev_mode_on_a_new_data_dir(tmp_path):
    """Live mode on a new data dir: none; dev mode on that (now existing) data dir: none either."""
    live = {"WECHAT_APPID": "wx-live-app", "WECHAT_SECRET": "live-secret", "WECHAT_API_BASE": "http://127.0.0.1:9"}
    for name, settings in (("live.txt", live), ("dev-again.txt", {})):
        process, output_path = start_cli_stack(tmp_path, name, **settings)
        try:
            port = re.search(r"listening on [\d.]+:(\d+)", output_path.read_text()).group(1)
            listed = requests.get(f"http://127.0.0.1:{port}/pb/api/collections/tbl_company/records", timeout=10,
                                  params={"filter": f'company_id="{DEMO_COMPANY_ID}"'})
            assert listed.status_code == 200 and listed.json()["totalItems"] == 0, (name, listed.text)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        assert "Demo records" not in output_path.read_text(), name


@pytest.mark.slow
def test_cli_exits_nonzero_when_a_child_dies(tmp_path):
    process, output_path = start_cli_stack(tmp_path)
    try:
        groups = child_process_groups(process.pid)
        stub_group = next(g for g in groups if b"ops.wechat_stub" in Path(f"/proc/{g}/cmdline").read_bytes())
        os.killpg(stub_group, signal.SIGKILL)
        assert process.wait(timeout=60) == 1
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    printed = output_path.read_text()
    assert "wechat_stub exited unexpectedly" in printed
    assert process_group_members(groups) == []


@pytest.mark.slow
def test_backup_and_restore_commands_against_a_running_stack(make_stack, tmp_path):
    extra = make_stack()
    env = dict(os.environ, PB_URL=extra.pb.url, PB_DATA_DIR=str(extra.config.pb_data_dir),
               PB_SUPERUSER_EMAIL="", PB_SUPERUSER_PASSWORD="", HTTP_PORT=str(extra.config.http_port))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ops.stack", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    backup = run("backup")
    assert backup.returncode == 0, backup.stderr
    zip_path = Path(re.search(r"Backup created: (\S+\.zip)", backup.stdout).group(1))
    assert zip_path.parent == extra.config.pb_data_dir / "backups" and zip_path.stat().st_size > 0
    restore = run("restore", zip_path.name)
    assert restore.returncode == 0, restore.stderr
    assert requests.get(extra.base_url + "/pb/api/system/health", timeout=10).status_code == 200
    password = extra.config.superuser_password
    assert password not in backup.stdout + backup.stderr + restore.stdout + restore.stderr
    missing = run("restore", "no_such_backup.zip")
    assert missing.returncode != 0 and "no_such_backup.zip" in missing.stderr


# -- the docs page in a real browser ----------------------------------------------------------------------


@pytest.mark.slow
def test_docs_page_renders_every_operation_in_headless_chromium(stack):
    dom, console = chromium_page(stack.base_url + "/pb/api/docs")
    spec = yaml.safe_load(SPEC_FILE.read_text())
    operations = [(tag, operation["operationId"]) for item in spec["paths"].values()
                  for method, operation in item.items() if method in ("get", "post", "put", "patch", "delete")
                  for tag in operation.get("tags", ["default"])]
    rendered = re.findall(r'<div class="opblock opblock-[a-z]+[^"]*" id="operations-([^"]+)"', dom)
    assert sorted(rendered) == sorted(f"{tag}-{operation_id}" for tag, operation_id in operations)
    assert "微信登录或首次注册" in dom and "更新微信用户资料" in dom
    assert "OAS 3.1" in dom and "Unable to render this definition" not in dom
    assert console == []
    # Swagger UI selects the first server: this origin, before production.
    assert 0 <= dom.find(f'<option value="{stack.base_url}">') < dom.find('<option value="https://bai-api.blv-oa.com">')


@pytest.mark.slow
def test_docs_page_renders_openapi_31_schemas_in_headless_chromium(stack):
    """An operation opened by its deep link: a request body whose schema is a 3.1 type list with null.

    The session stack runs the dev stub, so the example shown is the stub's (sidecar/routes/docs.py)."""
    spec = yaml.safe_load(SPEC_FILE.read_text())
    users_wx_code = spec["components"]["schemas"]["SystemRefreshTokenRequest"]["properties"]["users_wx_code"]
    assert users_wx_code["type"] == ["string", "null"]
    dom, console = chromium_page(stack.base_url + "/pb/api/docs/#/%E7%B3%BB%E7%BB%9F/postSystemRefreshToken")
    opened = dom.split('id="operations-系统-postSystemRefreshToken"')[1]
    assert 'class="opblock-body"' in opened.split('class="opblock ')[0]
    dev_code = DEV_EXAMPLES["/pb/api/system/refresh-token"]["users_wx_code"]
    assert f'"{dev_code}"' in opened and f'"{users_wx_code["example"]}"' not in opened
    assert console == []
