"""POST /pb/api/wechat/upload through nginx on the whole stack (real processes, two gunicorn workers): the
files table, the refusals (each an envelope with CORS, storing nothing), ownership in the profile route,
close-account deleting the user's files, UPLOAD_RATE across workers, and nothing reaching guests by realtime."""
from __future__ import annotations

import hashlib
import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from ops.settings import BY_NAME
from sidecar.uploads import JPEG, PDF, PNG, WEBP
from tests.helpers import PB, RealtimeListener, assert_envelope, login_through, route
from tests.test_storage import MotoS3
from tests.test_uploads import BAD, GOOD, PHOTO, picture

ORIGIN = "https://h5.example.com"
KINDS = {"jpg": ("jpeg photo with GPS", JPEG), "png": ("png with text and exif", PNG),
         "webp": ("webp lossy with exif", WEBP), "pdf": ("pdf", PDF)}
DECLARED = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "pdf": "application/pdf"}
UPLOAD_MAX_BYTES = int(BY_NAME["UPLOAD_MAX_BYTES"].default)


def upload(stack, token: str, files, **kwargs) -> requests.Response:
    return route(stack, "wechat/upload", token, files=files, headers={"Origin": ORIGIN}, **kwargs)


def owned(stack_pb: PB, openid: str) -> int:
    return stack_pb.total("tbl_attachments", f'attachments_owner="{openid}"')


def served(stack, url: str) -> requests.Response:
    return requests.get(stack.base_url + url[url.index("/pb/api/files/"):], timeout=15)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_recognised_whatever_its_name_and_declared_type(stack, unique, kind):
    token, user = login_through(stack, f"kinds-{kind}-{unique}")
    name, mime = KINDS[kind]
    data = GOOD[name][0]
    for other in (ext for ext in KINDS if ext != kind):
        response = upload(stack, token, {"file": (f"scan.{other}", data, DECLARED[other])})
        body = assert_envelope(response, 200)
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        attachment = body["data"]["attachment"]
        assert attachment["attachments_filetype"] == mime and attachment["attachments_filename"] == f"scan.{kind}"
        assert attachment["attachments_owner"] == user["openid"]
        file = served(stack, attachment["url"])
        assert file.status_code == 200 and len(file.content) == attachment["attachments_size"]
        assert hashlib.md5(file.content).hexdigest() == attachment["attachments_md5"]
        if mime == PDF:
            assert file.content == data
        else:
            with Image.open(io.BytesIO(file.content)) as stored:
                assert stored.format == kind.replace("jpg", "jpeg").upper() and not stored.getexif()
                assert not {"exif", "xmp", "comment"} & set(stored.info)


def test_a_phone_photo_is_stored_without_exif_and_displays_as_shot(stack, unique):
    token, user = login_through(stack, f"photo-{unique}")
    attachment = upload(stack, token, {"file": ("tmp_photo.jpg", PHOTO, "image/jpeg")}).json()["data"]["attachment"]
    stored = served(stack, attachment["url"]).content
    assert b"Exif" not in stored and b"iPhone" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (960, 1280) and not image.getexif()  # the sensor's 1280 x 960, turned (Orientation 6)
        assert image.getpixel((image.width - 20, 20))[0] > 200  # the red mark shows top right, as displayed
    # The id goes into the profile: the picture's URL is the one the upload answered.
    info = route(stack, "wechat/profile", token, json={"users_picture": attachment["attachments_id"]}).json()
    assert info["data"]["user"]["users_picture_url"] == attachment["url"]


def refusal(case: str, token: str):
    """(path, token, requests kwargs, expected status) of one refused request."""
    files = {
        "empty part": {"file": ("a.jpg", b"", "image/jpeg")},
        "no file part": {"photo": ("a.jpg", PHOTO, "image/jpeg")},
        "two files": [("file", ("a.jpg", PHOTO, "image/jpeg")), ("file", ("b.jpg", PHOTO, "image/jpeg"))],
        "svg": {"file": ("a.jpg", BAD["svg"], "image/jpeg")},
        "html": {"file": ("a.png", BAD["html"], "image/png")},
        "elf": {"file": ("a.pdf", BAD["elf"], "application/pdf")},
        "truncated jpeg": {"file": ("a.jpg", BAD["truncated jpeg"], "image/jpeg")},
        "decompression bomb": {"file": ("a.png", BAD["png decompression bomb"], "image/png")},
        "one byte over the limit": {"file": ("a.jpg", PHOTO + bytes(UPLOAD_MAX_BYTES + 1 - len(PHOTO)), "image/jpeg")},
        "body over nginx's limit": {"file": ("a.jpg", bytes(UPLOAD_MAX_BYTES + 200 * 1024), "image/jpeg")},
    }
    if case == "no token":
        return "wechat/upload", "", {"files": {"file": ("a.jpg", PHOTO, "image/jpeg")}}, 401
    if case == "forged token":
        return "wechat/upload", token[:-4] + "AAAA", {"files": {"file": ("a.jpg", PHOTO, "image/jpeg")}}, 401
    if case == "64 KiB+ file on another route":
        return "wechat/profile", token, {"files": {"file": ("a.png", picture("PNG") + bytes(70_000), "image/png")}}, 413
    status = 413 if "limit" in case else 400
    return "wechat/upload", token, {"files": files[case]}, status


@pytest.mark.parametrize("case", [
    "no token", "forged token", "empty part", "no file part", "two files", "svg", "html", "elf", "truncated jpeg",
    "decompression bomb", "one byte over the limit", "body over nginx's limit", "64 KiB+ file on another route",
])
def test_refusals_are_envelopes_with_cors_and_store_nothing(stack, stack_pb, unique, case):
    token, user = login_through(stack, f"refused-{unique}")
    path, bearer, kwargs, status = refusal(case, token)
    response = route(stack, path, bearer, headers={"Origin": ORIGIN}, **kwargs)
    body = assert_envelope(response, status)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    if status == 400 or case == "one byte over the limit":
        assert body["data"] == {"field": "file"}
    assert owned(stack_pb, user["openid"]) == 0


def test_another_users_attachment_answers_as_a_missing_one(stack, stack_pb, unique):
    token_a, _ = login_through(stack, f"owner-a-{unique}")
    token_b, user_b = login_through(stack, f"owner-b-{unique}")
    mine = upload(stack, token_a, {"file": ("id.jpg", PHOTO, "image/jpeg")}).json()["data"]["attachment"]
    for field in ("users_picture", "users_id_pic_a", "users_id_pic_b", "users_title_picture"):
        claimed = route(stack, "wechat/profile", token_b, json={field: mine["attachments_id"]})
        missing = route(stack, "wechat/profile", token_b, json={field: "ATT-0-missing"})
        assert claimed.status_code == missing.status_code == 400
        assert claimed.json() == missing.json() == {"code": 400, "msg": f"附件不存在: {field}", "data": {"field": field}}
    assert stack_pb.user(user_b["pb_id"])["users_picture"] == ""


def eventually(check, seconds: float = 10) -> bool:
    """Whether check() comes true within seconds: PocketBase deletes a deleted record's files right after
    the commit, in the background (its FileManager hook), so the close-account answer may come first."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stored_file(stack, url: str) -> Path:
    """Where PocketBase keeps the file of that URL on local disk: storage/<collection>/<record>/<name>."""
    return stack.config.pb_data_dir / "storage" / Path(*url.split("/pb/api/files/", 1)[1].split("/"))


def test_close_account_deletes_the_users_files_and_no_one_elses(stack, stack_pb, unique):
    token_a, user_a = login_through(stack, f"closer-{unique}")
    token_b, user_b = login_through(stack, f"stayer-{unique}")
    files_a = [upload(stack, token_a, {"file": (f"{n}.jpg", data, "image/jpeg")}).json()["data"]["attachment"]["url"]
               for n, data in (("a", PHOTO), ("b", GOOD["pdf"][0]))]
    file_b = upload(stack, token_b, {"file": ("b.jpg", PHOTO, "image/jpeg")}).json()["data"]["attachment"]["url"]
    assert all(served(stack, url).status_code == 200 and stored_file(stack, url).is_file() for url in files_a)
    assert_envelope(route(stack, "wechat/close-account", token_a), 200)
    assert [served(stack, url).status_code for url in files_a] == [404, 404]
    assert owned(stack_pb, user_a["openid"]) == 0
    assert eventually(lambda: not any(stored_file(stack, url).exists() for url in files_a))
    assert served(stack, file_b).status_code == 200 and stored_file(stack, file_b).is_file()
    assert owned(stack_pb, user_b["openid"]) == 1


@pytest.mark.slow
def test_close_account_deletes_the_users_files_in_s3_too(make_stack, tmp_path):
    s3 = MotoS3(tmp_path)
    try:
        stack = make_stack(**s3.settings())
        token_a, _ = login_through(stack, "s3-closer")
        token_b, _ = login_through(stack, "s3-stayer")
        link_a, link_b = (upload(stack, token, {"file": ("a.jpg", PHOTO, "image/jpeg")}).json()["data"]["attachment"]
                          ["url"].rsplit("/", 1)[1] for token in (token_a, token_b))
        assert [any(key.endswith(link) for key in s3.keys()) for link in (link_a, link_b)] == [True, True]
        assert_envelope(route(stack, "wechat/close-account", token_a), 200)
        assert eventually(lambda: [any(key.endswith(link) for key in s3.keys()) for link in (link_a, link_b)]
                          == [False, True])
    finally:
        s3.process.stop()


def test_the_upload_rate_is_one_figure_across_workers(stack, stack_pb, unique):
    # 34 uploads at once from 8 threads, spread over the stack's two gunicorn workers: exactly
    # UPLOAD_RATE are stored, the rest answer 429 and store nothing.
    rate = int(BY_NAME["UPLOAD_RATE"].default)
    assert stack.config.sidecar_workers == 2 and stack.config.upload_rate == str(rate)
    token, user = login_through(stack, f"rate-{unique}")
    small = picture("PNG", size=(8, 8))
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: upload(stack, token, {"file": ("s.png", small, "image/png")}).status_code,
                                 range(rate + 4)))
    assert sorted(statuses) == [200] * rate + [429] * 4
    assert owned(stack_pb, user["openid"]) == rate
    late = upload(stack, token, {"file": ("s.png", small, "image/png")})
    assert assert_envelope(late, 429)["msg"] == "上传过于频繁,请稍后再试"
    assert late.headers["Access-Control-Allow-Origin"] == "*" and owned(stack_pb, user["openid"]) == rate


def test_the_stacks_upload_settings_reach_the_sidecar_and_pocketbase(make_stack):
    small = picture("PNG", size=(8, 8))
    stack = make_stack(UPLOAD_RATE="2", UPLOAD_MAX_BYTES=str(len(PHOTO) - 1))
    token, _ = login_through(stack, "settings")
    too_big = upload(stack, token, {"file": ("a.jpg", PHOTO, "image/jpeg")})
    assert assert_envelope(too_big, 413)["data"] == {"field": "file"}
    statuses = [upload(stack, token, {"file": ("s.png", small, "image/png")}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_nothing_new_reaches_guests_over_realtime(stack, unique):
    token, _ = login_through(stack, f"quiet-{unique}")
    listener = RealtimeListener(stack.base_url, "", "tbl_attachments/*")
    try:
        assert_envelope(upload(stack, token, {"file": ("a.jpg", PHOTO, "image/jpeg")}), 200)
        assert listener.next_data() is None
    finally:
        listener.close()


def test_dev_mode_file_urls_follow_the_host_the_request_came_by(stack, unique):
    """A phone on the LAN reaches nginx as 192.168.1.20: the upload's URL and UserInfo's name that host, on
    nginx's port; a Host that is no host name falls back to PUBLIC_BASE_URL (the test stack sets none)."""
    assert stack.config.file_urls_from_host
    token, _ = login_through(stack, f"lan-{unique}")
    port = stack.config.http_port
    response = route(stack, "wechat/upload", token, files={"file": ("a.png", GOOD["png with text and exif"][0])},
                     headers={"Host": f"192.168.1.20:{port}"})
    attachment = assert_envelope(response, 200)["data"]["attachment"]
    assert attachment["url"].startswith(f"http://192.168.1.20:{port}/pb/api/files/"), attachment["url"]
    assert served(stack, attachment["url"]).status_code == 200
    for host, origin in (("10.1.2.3", f"http://10.1.2.3:{port}"), ("a_b.example", stack.config.public_base_url)):
        info = route(stack, "wechat/profile", token, json={"users_picture": attachment["attachments_id"]},
                     headers={"Host": host})
        picture_url = assert_envelope(info, 200)["data"]["user"]["users_picture_url"]
        assert picture_url.startswith(origin + "/pb/api/files/"), (host, picture_url)
