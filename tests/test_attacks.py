"""Attacks through nginx on the whole stack: bad tokens, mass assignment, broken object access via
PocketBase's native API, oversized bodies, rate limits, secrets in responses and logs."""
from __future__ import annotations

import base64
import http.client
import json
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from ops.stack import DEV_SECRET
from tests.helpers import assert_envelope, login_through, route


def native(stack, method, path, token=None, **kwargs):
    """PocketBase's native API through nginx (/pb/...)."""
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = token
    return requests.request(method, stack.base_url + "/pb/api/" + path, headers=headers, timeout=30, **kwargs)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# ------------------------------------------------------------------ tokens


@pytest.fixture(scope="module")
def bad_tokens(stack, stack_pb):
    """name -> Authorization header value that must be refused."""
    suffix = secrets.token_hex(4)
    good, user = login_through(stack, f"atk{suffix}")
    head, payload, signature = good.split(".")
    forged_sig = head + "." + payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    other_user_claims = dict(claims, id="a" * 15)
    forged_claims = head + "." + b64(other_user_claims) + "." + signature

    response = stack_pb.request("POST", f"/api/collections/tbl_auth_users/impersonate/{user['pb_id']}", json={"duration": 1})
    assert response.status_code == 200, response.text
    expired = response.json()["token"]

    superuser = stack_pb.superuser_token

    # A second auth collection, with one record and an impersonated token of it.
    other_name = f"tmp_auth_{suffix}"
    response = stack_pb.request("POST", "/api/collections", json={
        "name": other_name, "type": "auth", "listRule": "id = @request.auth.id", "viewRule": "id = @request.auth.id",
        "fields": [{"name": "openid", "type": "text"}]})
    assert response.status_code == 200, response.text
    password = secrets.token_urlsafe(16)
    response = stack_pb.request("POST", f"/api/collections/{other_name}/records",
                      json={"email": f"x{suffix}@example.com", "password": password, "passwordConfirm": password,
                            "openid": user["openid"]})
    assert response.status_code == 200, response.text
    response = stack_pb.request("POST", f"/api/collections/{other_name}/impersonate/{response.json()['id']}",
                      json={"duration": 600})
    other_collection = response.json()["token"]

    deleted_token, deleted_user = login_through(stack, f"atkdel{suffix}")
    assert stack_pb.request("DELETE", f"/api/collections/tbl_auth_users/records/{deleted_user['pb_id']}").status_code == 204

    time.sleep(1.5)  # the 1-second token expires
    yield {
        "forged-signature": f"Bearer {forged_sig}",
        "forged-claims": f"Bearer {forged_claims}",
        "expired": f"Bearer {expired}",
        "superuser": f"Bearer {superuser}",
        "superuser-bare": superuser,
        "other-auth-collection": f"Bearer {other_collection}",
        "deleted-user": f"Bearer {deleted_token}",
        "bearer-junk": "Bearer junk",
        "bearer-junk-jwt-shape": "Bearer aaa.bbb.ccc",
        "bearer-empty": "Bearer ",
    }
    stack_pb.request("DELETE", f"/api/collections/{other_name}")


TOKEN_CASES = ["forged-signature", "forged-claims", "expired", "superuser", "superuser-bare",
               "other-auth-collection", "deleted-user", "bearer-junk", "bearer-junk-jwt-shape", "bearer-empty"]


@pytest.mark.parametrize("case", TOKEN_CASES)
@pytest.mark.parametrize("path", ["wechat/profile", "system/refresh-token", "wechat/logout", "wechat/close-account"])
def test_bad_token_is_401(stack, bad_tokens, stack_pb, path, case):
    body = {"users_name": "pwned"} if path == "wechat/profile" else {}
    response = route(stack, path, raw_auth=bad_tokens[case], json=body)
    assert_envelope(response, 401)


def test_superuser_token_cannot_be_refreshed_into_user_token(stack, stack_pb):
    response = route(stack, "system/refresh-token", raw_auth=stack_pb.superuser_token, json={})
    assert response.status_code == 401 and "token" not in response.json()


@pytest.mark.parametrize("path", ["wechat/profile", "system/refresh-token"])
def test_huge_authorization_header_is_401_envelope(stack, path):
    response = route(stack, path, raw_auth="Bearer " + "a" * 10240, json={})
    assert_envelope(response, 401)


def test_authorization_header_just_over_token_limit_is_401(stack):
    # 5 kB: under nginx's header buffer, over the sidecar's MAX_TOKEN_LENGTH (4096).
    response = route(stack, "wechat/profile", raw_auth="Bearer " + "a.b." + "c" * 5000, json={})
    assert_envelope(response, 401)


# ------------------------------------------------------------------ mass assignment


def test_profile_mass_assignment_changes_nothing(stack, stack_pb, unique):
    token, user = login_through(stack, f"mass{unique}")
    before = stack_pb.user(user["pb_id"])
    attack = {
        "openid": "dev-openid-victim", "unionid": "u-evil", "users_type": "注册用户", "users_idtype": "ManagePlatform",
        "company_id": "WX-COMPANY-EVIL", "users_rank_level": 99, "users_auth_type": 9, "users_level": "S",
        "users_status": "ok", "users_id": "EVIL", "tokenKey": "x" * 40, "password": "Pwned-password-123",
        "passwordConfirm": "Pwned-password-123", "oldPassword": "x", "email": "evil@example.com",
        "verified": True, "id": "a" * 15, "users_parent_id": "p", "users_promo_code": "c", "usergroups_id": "g",
        "users_name": f"legit-{unique}",
    }
    response = route(stack, "wechat/profile", token, json=attack)
    body = assert_envelope(response, 200)
    assert body["data"]["user"]["users_name"] == f"legit-{unique}"
    after = stack_pb.user(user["pb_id"])
    for name in ("openid", "unionid", "users_type", "users_idtype", "company_id", "users_rank_level",
                 "users_auth_type", "users_level", "users_status", "users_id", "email", "verified",
                 "users_parent_id", "users_promo_code", "usergroups_id"):
        assert after.get(name) == before.get(name), name
    # tokenKey / password unchanged: the old token still works (either change would revoke it).
    again = route(stack, "wechat/profile", token, json={})
    assert_envelope(again, 200)
    assert again.json()["data"]["user"]["users_idtype"] == before["users_idtype"] == "WeChat"


# ------------------------------------------------------------------ broken object access via native API


def test_user_cannot_read_or_change_another_user(stack, stack_pb, unique):
    token_a, user_a = login_through(stack, f"bola{unique}a")
    token_b, user_b = login_through(stack, f"bola{unique}b")
    route(stack, "wechat/profile", token_b, json={"users_name": f"victim-{unique}"})
    path = f"collections/tbl_auth_users/records/{user_b['pb_id']}"
    assert native(stack, "GET", path, token_a).status_code == 404
    listed = native(stack, "GET", "collections/tbl_auth_users/records", token_a, params={"perPage": 500})
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["items"]] == [user_a["pb_id"]]
    for method, kwargs in (("PATCH", {"json": {"users_name": "pwned", "users_idtype": "ManagePlatform"}}),
                           ("DELETE", {})):
        assert native(stack, method, path, token_a, **kwargs).status_code in (403, 404)
    # Not even one's own record is writable natively (update rule null).
    own = native(stack, "PATCH", f"collections/tbl_auth_users/records/{user_a['pb_id']}", token_a,
                 json={"users_idtype": "ManagePlatform"})
    assert own.status_code in (403, 404)
    assert stack_pb.user(user_b["pb_id"])["users_name"] == f"victim-{unique}"
    assert stack_pb.user(user_a["pb_id"])["users_idtype"] == "WeChat"


def test_user_cannot_patch_or_delete_company(stack, stack_pb, unique):
    token, _ = login_through(stack, f"co{unique}")
    created = native(stack, "POST", "collections/tbl_company/records", json={"company_name": f"co-{unique}"})
    assert created.status_code == 200, created.text
    company = created.json()
    path = f"collections/tbl_company/records/{company['id']}"
    for auth in (token, None):
        assert native(stack, "PATCH", path, auth, json={"company_name": "pwned"}).status_code in (403, 404)
        assert native(stack, "DELETE", path, auth).status_code in (403, 404)
    stored = stack_pb.request("GET", f"/api/collections/tbl_company/records/{company['id']}")
    assert stored.status_code == 200 and stored.json()["company_name"] == f"co-{unique}"


@pytest.mark.parametrize("collection,body", [
    ("tbl_attachments", {"attachments_filename": "evil.jpg"}),
    ("tbl_document", {"document_title": "evil"}),
])
def test_user_cannot_create_attachments_or_documents(stack, stack_pb, unique, collection, body):
    token, _ = login_through(stack, f"cr{unique}")
    marker = f"evil-{unique}"
    key = next(iter(body))
    for auth in (token, None):
        response = native(stack, "POST", f"collections/{collection}/records", auth, json={key: marker})
        assert response.status_code in (400, 403), response.text
    rows = stack_pb.request("GET", f"/api/collections/{collection}/records", params={"filter": f'{key} = "{marker}"'})
    assert rows.json()["totalItems"] == 0


def test_attachments_cannot_be_enumerated(stack, stack_pb, unique):
    token, _ = login_through(stack, f"en{unique}")
    created = stack_pb.request("POST", "/api/collections/tbl_attachments/records", json={"attachments_filename": "a.jpg"})
    attachment_id = created.json()["attachments_id"]
    for auth in (token, None):
        for params in ({}, {"filter": 'attachments_id != ""'}, {"filter": 'attachments_id ~ "ATT"'},
                       {"filter": f'attachments_id = "{attachment_id}" || id != ""'}, {"perPage": 500}):
            response = native(stack, "GET", "collections/tbl_attachments/records", auth, params=params)
            if auth is None or "attachments_id" in params.get("filter", ""):
                # A guest lists nothing but the exact id; nobody filters on attachments_id in another form.
                assert response.status_code == 400, (params, response.text)
            else:
                # A user's list holds their own uploads only (docs/security.md): never this one.
                assert response.status_code == 200, (params, response.text)
                assert response.json()["items"] == [], (params, response.text)
        exact = native(stack, "GET", "collections/tbl_attachments/records", auth,
                       params={"filter": f'attachments_id="{attachment_id}"'})
        assert exact.status_code == 200 and [r["attachments_id"] for r in exact.json()["items"]] == [attachment_id]


# ------------------------------------------------------------------ resource use


@pytest.mark.parametrize("path", ["wechat/login", "wechat/profile", "system/refresh-token", "system/users-count",
                                  "wechat/logout", "wechat/close-account"])
def test_body_over_64k_is_413_envelope(stack, path):
    body = json.dumps({"users_wx_code": "x" * (65 * 1024)})
    response = route(stack, path, data=body, headers={"Content-Type": "application/json"})
    assert_envelope(response, 413)


def _post_from(host, port, source, path, body):
    conn = http.client.HTTPConnection(host, port, timeout=30, source_address=(source, 0))
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


def test_rate_limit_per_client_ip(make_stack, unique):
    limited = make_stack(RATE_LIMITS="20r/s,burst=40")  # ops/stack.py's DEFAULT_RATE_LIMITS
    url = urlsplit(limited.base_url)
    local = threading.local()

    def one(i):
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        local.conn.request("POST", "/pb/api/wechat/login", body=json.dumps({"users_wx_code": f"rl{unique}.{i}"}),
                           headers={"Content-Type": "application/json"})
        response = local.conn.getresponse()
        body = response.read()
        return response.status, response.getheader("Content-Type", ""), body

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(1000)))
    statuses = Counter(a[0] for a in answers)
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[429] >= 500 and statuses[200] >= 40, statuses
    for status, content_type, body in answers:
        if status == 429:
            assert content_type.startswith("application/json")
            assert json.loads(body)["code"] == 429
    # Another client IP is not affected by the first one's burst.
    status, _, body = _post_from(url.hostname, url.port, "127.0.0.2", "/pb/api/wechat/login",
                                 {"users_wx_code": f"rl{unique}.other"})
    assert status == 200, body


# ------------------------------------------------------------------ secrets


def test_no_secret_in_responses_or_logs(make_stack, monkeypatch, unique):
    superuser_password = "Known-stack_pb-pass-" + secrets.token_hex(8)
    session_key = "Known-session-key-" + secrets.token_hex(8)
    monkeypatch.setenv("WECHAT_STUB_SESSION_KEY", session_key)
    known = make_stack(PB_SUPERUSER_PASSWORD=superuser_password)
    secret_values = {"superuser password": superuser_password, "session_key": session_key,
                     "wechat app secret": DEV_SECRET}
    responses_seen = []

    def call(path, token=None, **kwargs):
        response = route(known, path, token, **kwargs)
        responses_seen.append(response)
        return response

    login_answer = call("wechat/login", json={"users_wx_code": f"sec{unique}"})
    assert login_answer.status_code == 200
    token = login_answer.json()["token"]
    assert call("wechat/profile", token, json={"users_phone_code": "phone-13312345678",
                                               "users_name": "s"}).status_code == 200
    refreshed = call("system/refresh-token", token, json={})
    assert refreshed.status_code == 200
    assert call("system/refresh-token", json={"users_wx_code": f"sec{unique}.2"}).status_code == 200
    assert call("system/users-count", json={}).status_code == 200
    # Failures too: they are the ones that tend to echo internals.
    call("wechat/login", json={"users_wx_code": "fail-40029"})
    call("wechat/login", json={"users_wx_code": "garbage"})
    last = call("wechat/profile", token, json={"users_phone_code": "http500"})
    # nginx writes its access log buffer out every second: until the last request's line is there.
    access_log, deadline = known.run_dir / "nginx-access.log", time.monotonic() + 30
    while f"rid={last.headers['X-Request-Id']}" not in (access_log.read_text() if access_log.exists() else ""):
        assert time.monotonic() < deadline, "the last request never reached nginx's access log"
        time.sleep(0.1)
    for response in responses_seen:
        blob = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        for label, value in secret_values.items():
            assert value not in blob, f"{label} in the response of {response.request.url}"
    logs = sorted(known.run_dir.glob("*.log")) + sorted(known.config.pb_data_dir.glob("**/*.log"))
    assert any(p.name == "pocketbase.log" for p in logs) and any(p.name == "sidecar.log" for p in logs)
    assert sum(p.stat().st_size for p in logs) > 0
    for path in logs:
        text = path.read_text(errors="replace")
        for label, value in secret_values.items():
            assert value not in text, f"{label} in {path.name}"
    # PocketBase's own request log (auxiliary db) must not hold them either.
    for db in known.config.pb_data_dir.glob("*.db"):
        data = db.read_bytes()
        for label, value in secret_values.items():
            if label == "superuser password":
                continue  # only its bcrypt hash is stored; checked below anyway by absence of plain text
            assert value.encode() not in data, f"{label} in {db.name}"
        assert superuser_password.encode() not in data, db.name


# ------------------------------------------------------------------ malformed headers (issue #31)


def raw_request(stack, method: str, path: str, header: bytes) -> tuple[int, dict, bytes]:
    """(status, headers with lower-case names, body) of one request holding header as written, through nginx."""
    import socket
    client = socket.create_connection(("127.0.0.1", stack.config.http_port), timeout=30)
    client.sendall(f"{method} {path} HTTP/1.1\r\nHost: test\r\n".encode() + header +
                   b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := client.recv(65536):
        data += chunk
    client.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    if headers.get("Transfer-Encoding") == "chunked":
        body = b"".join(body.split(b"\r\n")[1::2])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


BAD_HEADERS = [b"User-Agent: a\x01b", b"User-Agent: \x1b[31mred", b"Referer: https://x/\x7f", b"Cookie: a=\x02",
               b"Authorization: Bearer a\x03b", b"Accept: */*\x0b", b"Origin: https://a\x0cb", b"X-Foo: a\x00b",
               b"X-Foo: a\rb", b"X\x01Foo: a"]
OUR_ROUTES = [("POST", "/pb/api/wechat/login"), ("GET", "/pb/api/system/health"), ("POST", "/pb/api/wechat/push"),
              ("GET", "/pb/api/docs")]
POCKETBASE_PATHS = [("GET", "/pb/api/collections/tbl_company/records"), ("GET", "/pb/api/health"),
                    ("GET", "/pb/api/files/x/y/z.png")]


@pytest.mark.parametrize("header", BAD_HEADERS)
@pytest.mark.parametrize("method, path", OUR_ROUTES)
def test_a_control_byte_in_a_header_gets_our_envelope_on_our_routes(stack, method, path, header):
    status, headers, body = raw_request(stack, method, path, header)
    assert status == 400 and headers["content-type"].startswith("application/json"), (status, headers, body)
    assert json.loads(body) == {"code": 400, "msg": "请求参数错误", "data": {}}


@pytest.mark.parametrize("header", [b"X-Anything: a\x01b", b"X-Anything: a\x1fb", b"X-Custom-Id: \x1b[31m"])
@pytest.mark.parametrize("method, path", OUR_ROUTES)
def test_a_header_the_sidecar_does_not_read_never_reaches_gunicorn(stack, method, path, header):
    """nginx passes the sidecar only the headers it reads (and checks those): gunicorn, which would answer a
    control byte with its own HTML page, never sees another. The route answers as without the header."""
    status, headers, body = raw_request(stack, method, path, header)
    plain_status, plain_headers, _ = raw_request(stack, method, path, b"X-Anything: plain")
    assert (status, headers["content-type"]) == (plain_status, plain_headers["content-type"]), (status, body)
    assert b"Invalid HTTP Header" not in body and b"Bad Request</title>" not in body


@pytest.mark.parametrize("header", BAD_HEADERS)
@pytest.mark.parametrize("method, path", POCKETBASE_PATHS)
def test_a_control_byte_in_a_header_gets_pocketbases_shape_on_its_paths(stack, method, path, header):
    status, headers, body = raw_request(stack, method, path, header)
    assert status == 400 and headers["content-type"].startswith("application/json"), (status, headers, body)
    answer = json.loads(body)
    assert answer["status"] == 400 and answer["message"] and answer["data"] == {}


def test_a_tab_in_a_header_is_no_control_byte(stack):
    status, _, body = raw_request(stack, "GET", "/pb/api/collections/tbl_company/records", b"User-Agent: a\tb")
    assert status == 200, body


# ------------------------------------------------------------------ files never act (issue #31)


def served(stack, stack_pb, attachment_id: str) -> requests.Response:
    record = stack_pb.request("GET", "/api/collections/tbl_attachments/records",
                              params={"filter": f'attachments_id="{attachment_id}"'}).json()["items"][0]
    url = f"{stack.base_url}/pb/api/files/{record['collectionId']}/{record['id']}/{record['attachments_link']}"
    return requests.get(url, timeout=30)


def test_every_pdf_is_a_download_and_every_file_its_sniffed_type_with_nosniff(stack, stack_pb, unique):
    from tests.test_uploads import pdf_file, picture
    token, _ = login_through(stack, f"files-{unique}")
    for name, data, disposition in (("a.pdf", pdf_file(), "attachment"), ("b.png", picture("PNG"), "inline"),
                                    ("c.jpg", picture("JPEG"), "inline")):
        answer = assert_envelope(route(stack, "wechat/upload", token, files={"file": (name, data)}), 200)
        attachment = answer["data"]["attachment"]
        response = served(stack, stack_pb, attachment["attachments_id"])
        assert response.status_code == 200
        assert response.headers["Content-Type"] == attachment["attachments_filetype"]
        assert response.headers["Content-Disposition"].startswith(disposition), response.headers
        assert response.raw.headers.getlist("X-Content-Type-Options") == ["nosniff"]


def test_a_pdf_under_a_picture_name_is_still_a_download(stack, stack_pb):
    from tests.test_uploads import pdf_file
    created = stack_pb.request("POST", "/api/collections/tbl_attachments/records", data={"attachments_status": ""},
                               files={"attachments_link": ("looks.png", pdf_file(), "image/png")}).json()
    url = f"{stack.base_url}/pb/api/files/{created['collectionId']}/{created['id']}/{created['attachments_link']}"
    response = requests.get(url, timeout=30)
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == "attachment"


def test_an_active_pdf_upload_is_refused_through_the_stack(stack, stack_pb, unique):
    from tests.test_pdfs import ACTIVE
    token, _ = login_through(stack, f"activepdf-{unique}")
    def stored() -> int:
        return stack_pb.request("GET", "/api/collections/tbl_attachments/records",
                                params={"perPage": 1}).json()["totalItems"]
    before = stored()
    for case in ACTIVE:
        body = assert_envelope(route(stack, "wechat/upload", token, files={"file": ("doc.pdf", case.values[0])}), 400)
        assert body["data"] == {"field": "file"}, case.id
    assert stored() == before
