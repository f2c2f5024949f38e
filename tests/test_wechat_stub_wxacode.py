"""The dev stub's getwxacodeunlimit (ops/wechat_stub/wxacode.py): a real QR code of the scene, JPEG or PNG, and its
documented error triggers."""
from __future__ import annotations

import io

import pytest
import requests
import segno
from PIL import Image

from ops.wechat_stub import WeChatStub
from ops.wechat_stub.wxacode import qr_image

APPID, SECRET = "wx-test-appid", "wx-test-secret-123"


@pytest.fixture()
def stub():
    stub = WeChatStub(appid=APPID, secret=SECRET).start()
    yield stub
    stub.stop()


def unlimited(stub: WeChatStub, access_token: str | None = None, **body) -> requests.Response:
    if access_token is None:
        access_token = requests.post(stub.url + "/cgi-bin/stable_token", timeout=10, json={
            "grant_type": "client_credential", "appid": APPID, "secret": SECRET}).json()["access_token"]
    return requests.post(stub.url + "/wxa/getwxacodeunlimit", params={"access_token": access_token},
                         json={"scene": "AB23CD45", "page": "pages/index/index", **body}, timeout=10)


@pytest.mark.parametrize("hyaline, kind, mode", [(False, "JPEG", "RGB"), (True, "PNG", "LA")])
def test_the_answer_is_the_scenes_qr_code(stub, hyaline, kind, mode):
    answer = unlimited(stub, width=300, is_hyaline=hyaline)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == f"image/{kind.lower()}"
    image = Image.open(io.BytesIO(answer.content))
    assert (image.format, image.size, image.mode) == (kind, (300, 300), mode)
    assert answer.content == qr_image("AB23CD45", 300, hyaline)
    if hyaline:  # the light modules are see-through, the dark ones opaque
        assert set(image.getchannel("A").tobytes()) == {0, 255}
    # The modules are segno's QR code of the scene: sample the centre of each module of the matrix.
    matrix = segno.make("AB23CD45", error="m", micro=False).matrix
    size = len(matrix) + 4  # border 2 on each side
    grey = image.convert("RGBA" if hyaline else "L")
    for row in range(len(matrix)):
        for col in range(len(matrix)):
            x, y = int((col + 2.5) * 300 / size), int((row + 2.5) * 300 / size)
            pixel = grey.getpixel((x, y))
            dark = pixel[3] > 127 if hyaline else pixel < 128
            assert dark == bool(matrix[row][col]), (row, col)


@pytest.mark.parametrize("body, errcode", [
    ({"page": "pages/fail-41030/index"}, 41030), ({"page": "pages/fail-45009/index"}, 45009),
    ({"page": "pages/fail-40001/index"}, 40001), ({"page": "pages/unpublished/index"}, 41030),
    ({"scene": "x" * 33}, 40169), ({"scene": "中文"}, 40169), ({"scene": ""}, 40169),
    ({"width": 279}, 40097), ({"width": 1281}, 40097), ({"page": "/pages/index/index"}, 40097),
    ({"env_version": "beta"}, 40097),
])
def test_documented_errors(stub, body, errcode):
    answer = unlimited(stub, **body)
    assert answer.status_code == 200 and answer.json()["errcode"] == errcode


def test_an_unpublished_page_is_made_without_check_path(stub):
    assert unlimited(stub, page="pages/unpublished/index", check_path=False).headers["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize("access_token, errcode", [("", 41001), ("stub-token-99", 40001)])
def test_the_access_token_is_checked(stub, access_token, errcode):
    assert unlimited(stub, access_token=access_token).json()["errcode"] == errcode
    assert stub.stats()["calls"]["/wxa/getwxacodeunlimit"] == 1
