"""Share codes (issue #29): the mini-program code (小程序码) that carries a user's promo code, made once by WeChat
per user, page and width and served from then on as a public file.

POST /pb/api/wechat/share-code asks PocketBase first (pb_hooks/lib/share_codes.js): a stored code is answered at
once; otherwise one request claims it and asks WeChat (wechat/wxacode.py) while concurrent ones for the same code
wait for the image, so WeChat is asked once and two images are never stored. WeChat's refusal releases the claim:
nothing is stored, and the error is the route's envelope (sidecar/errors.py).
"""
from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

from sidecar.domain import SHARE_CLAIM_SECONDS, SHARE_CODES
from sidecar.errors import BadRequest, ServiceUnavailable, Unauthorized
from sidecar.fileurls import file_url
from sidecar.limits import declared_max_lengths
from sidecar.pocketbase import ClientInfo, MultipartBody, PocketBaseGateway
from sidecar.users import token_may_be_valid
from sidecar.wechat import WeChatClient
from sidecar.wechat.wxacode import WIDTH_DEFAULT, WIDTH_MAX, WIDTH_MIN

# How long a request waits for another one's claim to bring the image, and how often it looks: past the claim's
# lifetime (SHARE_CLAIM_SECONDS, longer than the claimer's WeChat call), so that a claim whose claimer vanished
# is taken over by a waiter (pb_hooks/lib/share_codes.js) rather than answered 503.
CLAIM_WAIT_SECONDS = SHARE_CLAIM_SECONDS + 5.0
CLAIM_POLL_SECONDS = 0.2


@functools.cache  # read once, on the first share-code request: not per request
def page_max_length() -> int:
    """The longest page path a share code takes: what tbl_share_codes.share_page stores (schema.yaml)."""
    return declared_max_lengths(SHARE_CODES)["share_page"]


@dataclass(frozen=True)
class ShareSettings:
    """SHARE_PAGES (the default first), SHARE_ENV_VERSION and SHARE_CHECK_PATH (ops/settings.py)."""

    pages: tuple[str, ...]
    env_version: str = "release"
    check_path: bool = True


def share_width(value: object) -> int:
    """The body's width: WIDTH_DEFAULT when absent or null, else a whole number of WIDTH_MIN..WIDTH_MAX (400 naming
    width otherwise; wxacode.getUnlimited's range)."""
    if value is None:
        return WIDTH_DEFAULT
    # The range first: json.loads reads NaN and Infinity, which int() cannot take.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not WIDTH_MIN <= value <= WIDTH_MAX \
            or value != int(value):
        raise BadRequest(f"width 必须是 {WIDTH_MIN} 到 {WIDTH_MAX} 之间的整数", {"field": "width"})
    return int(value)


class ShareService:
    """A user's share code: stored once per (user, page, width), made by WeChat the first time."""

    def __init__(self, pb: PocketBaseGateway, wechat: WeChatClient, settings: ShareSettings,
                 file_origin: Callable[[], str], token_leeway: float = 0):
        self.pb = pb
        self.wechat = wechat
        self.settings = settings
        # Where files are served for the request being answered (AttachmentUrls.origin): PUBLIC_BASE_URL, or in
        # dev mode the host the request came by, so a phone on the LAN can open the code it is given.
        self.file_origin = file_origin
        self.token_leeway = token_leeway

    def page(self, requested: str) -> str:
        """The page a code opens: requested, which must be one of SHARE_PAGES (400 naming page), or the first."""
        if not requested:
            return self.settings.pages[0]
        if requested not in self.settings.pages:
            raise BadRequest("page 不是可分享的页面", {"field": "page", "pages": list(self.settings.pages)})
        return requested

    def share_code(self, bearer: str, page: str, width: int, client: ClientInfo | None = None) -> dict:
        """{promo_code, scene, page, width, url} of the bearer's code for page ("" = SHARE_PAGES' first; 400 naming page
        when not one of them) and width; the token's 401, the ban's 403, WeChat's errors (nothing stored), 503 when
        another request's claim brings no image in time."""
        page = self.page(page)
        if not token_may_be_valid(bearer, self.token_leeway):
            raise Unauthorized()
        deadline = time.monotonic() + CLAIM_WAIT_SECONDS
        request = {"token": bearer, "page": page, "width": width}
        while True:
            found = self.pb.internal("POST", "share-code", request, client)
            if found["state"] == "ready":
                return self.answer(found["share"], found["promo_code"])
            if found["state"] == "claimed":
                return self.make(bearer, found["claim"], found["promo_code"], page, width, client)
            if time.monotonic() > deadline:
                raise ServiceUnavailable("小程序码生成中,请稍后再试")
            time.sleep(CLAIM_POLL_SECONDS)  # gevent's under gunicorn (monkey-patched): the worker serves others

    def make(self, bearer: str, claim: str, promo_code: str, page: str, width: int,
             client: ClientInfo | None) -> dict:
        """Ask WeChat for the claimed code and store it; on any failure the claim is released (nothing stored)."""
        try:
            code = self.wechat.get_unlimited(promo_code, page, width, check_path=self.settings.check_path,
                                             env_version=self.settings.env_version)
            body = MultipartBody(fields={"token": bearer, "claim": claim}, file_field="image",
                                 file_name=f"share.{code.extension}", file_type=code.mime, file_data=code.data)
            stored = self.pb.internal("POST", "share-code-store", body, client)["share"]
        except Exception:
            try:
                self.pb.internal("POST", "share-code-release", {"token": bearer, "claim": claim}, client)
            except Exception:  # noqa: BLE001 - the claim then expires by itself (SHARE_CLAIM_SECONDS)
                pass
            raise
        return self.answer(stored, promo_code)

    def answer(self, record: dict, promo_code: str) -> dict:
        """The route's data for a stored tbl_share_codes record: its image's public URL names nothing but the
        collection, the record and the file's random name."""
        files = f"{self.file_origin()}/pb/api/files/{record['collectionId']}"
        return {"promo_code": promo_code, "scene": record["share_scene"], "page": record["share_page"],
                "width": int(record["share_width"]), "url": file_url(files, record["id"], record["share_image"])}
