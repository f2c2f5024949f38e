"""POST /pb/api/wechat/share-code (sidecar/share.py, pb_hooks/lib/share_codes.js) through the whole stack, with the
dev stub's getwxacodeunlimit: stored once per user, page and width, served publicly, WeChat's errors as
envelopes with nothing stored, concurrency, a restart, and S3."""
from __future__ import annotations

import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from ops.stack import Stack
from sidecar.domain import SHARE_CODE_MAX
from sidecar.share import CLAIM_WAIT_SECONDS
from tests.helpers import PB, assert_envelope, login_through, route
from tests.stack_fixtures import start_stack, stop_and_check
from tests.test_storage import MotoS3

UNLIMITED = "/wxa/getwxacodeunlimit"
PAGES = ("pages/index/index,pages/shop/detail,pages/slow-1.5/index,pages/fail-41030/index,"
         "pages/fail-45009/index,pages/fail-40001/index,pages/fail-40097/index,pages/unpublished/index")


def wechat_calls(stack) -> int:
    """How many times the stack's WeChat (the dev stub) was asked for a mini-program code."""
    return requests.get(stack.stub_url + "/__stub/stats", timeout=10).json()["calls"][UNLIMITED]


def share(stack, token: str, **body) -> requests.Response:
    return route(stack, "wechat/share-code", token=token, json=body)


def stored_codes(pb: PB, user_pb_id: str) -> list[dict]:
    response = pb.request("GET", "/api/collections/tbl_share_codes/records",
                          params={"filter": f'share_user = "{user_pb_id}"', "perPage": 100})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def file_origin(stack) -> str:
    """Where a file URL answered to these tests starts: PUBLIC_BASE_URL, or in dev mode without it (the test
    stacks) the host the request came by, which is the stack's own base URL (sidecar/fileurls.py)."""
    return stack.base_url if stack.config.file_urls_from_host else stack.config.public_base_url


def local(stack, url: str) -> str:
    """url (under file_origin) as this machine reaches the stack's nginx."""
    assert url.startswith(file_origin(stack) + "/"), url
    return stack.base_url + url[len(file_origin(stack)):]


def fetched_image(url: str) -> tuple[Image.Image, requests.Response]:
    """The image at url, fetched without any token (it is public by design)."""
    served = requests.get(url, timeout=15)
    assert served.status_code == 200, served.text[:200]
    return Image.open(io.BytesIO(served.content)), served


@pytest.fixture(scope="module")
def share_stack(tmp_path_factory):
    """A stack whose SHARE_PAGES hold the dev stub's error and slow pages (ops/wechat_stub)."""
    started = start_stack(tmp_path_factory.mktemp("share"), SHARE_PAGES=PAGES)
    yield started
    stop_and_check(started)


def test_the_code_is_made_once_and_served_to_anyone(stack, stack_pb, unique):
    token, user = login_through(stack, f"share{unique}")
    before = wechat_calls(stack)
    data = assert_envelope(share(stack, token), 200)["data"]
    assert data["promo_code"] == data["scene"] == user["users_promo_code"]
    assert data["page"] == "pages/index/index" and data["width"] == 430
    assert data["url"].startswith(file_origin(stack) + "/pb/api/files/")
    # The URL names the collection, the record and a random file name: no openid, no user id, no code.
    for secret in (user["openid"], user["users_id"], user["pb_id"], user["users_promo_code"]):
        assert secret not in data["url"]
    image, served = fetched_image(local(stack, data["url"]))
    assert image.format == "JPEG" and image.size == (430, 430)
    assert served.headers["Content-Type"] == "image/jpeg"
    # Asked again: the stored code, WeChat not asked again; another width is another code.
    assert assert_envelope(share(stack, token, page="pages/index/index"), 200)["data"] == data
    wider = assert_envelope(share(stack, token, width=1280), 200)["data"]
    assert wider["url"] != data["url"] and fetched_image(local(stack, wider["url"]))[0].size == (1280, 1280)
    assert wechat_calls(stack) == before + 2
    assert len(stored_codes(stack_pb, user["pb_id"])) == 2
    # The records themselves (whose code it is) are no one's to list but superusers'.
    listed = requests.get(stack.base_url + "/pb/api/collections/tbl_share_codes/records", timeout=10,
                          headers={"Authorization": token})
    assert listed.status_code == 403, listed.text


def test_dev_mode_share_code_urls_follow_the_host_the_request_came_by(stack, unique):
    """As an upload's URL (tests/test_uploads_e2e.py): a phone on the LAN reaches nginx as 192.168.1.20 and gets a
    code it can open; the test stack sets no PUBLIC_BASE_URL, so its file URLs follow the Host."""
    assert stack.config.file_urls_from_host
    token, _ = login_through(stack, f"lanshare{unique}")
    port = stack.config.http_port
    response = route(stack, "wechat/share-code", token=token, json={}, headers={"Host": f"192.168.1.20:{port}"})
    url = assert_envelope(response, 200)["data"]["url"]
    assert url.startswith(f"http://192.168.1.20:{port}/pb/api/files/"), url
    assert requests.get(stack.base_url + url[len(f"http://192.168.1.20:{port}"):], timeout=10).status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"page": "pages/other/index"}, "page"), ({"page": "/pages/index/index"}, "page"), ({"page": 5}, "page"),
    ({"width": 279}, "width"), ({"width": 1281}, "width"), ({"width": "430"}, "width"), ({"width": 430.5}, "width"),
    ({"width": True}, "width"),
])
def test_bad_pages_and_widths_are_refused(stack, unique, body, field):
    token, _ = login_through(stack, f"badshare{unique}")
    before = wechat_calls(stack)
    answer = assert_envelope(share(stack, token, **body), 400)
    assert answer["data"]["field"] == field and wechat_calls(stack) == before


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_widths_json_reads_as_odd_numbers_are_refused(stack, unique, raw):
    token, _ = login_through(stack, f"oddwidth{unique}")
    response = route(stack, "wechat/share-code", token=token, data=f'{{"width": {raw}}}',
                     headers={"Content-Type": "application/json"})
    assert assert_envelope(response, 400)["data"]["field"] == "width"


def test_a_token_is_needed_and_a_banned_user_gets_none(stack, stack_pb, unique):
    assert_envelope(share(stack, ""), 401)
    token, user = login_through(stack, f"bannedshare{unique}")
    banned = stack_pb.request("PATCH", f"/api/collections/tbl_auth_users/records/{user['pb_id']}",
                              json={"users_status": "禁用"})
    assert banned.status_code == 200
    assert_envelope(share(stack, token), 401)  # the ban renewed the tokenKey
    assert stored_codes(stack_pb, user["pb_id"]) == []


@pytest.mark.parametrize("page, status", [
    ("pages/fail-41030/index", 400), ("pages/unpublished/index", 400), ("pages/fail-45009/index", 429),
    ("pages/fail-40001/index", 502), ("pages/fail-40097/index", 502),
])
def test_wechat_errors_are_envelopes_and_store_nothing(share_stack, unique, page, status):
    token, user = login_through(share_stack, f"err{unique}")
    assert_envelope(share(share_stack, token, page=page), status)
    assert stored_codes(PB(share_stack.pb), user["pb_id"]) == []
    # The claim was released: the next ask goes to WeChat again (and fails again), never waits.
    before = wechat_calls(share_stack)
    assert_envelope(share(share_stack, token, page=page), status)
    assert wechat_calls(share_stack) == before + (2 if page.endswith("40001/index") else 1)


def test_concurrent_asks_call_wechat_once_and_store_one(share_stack, unique):
    token, user = login_through(share_stack, f"race{unique}")
    before = wechat_calls(share_stack)
    barrier = threading.Barrier(8)

    def one(_):
        barrier.wait()
        return share(share_stack, token, page="pages/slow-1.5/index")

    with ThreadPoolExecutor(8) as pool:
        answers = [assert_envelope(a, 200)["data"] for a in pool.map(one, range(8))]
    assert len({a["url"] for a in answers}) == 1
    assert wechat_calls(share_stack) == before + 1
    assert len(stored_codes(PB(share_stack.pb), user["pb_id"])) == 1


def test_a_user_holds_at_most_share_code_max_codes(stack, stack_pb, unique):
    token, user = login_through(stack, f"bound{unique}")
    held = [assert_envelope(share(stack, token, width=280 + i), 200)["data"] for i in range(SHARE_CODE_MAX)]
    before = wechat_calls(stack)
    # Another width, another page: refused, nothing stored, WeChat not asked.
    for body in ({"width": 1280}, {}):
        refused = assert_envelope(share(stack, token, **body), 429)
        assert refused["msg"] == "分享码数量已达上限" and refused["data"] == {}
    assert wechat_calls(stack) == before
    assert len(stored_codes(stack_pb, user["pb_id"])) == SHARE_CODE_MAX
    # A code the user holds is served past the bound, from storage.
    assert assert_envelope(share(stack, token, width=280), 200)["data"] == held[0]
    assert fetched_image(local(stack, held[-1]["url"]))[0].size == (280 + SHARE_CODE_MAX - 1,) * 2
    assert wechat_calls(stack) == before
    # Once an operator deletes one, a new one may be made.
    deleted = stack_pb.request("DELETE", f"/api/collections/tbl_share_codes/records/"
                                         f"{stored_codes(stack_pb, user['pb_id'])[0]['id']}")
    assert deleted.status_code == 204, deleted.text
    assert assert_envelope(share(stack, token, width=1280), 200)["data"]["width"] == 1280
    assert wechat_calls(stack) == before + 1


def test_concurrent_asks_never_pass_the_bound(share_stack, unique):
    token, user = login_through(share_stack, f"boundrace{unique}")
    before = wechat_calls(share_stack)
    asks = SHARE_CODE_MAX + 6  # all different codes, all at once
    barrier = threading.Barrier(asks)

    def one(width):
        barrier.wait()
        return share(share_stack, token, page="pages/shop/detail", width=width)

    with ThreadPoolExecutor(asks) as pool:
        answers = list(pool.map(one, range(300, 300 + asks)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * SHARE_CODE_MAX + [429] * (asks - SHARE_CODE_MAX), statuses
    for answer in answers:
        assert_envelope(answer, answer.status_code)
    assert len(stored_codes(PB(share_stack.pb), user["pb_id"])) == SHARE_CODE_MAX
    assert wechat_calls(share_stack) == before + SHARE_CODE_MAX


def test_the_code_goes_with_a_closed_account(share_stack, unique):
    token, user = login_through(share_stack, f"closing{unique}")
    url = assert_envelope(share(share_stack, token, page="pages/shop/detail"), 200)["data"]["url"]
    assert requests.get(local(share_stack, url), timeout=10).status_code == 200
    assert_envelope(route(share_stack, "wechat/close-account", token=token, json={}), 200)
    assert stored_codes(PB(share_stack.pb), user["pb_id"]) == []
    assert requests.get(local(share_stack, url), timeout=10).status_code == 404


def restarted(stack: Stack) -> Stack:
    """The same stack (settings, data dir) stopped and started again."""
    stop_and_check(stack)
    return Stack(stack.config).start()


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["local", "s3"])
def test_the_stored_code_is_served_after_a_restart(tmp_path_factory, unique, storage):
    s3 = MotoS3(tmp_path_factory.mktemp("moto")) if storage == "s3" else None
    stack = start_stack(tmp_path_factory.mktemp("restart"), **(s3.settings() if s3 else {}))
    try:
        token, _ = login_through(stack, f"restart{unique}")
        data = assert_envelope(share(stack, token), 200)["data"]
        path = local(stack, data["url"])[len(stack.base_url):]
        first = requests.get(stack.base_url + path, timeout=10).content
        if s3:
            assert any(key.endswith(path.rsplit("/", 1)[1]) for key in s3.keys()), "the image is not in S3"
        stack = restarted(stack)
        assert wechat_calls(stack) == 0  # a new stub: nothing asked of it yet
        assert assert_envelope(share(stack, token), 200)["data"] == data
        assert wechat_calls(stack) == 0
        served = requests.get(stack.base_url + path, timeout=10)
        assert served.status_code == 200 and served.content == first
    finally:
        stop_and_check(stack)
        if s3:
            s3.process.stop()


def test_a_waiter_gives_up_before_nginx_does():
    """A request waiting on another's claim answers (or takes the claim over) before nginx's read timeout on
    our routes would answer 504 for it."""
    template = (Path(__file__).resolve().parent.parent / "deploy" / "nginx-api-server.conf.template").read_text()
    block = template.split("location ~ ^/pb/api/(wechat/|system/", 1)[1].split("\n}", 1)[0]
    timeout = float(re.search(r"proxy_read_timeout (\d+)s;", block).group(1))
    assert CLAIM_WAIT_SECONDS < timeout
