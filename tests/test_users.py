"""sidecar/users.py: pure pieces of the user service, and how many PocketBase requests each use case makes."""
from __future__ import annotations

import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sidecar import create_app
from sidecar.pocketbase import token_claims
from sidecar.users import PICTURE_FIELDS, token_may_be_valid, user_info


def unsigned_token(**claims) -> str:
    """A token of these claims (the signature is PocketBase's business, not the local check's)."""
    import base64
    import json

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256'})}.{part(claims)}.c2ln"


# (seconds to exp from now, leeway) -> whether the local pre-check lets the token through to PocketBase
@pytest.mark.parametrize("exp_in, leeway, expected", [
    (3600, 0, True),
    (-1, 0, False),
    (-30, 60, True),   # the sidecar's clock 30 s ahead of PocketBase's: PocketBase decides
    (-59, 60, True),
    (-61, 60, False),
    (-3600, 60, False),
])
def test_token_may_be_valid_allows_the_leeway(exp_in, leeway, expected):
    import time
    token = unsigned_token(type="auth", exp=int(time.time()) + exp_in)
    assert token_may_be_valid(token, leeway) is expected


@pytest.mark.parametrize("claims", [{"type": "refresh", "exp": 4102444800}, {"type": "auth"}, {"type": "auth", "exp": "x"}])
def test_token_may_be_valid_refuses_what_is_not_an_auth_token(claims):
    assert token_may_be_valid(unsigned_token(**claims), 3600) is False


def test_user_info_is_mapped_from_the_row_alone():
    row = {"id": "r1", "users_name": "张三", "users_phone": "13800138000", "users_picture": "ATT-1",
           "users_picture_pb_id": "a1", "users_picture_link": "scan_x.png", "company_pb_id": "c1",
           "company_id": "CMP-1", "created": "t0", "updated": "t1"}
    info = user_info(row, "https://h/pb/api/files/pbc_att")
    assert info["users_picture_url"] == "https://h/pb/api/files/pbc_att/a1/scan_x.png"
    assert [info[f"{name}_url"] for name in PICTURE_FIELDS[1:]] == ["", "", ""]
    assert (info["pb_id"], info["users_phone_masked"], info["company"]["pb_id"], info["company"]["company_id"]) == (
        "r1", "138****8000", "c1", "CMP-1")
    assert user_info({"id": "r2"}, "")["company"] is None


class CountingProxy:
    """An HTTP/1.1 keep-alive proxy in front of PocketBase that records each request's method and path."""

    def __init__(self, target: str):
        self.requests: list[str] = []
        self.headers: list[dict] = []
        proxy = self
        session = requests.Session()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.requests.append(f"{self.command} {self.path.split('?')[0]}")
                proxy.headers.append(dict(self.headers.items()))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                upstream = session.request(self.command, target + self.path, data=body, headers=headers, timeout=15)
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", upstream.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> list[str]:
        taken, self.requests[:] = list(self.requests), []
        return taken


@pytest.fixture
def counted(sidecar_config, wechat):
    """(test client, proxy): a sidecar whose PocketBase requests all pass through a CountingProxy."""
    proxy = CountingProxy(sidecar_config.PB_URL)
    app = create_app(dataclasses.replace(sidecar_config, PB_URL=proxy.url))
    yield app.test_client(), proxy
    proxy.server.shutdown()


def test_each_route_makes_one_pocketbase_request(counted, wechat, pb, unique):
    """With the login audit on: the success rows of login and refresh-token are written inside that request."""
    client, proxy = counted
    agent = f"Counted/{unique}"
    first = client.post("/pb/api/wechat/login", json={"users_wx_code": f"counted-{unique}"})
    assert first.json["data"]["status"] == "register_success"
    proxy.take()  # the first call also signs the superuser in and reads the attachments collection id
    token = client.post("/pb/api/wechat/login", json={"users_wx_code": f"counted-{unique}.2"},
                        headers={"User-Agent": agent}).json["token"]
    assert proxy.take() == ["POST /api/internal/wechat-login"]
    refreshed = client.post("/pb/api/system/refresh-token",
                            headers={"Authorization": f"Bearer {token}", "User-Agent": agent})
    assert refreshed.status_code == 200 and proxy.take() == ["POST /api/collections/tbl_auth_users/auth-refresh"]
    by_code = client.post("/pb/api/system/refresh-token", json={"users_wx_code": f"counted-{unique}.3"},
                          headers={"User-Agent": agent})
    assert by_code.status_code == 200 and proxy.take() == ["POST /api/internal/wechat-login"]
    audited = pb.request("GET", "/api/collections/tbl_login_log/records",
                         params={"filter": f'user_agent = "{agent}"', "sort": "created"}).json()["items"]
    assert [(row["route"], row["result"]) for row in audited] == [
        ("login", "ok"), ("auth-refresh", "ok"), ("refresh-token", "ok")]
    phone = f"159{int(unique, 16) % 10**8:08d}"
    updated = client.post("/pb/api/wechat/profile", json={"users_name": "计数", "users_phone": phone},
                          headers={"Authorization": f"Bearer {token}"})
    assert updated.status_code == 200 and proxy.take() == ["POST /api/internal/profile"]
    wechat.phones[f"pc-{unique}"] = "15900000000"
    by_code = client.post("/pb/api/wechat/profile", json={"users_phone_code": f"pc-{unique}"},
                          headers={"Authorization": f"Bearer {token}"})
    assert by_code.status_code in (200, 400) and proxy.take() == ["POST /api/internal/profile"]
    assert wechat.calls[-1] == f"phone:pc-{unique}"
    # WeChat checks the code belongs to the caller: the openid comes from the worker's map, not a request more.
    assert wechat.phone_openids[-1] == f"oid-counted-{unique}"
    assert client.post("/pb/api/system/users-count").status_code == 200
    assert proxy.take() == ["GET /api/internal/users-count"]


def test_internal_calls_carry_the_clients_address_and_user_agent(counted, wechat, unique):
    client, proxy = counted
    client.post("/pb/api/wechat/login", json={"users_wx_code": f"seen-{unique}"},
                headers={"X-Real-IP": "203.0.113.9", "User-Agent": "wx-mini/1.0"})
    sent = proxy.headers[proxy.requests.index("POST /api/internal/wechat-login")]
    assert (sent.get("X-Real-IP"), sent.get("User-Agent")) == ("203.0.113.9", "wx-mini/1.0")


def test_a_non_refreshable_token_is_renewed_in_one_request(counted, pb):
    client, proxy = counted
    user = pb.create_user(openid="")
    legacy = pb.user_token(user["id"])  # an impersonation token, as handed out before tokens were refreshable
    client.post("/pb/api/system/users-count")
    proxy.take()
    response = client.post("/pb/api/system/refresh-token", headers={"Authorization": f"Bearer {legacy}"})
    assert response.status_code == 200 and proxy.take() == ["POST /api/internal/renew-token"]
    assert token_claims(response.json["token"])["id"] == user["id"]
