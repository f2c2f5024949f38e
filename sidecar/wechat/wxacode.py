"""wxacode.getUnlimited: the mini-program code (小程序码) of a page with a scene, as an image.

WeChat doc: 小程序码 / getUnlimitedQRCode (POST /wxa/getwxacodeunlimit), with the stable access_token as every
token-bearing call (transport.call_with_token). WeChat answers the image's bytes (JPEG; PNG when is_hyaline), or
JSON on failure: 41030 page missing or the mini-program not published, 45009 the minute quota, 40097 bad
arguments, 40169 a scene too long, 40001 / 42001 the token (renewed once by the transport).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sidecar.wechat.errors import GET_UNLIMITED, malformed
from sidecar.wechat.transport import WeChatTransport

ERR_INVALID_PAGE = 41030
ERR_QUOTA = 45009
# WeChat's rules for the body (the doc's table).
SCENE_MAX_LENGTH = 32
SCENE_CHARACTERS = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+$")
WIDTH_MIN, WIDTH_MAX, WIDTH_DEFAULT = 280, 1280, 430
JPEG, PNG = "image/jpeg", "image/png"


@dataclass(frozen=True)
class WxaCode:
    """A mini-program code image: its bytes and the type they say (JPEG or PNG), with the file extension."""

    data: bytes
    mime: str

    @property
    def extension(self) -> str:
        return "png" if self.mime == PNG else "jpg"


def image_type(data: bytes) -> str | None:
    """JPEG or PNG by the leading bytes (magic numbers); None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    return None


class WxaCodeApi(WeChatTransport):
    def get_unlimited(self, scene: str, page: str, width: int = WIDTH_DEFAULT, check_path: bool = True,
                      env_version: str = "release", is_hyaline: bool = False) -> WxaCode:
        """The mini-program code opening page with scene (at most 32 characters of SCENE_CHARACTERS).

        page: a page path without a leading "/" or query ("" = the home page). Any errcode raises a WeChatError
        (41030 as WeChatCodeRejected: the page is the caller's choice); an answer that is neither JSON nor a
        JPEG or PNG image is unusable (WeChatError)."""
        if not (0 < len(scene) <= SCENE_MAX_LENGTH and SCENE_CHARACTERS.match(scene)):
            raise ValueError(f"scene must be 1 to {SCENE_MAX_LENGTH} characters WeChat accepts")
        if not WIDTH_MIN <= width <= WIDTH_MAX:
            raise ValueError(f"width must be {WIDTH_MIN} to {WIDTH_MAX}")
        body = {"scene": scene, "check_path": check_path, "env_version": env_version, "width": width,
                "is_hyaline": is_hyaline}
        if page:
            body["page"] = page
        data = self.call_with_token(GET_UNLIMITED, "/wxa/getwxacodeunlimit", body, (ERR_INVALID_PAGE,),
                                    media=True)
        mime = image_type(data) if isinstance(data, bytes) else None
        if mime is None:
            raise malformed(GET_UNLIMITED)
        return WxaCode(data, mime)
