"""pb_hooks/uploads.pb.js and lib/uploads.js, called directly: who may call the upload route, its refusals,
its default bound (ops/settings.py's, through the generated lib/settings.js), and what close-account deletes (nothing that is nobody's)."""
from __future__ import annotations

import pytest

from ops.settings import BY_NAME
from tests.helpers import PB

UPLOAD = "/api/internal/upload"
PNG = b"\x89PNG\r\n\x1a\n-clean-copy"


def fields(token: str) -> dict:
    return {"token": token, "filename": "a.png", "filetype": "image/png", "size": str(len(PNG)), "md5": "0" * 32,
            "status": "有效"}


def user_with_token(pb: PB, openid: str) -> tuple[dict, str]:
    user = pb.create_user(openid=openid)
    return user, pb.user_token(user["id"])


def test_only_superusers_may_call_it(pb, unique):
    _, token = user_with_token(pb, f"caller-{unique}")
    files = {"file": ("a.png", PNG, "image/png")}
    assert pb.request("POST", UPLOAD, token="", data=fields(token), files=files).status_code == 401
    assert pb.request("POST", UPLOAD, token=token, data=fields(token), files=files).status_code == 403
    assert pb.total("tbl_attachments", f'attachments_owner="caller-{unique}"') == 0


def test_it_stores_the_file_for_the_tokens_user(pb, unique):
    _, token = user_with_token(pb, f"stored-{unique}")
    response = pb.request("POST", UPLOAD, data=fields(token), files={"file": ("upload.png", PNG, "image/png")})
    assert response.status_code == 200, response.text
    record = response.json()["attachment"]
    assert record["attachments_owner"] == f"stored-{unique}" and record["attachments_size"] == len(PNG)
    assert record["attachments_id"].startswith("ATT-") and record["attachments_status"] == "有效"


@pytest.mark.parametrize("case, status, reason", [
    ("forged token", 401, "token_invalid"),
    ("user without openid", 401, "no_openid"),
    ("no file", 400, "file_missing"),
    ("two files", 400, "file_missing"),
])
def test_refusals_store_nothing(pb, unique, case, status, reason):
    _, token = user_with_token(pb, "" if case == "user without openid" else f"refused-{unique}")
    if case == "forged token":
        token = token[:-4] + "AAAA"
    files = {"no file": None, "two files": [("file", ("a.png", PNG, "image/png"))] * 2}.get(
        case, {"file": ("a.png", PNG, "image/png")})
    before = pb.total("tbl_attachments")
    response = pb.request("POST", UPLOAD, data=fields(token), files=files)
    assert (response.status_code, response.json()["reason"]) == (status, reason)
    assert pb.total("tbl_attachments") == before


def test_closing_an_account_without_openid_deletes_nobodys_attachments(pb, unique):
    nobodys = pb.request("POST", "/api/collections/tbl_attachments/records", data={"attachments_remark": unique},
                         files={"attachments_link": ("n.png", PNG, "image/png")}).json()
    _, token = user_with_token(pb, "")
    assert pb.request("POST", "/api/internal/close-account", json={"token": token}).status_code == 200
    assert pb.request("GET", f"/api/collections/tbl_attachments/records/{nobodys['id']}").status_code == 200


CHECK = "/api/internal/upload-check"


def test_the_check_is_for_superusers_and_writes_nothing(pb, unique):
    _, token = user_with_token(pb, f"checked-{unique}")
    assert pb.request("POST", CHECK, token="", json={"token": token}).status_code == 401
    assert pb.request("POST", CHECK, token=token, json={"token": token}).status_code == 403
    response = pb.request("POST", CHECK, json={"token": token})
    assert (response.status_code, response.json()) == (200, {"result": "ok"})
    assert pb.total("tbl_attachments", f'attachments_owner="checked-{unique}"') == 0


@pytest.mark.parametrize("case, status, reason", [
    ("forged token", 401, "token_invalid"),
    ("user without openid", 401, "no_openid"),
    ("banned user", 403, "user_banned"),
    ("over the rate", 429, "upload_rate"),
])
def test_the_check_refuses_as_the_upload_does(pb, unique, case, status, reason):
    openid = "" if case == "user without openid" else f"check-{unique}"
    user, token = user_with_token(pb, openid)
    if case == "forged token":
        token = token[:-4] + "AAAA"
    elif case == "banned user":
        assert pb.request("PATCH", f"/api/collections/tbl_auth_users/records/{user['id']}",
                          json={"users_status": "禁用"}).status_code == 200
        token = pb.user_token(user["id"])  # the ban renewed the tokenKey: a token minted after it
    elif case == "over the rate":
        for _ in range(int(BY_NAME["UPLOAD_RATE"].default)):
            assert pb.request("POST", "/api/collections/tbl_attachments/records",
                              json={"attachments_owner": openid}).status_code == 200
    before = pb.total("tbl_attachments")
    response = pb.request("POST", CHECK, json={"token": token})
    assert (response.status_code, response.json()["reason"]) == (status, reason)
    answer = pb.request("POST", UPLOAD, data=fields(token), files={"file": ("a.png", PNG, "image/png")})
    assert (answer.status_code, answer.json()["reason"]) == (status, reason)
    assert pb.total("tbl_attachments") == before
