"""The dev stub's wxacode.getUnlimited (POST /wxa/getwxacodeunlimit): a real QR code of the scene (segno), width pixels
square, as JPEG (PNG with a transparent background when is_hyaline), or WeChat's errcodes for what it refuses.

Markers in the page (documented in docs/share.md): a segment ``fail-<errcode>`` answers that errcode
(pages/fail-41030/index), one ``slow-<seconds>`` sleeps first (at most 60 s), one ``unpublished`` is missing from the
released mini-program (41030 unless check_path is false). WeChat's checks: the scene at most 32 of its characters
(40169), the page without a leading / or a query, env_version one of WeChat's three, width 280 to 1280 (40097).
"""
from __future__ import annotations

import io
import re
import time

import segno
from PIL import Image

from ops.wechat_stub.security import MAX_SLEEP_SECONDS

PAGE_FAIL = re.compile(r"(?:^|/)fail-(-?\d+)(?:/|$)")
PAGE_SLOW = re.compile(r"(?:^|/)slow-(\d+(?:\.\d+)?)(?:/|$)")
PAGE_UNPUBLISHED = re.compile(r"(?:^|/)unpublished(?:/|$)")
SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")
ENV_VERSIONS = ("release", "trial", "develop")


def answer(body: dict) -> tuple[int, str, bytes]:
    """(errcode, content type, image) for a getwxacodeunlimit body: errcode 0 with the image, or WeChat's errcode."""
    scene, page, width = body.get("scene"), body.get("page", ""), body.get("width", 430)
    if not isinstance(scene, str) or not SCENE.match(scene):
        return 40169, "", b""
    if not isinstance(page, str) or page.startswith("/") or "?" in page \
            or body.get("env_version", "release") not in ENV_VERSIONS \
            or isinstance(width, bool) or not isinstance(width, int) or not 280 <= width <= 1280:
        return 40097, "", b""
    slow = PAGE_SLOW.search(page)
    if slow:
        time.sleep(min(float(slow.group(1)), MAX_SLEEP_SECONDS))
    fail = PAGE_FAIL.search(page)
    if fail:
        return int(fail.group(1)), "", b""
    if PAGE_UNPUBLISHED.search(page) and body.get("check_path", True) is not False:
        return 41030, "", b""
    hyaline = body.get("is_hyaline") is True
    return 0, "image/png" if hyaline else "image/jpeg", qr_image(scene, width, hyaline)


def qr_image(scene: str, width: int, hyaline: bool) -> bytes:
    """A QR code of scene, width pixels square: JPEG on white, or PNG with a transparent background."""
    matrix = io.BytesIO()
    segno.make(scene, error="m", micro=False).save(matrix, kind="png", scale=4, border=2)
    image = Image.open(io.BytesIO(matrix.getvalue())).convert("L").resize((width, width), Image.Resampling.NEAREST)
    out = io.BytesIO()
    if hyaline:
        # Black modules on nothing: the light pixels become fully transparent.
        alpha = image.point(lambda value: 0 if value > 127 else 255)
        Image.merge("LA", (Image.new("L", image.size, 0), alpha)).save(out, format="PNG")
    else:
        image.convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()
