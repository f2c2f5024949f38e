"""The user service: find or create by openid, profile updates, tokens, and the UserInfo view."""
from __future__ import annotations

import time
from dataclasses import dataclass

from sidecar import domain, phones
from sidecar.domain import PICTURE_FIELDS, USERS
from sidecar.errors import BadRequest, Unauthorized
from sidecar.fileurls import AttachmentUrls, file_url
from sidecar.moderation import ModerationService
from sidecar.pocketbase import ClientInfo, PocketBaseGateway, PocketBaseRefusal, token_claims
from sidecar.wechat import GET_PHONE_NUMBER, WeChatClient
from sidecar.wechat.errors import malformed

# UserInfo fields stored as they are, in the spec's order; numbers stay numbers.
USERINFO_STORED_FIELDS = (
    "users_convers_id", "users_id", "users_idtype", "users_id_number", "users_type", "users_name",
    "users_status", "users_rank_level", "users_auth_type", "users_phone", "users_level", "users_tag",
)
USERINFO_TAIL_FIELDS = ("openid", "company_id", "users_parent_id", "users_promo_code", "usergroups_id")
COMPANY_FIELDS = (
    "company_id", "company_name", "company_type", "company_entity", "company_usci", "company_nationality",
    "company_nationality_code", "company_province", "company_province_code", "company_city", "company_city_code",
    "company_district", "company_district_code", "company_postalcode", "company_add", "company_status",
    "company_level", "company_owner_openid", "company_remark",
)
PHONE_CODE_FIELD = "users_phone_code"
# The fields a user may change through the profile route, in the order they are checked: the stored ones
# (vocabulary.yaml's PROFILE_FIELDS) with the WeChat phone code, exchanged for users_phone, just before it.
# Their limits: sidecar/limits.py.
PROFILE_FIELDS = tuple(name for stored in domain.PROFILE_FIELDS
                       for name in ((PHONE_CODE_FIELD, stored) if stored == "users_phone" else (stored,)))


@dataclass(frozen=True)
class LoginResult:
    """What a login answers: whether the user is new, the UserInfo, a token, and whether the user's info is
    complete (decided by PocketBase, the one place: pb_hooks/lib/wechat_users.js infoComplete)."""

    registered: bool
    user: dict
    token: str
    is_info_complete: bool


def token_may_be_valid(token: str, leeway: float = 0) -> bool:
    """False for a token PocketBase would surely refuse (not an auth token, or expired more than leeway
    seconds ago by our clock, which may run ahead of PocketBase's: TOKEN_LEEWAY_SECONDS); unverified claims."""
    claims = token_claims(token)
    exp = claims.get("exp")
    return claims.get("type") == "auth" and isinstance(exp, (int, float)) and exp + leeway > time.time()


class UserService:
    """Every use case of our routes, over PocketBase (one request each) and WeChat. An internal route's refusal
    is raised as the gateway's PocketBaseRefusal (sidecar/errors.py words it)."""

    def __init__(self, pb: PocketBaseGateway, wechat: WeChatClient, attachment_urls: AttachmentUrls,
                 moderation: ModerationService, token_leeway: float = 0):
        self.pb = pb
        self.wechat = wechat
        self.attachment_urls = attachment_urls
        self.moderation = moderation
        self.openids = moderation.openids
        self.token_leeway = token_leeway  # seconds: the local expiry check never refuses what PocketBase accepts

    # ------------------------------------------------------------ use cases

    def login(self, js_code: str, client: ClientInfo | None = None, inviter_promo_code: str = "") -> LoginResult:
        """Exchange the code for an openid; find the user or create it; a token (one PocketBase request).

        inviter_promo_code: the promo code of whoever shared the mini-program, applied when this login registers
        the user (pb_hooks/lib/referral.js); an unknown, own or banned inviter's code is ignored, never an error."""
        session = self.wechat.code_to_session(js_code)
        body = {"openid": session.openid, "unionid": session.unionid, "create": True, "route": "login"}
        if inviter_promo_code:
            body["inviter_promo_code"] = inviter_promo_code
        answer = self.pb.internal("POST", "wechat-login", body, client)
        self.openids.remember(answer["user"]["id"], session.openid)
        return LoginResult(bool(answer["registered"]), self.user_info(answer["user"]), answer["token"],
                           bool(answer["info_complete"]))

    def refresh_token(self, bearer: str | None, js_code: str | None, client: ClientInfo | None = None) -> str:
        """A new token: PocketBase's auth-refresh of a valid bearer, else a token for the user of the WeChat code."""
        if bearer:
            token = self._renewed(bearer, client)
            if token:
                return token
        if not js_code:
            raise Unauthorized("token 无效或已过期,请重新登录")
        session = self.wechat.code_to_session(js_code)
        answer = self.pb.internal("POST", "wechat-login", {
            "openid": session.openid, "unionid": session.unionid, "create": False, "route": "refresh-token"}, client)
        self.openids.remember(answer["user"]["id"], session.openid)
        return answer["token"]

    def update_profile(self, bearer: str, fields: dict[str, str], client: ClientInfo | None = None) -> dict:
        """Apply the non-empty profile fields to the bearer's user; answer the fresh UserInfo (one PocketBase request).

        A phone is normalized by sidecar/phones.py (400 naming users_phone when it is not a number we store);
        one from a WeChat phone code is verified, and PocketBase lets it take the number from a user who only
        typed it (pb_hooks/lib/wechat_users.js)."""
        if not token_may_be_valid(bearer, self.token_leeway):  # spare WeChat's (paid) phone call for a doomed token
            raise Unauthorized()
        changes = {k: v for k, v in fields.items() if k in PROFILE_FIELDS and k != PHONE_CODE_FIELD and v}
        # Before the phone code is spent and anything is written: text WeChat refuses or cannot check is not stored.
        self.moderation.check_profile_text(bearer, changes)
        typed_phone = "users_phone" in changes and not fields.get(PHONE_CODE_FIELD)
        if typed_phone:
            changes["users_phone"] = stored_phone(changes["users_phone"], verified=False)
        if fields.get(PHONE_CODE_FIELD):
            # With the caller's openid WeChat checks that the code belongs to this user; the worker's openid map
            # knows it without a PocketBase request once it has seen the user (sidecar/openids.py).
            phone = self.wechat.phone_number(fields[PHONE_CODE_FIELD], self.openids.openid(bearer))
            try:
                changes["users_phone"] = phones.normalize(phone, verified=True)
            except phones.InvalidPhone:
                # WeChat's answer, not the user's input: checked alike, and a fault of WeChat's (502).
                raise malformed(GET_PHONE_NUMBER) from None
        answer = self.pb.internal("POST", "profile",
                                  {"token": bearer, "changes": changes, "typed_phone": typed_phone}, client)
        self.openids.remember(answer["user"]["id"], answer["user"].get("openid", ""))
        return self.user_info(answer["user"])

    def _renewed(self, bearer: str, client: ClientInfo | None) -> str:
        """The bearer renewed in one request; "" when it is not a valid user token."""
        if token_claims(bearer).get("refreshable") is True:
            return self.pb.auth_refresh(USERS, bearer, client)
        # Not refreshable natively (impersonation tokens handed out before): renewed by our route.
        try:
            return self.pb.internal("POST", "renew-token", {"token": bearer}, client)["token"]
        except PocketBaseRefusal as exc:
            if exc.reason == "token_invalid":
                return ""
            raise

    def count_users(self) -> int:
        """How many records tbl_auth_users holds: a counter PocketBase keeps with every create and delete."""
        return int(self.pb.internal("GET", "users-count", None)["total"])

    # ------------------------------------------------------------ the UserInfo view

    def user_info(self, row: dict) -> dict:
        """The UserInfo of a view_user_info row; the attachments' file URL base is resolved once (AttachmentUrls)."""
        has_files = any(row.get(f"{name}_pb_id") for name in PICTURE_FIELDS)
        return user_info(row, self.attachment_urls.base() if has_files else "")


def stored_phone(raw: str, verified: bool) -> str:
    """The stored form of a phone number (sidecar/phones.py), or 400 naming users_phone."""
    try:
        return phones.normalize(raw, verified)
    except phones.InvalidPhone:
        raise BadRequest("手机号格式不正确", {"field": "users_phone"}) from None


def user_info(row: dict, files_url: str) -> dict:
    """The spec's UserInfo of a view_user_info row (or of a user record that has no company or pictures).

    files_url is where the attachments' files are served (<public base>/pb/api/files/<collection id>).
    """
    info = {"pb_id": row["id"]}
    for name in USERINFO_STORED_FIELDS:
        info[name] = row.get(name, "")
    info["users_phone_masked"] = phones.mask(info["users_phone"]) if info["users_phone"] else ""
    for name in PICTURE_FIELDS:
        info[name] = row.get(name, "")
        info[f"{name}_url"] = file_url(files_url, row.get(f"{name}_pb_id"), row.get(f"{name}_link"))
    for name in USERINFO_TAIL_FIELDS:
        info[name] = row.get(name, "")
    info["company"] = company(row)
    info["created"], info["updated"] = row.get("created", ""), row.get("updated", "")
    return info



def company(row: dict) -> dict | None:
    """The UserInfo company of a view_user_info row; None when the user has none."""
    if not row.get("company_pb_id"):
        return None
    return {"pb_id": row["company_pb_id"], **{name: row.get(name, "") for name in COMPANY_FIELDS},
            "created": row.get("company_created", ""), "updated": row.get("company_updated", "")}
