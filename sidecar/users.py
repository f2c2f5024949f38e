"""The user service: find or create by openid, profile updates, tokens, and the UserInfo view."""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass

from sidecar.errors import BadRequest, NotFound, Unauthorized
from sidecar.pocketbase import PocketBaseError, PocketBaseGateway
from sidecar.wechat import WeChatClient

log = logging.getLogger(__name__)

USERS, COMPANIES, ATTACHMENTS = "tbl_auth_users", "tbl_company", "tbl_attachments"

# UserInfo fields stored as they are, in the spec's order; numbers stay numbers.
USERINFO_STORED_FIELDS = (
    "users_convers_id", "users_id", "users_idtype", "users_id_number", "users_type", "users_name",
    "users_status", "users_rank_level", "users_auth_type", "users_phone", "users_level", "users_tag",
)
PICTURE_FIELDS = ("users_picture", "users_id_pic_a", "users_id_pic_b", "users_title_picture")
USERINFO_TAIL_FIELDS = ("openid", "company_id", "users_parent_id", "users_promo_code", "usergroups_id")
COMPANY_FIELDS = (
    "company_id", "company_name", "company_type", "company_entity", "company_usci", "company_nationality",
    "company_nationality_code", "company_province", "company_province_code", "company_city", "company_city_code",
    "company_district", "company_district_code", "company_postalcode", "company_add", "company_status",
    "company_level", "company_owner_openid", "company_remark",
)
# The fields a user may change through the profile route, with their longest accepted value.
PROFILE_FIELDS = {
    "users_name": 100, "users_phone_code": 128, "users_phone": 32, "users_tag": 100,
    "users_picture": 64, "users_id_pic_a": 64, "users_id_pic_b": 64, "users_title_picture": 64,
}
MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
REGISTERED, VISITOR = "注册用户", "游客"


@dataclass(frozen=True)
class LoginResult:
    """What a login answers: whether the user is new, the UserInfo and a token."""

    registered: bool
    user: dict
    token: str

    @property
    def is_info_complete(self) -> bool:
        return bool(self.user["users_name"] and self.user["users_phone"])


def quote(value: str) -> str:
    """A PocketBase filter string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mask_phone(phone: str) -> str:
    """138****8000: the first three and last four digits."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


class UserService:
    """Every use case of our routes, over PocketBase and WeChat."""

    def __init__(self, pb: PocketBaseGateway, wechat: WeChatClient, public_base_url: str, token_ttl: int):
        self.pb = pb
        self.wechat = wechat
        self.public_base_url = public_base_url.rstrip("/")
        self.token_ttl = token_ttl

    # ------------------------------------------------------------ use cases

    def login(self, js_code: str) -> LoginResult:
        """Exchange the code for an openid; find the user or create it; mint a token."""
        session = self.wechat.code_to_session(js_code)
        record = self._find_by_openid(session.openid)
        registered = False
        if record is None:
            record, registered = self._create_wechat_user(session.openid, session.unionid)
        elif session.unionid and not record.get("unionid"):
            record = self.pb.update_record_atomically(USERS, record["id"], {"unionid": session.unionid})
        token = self.pb.impersonate(USERS, record["id"], self.token_ttl)
        return LoginResult(registered, self.user_info(record), token)

    def refresh_token(self, bearer: str | None, js_code: str | None) -> str:
        """A new token: for the bearer's user when it is valid, else for the user of the WeChat code."""
        if bearer:
            record = self.pb.record_for_token(USERS, bearer)
            if record is not None:
                return self.pb.impersonate(USERS, record["id"], self.token_ttl)
        if not js_code:
            raise Unauthorized("token 无效或已过期,请重新登录")
        session = self.wechat.code_to_session(js_code)
        record = self._find_by_openid(session.openid)
        if record is None:
            raise NotFound("当前用户不存在,请先登录")
        return self.pb.impersonate(USERS, record["id"], self.token_ttl)

    def update_profile(self, bearer: str, fields: dict[str, str]) -> dict:
        """Apply the non-empty profile fields to the bearer's user; answer the fresh UserInfo."""
        record = self.authenticated_user(bearer)
        if not record.get("openid"):
            raise Unauthorized("当前用户缺少 openid")
        changes = {k: v for k, v in fields.items() if k in PROFILE_FIELDS and k != "users_phone_code"}
        if fields.get("users_phone_code"):
            changes["users_phone"] = self.wechat.phone_number(fields["users_phone_code"], record["openid"])
        if "users_phone" in changes and not MAINLAND_MOBILE.match(changes["users_phone"]):
            raise BadRequest("手机号格式不正确")
        attachments = self._attachments_by_id(
            {record.get(f, "") for f in PICTURE_FIELDS} | {changes[f] for f in PICTURE_FIELDS if f in changes})
        missing = [f for f in PICTURE_FIELDS if f in changes and changes[f] not in attachments]
        if missing:
            raise BadRequest(f"附件不存在: {missing[0]}", {"field": missing[0]})
        if changes:
            record = self._save_profile(record, changes)
        return self.user_info(record, attachments)

    def count_users(self) -> int:
        """How many records tbl_auth_users holds."""
        return self.pb.count_records(USERS)

    def authenticated_user(self, bearer: str) -> dict:
        """The user record of a valid bearer token, else Unauthorized."""
        record = self.pb.record_for_token(USERS, bearer)
        if record is None:
            raise Unauthorized()
        return record

    # ------------------------------------------------------------ the UserInfo view

    def user_info(self, record: dict, attachments: dict[str, dict] | None = None) -> dict:
        """The spec's UserInfo of a user record: every field present, links and company resolved."""
        if attachments is None:
            attachments = self._attachments_by_id({record.get(f, "") for f in PICTURE_FIELDS})
        info = {"pb_id": record["id"]}
        for name in USERINFO_STORED_FIELDS:
            info[name] = record.get(name, "")
        info["users_phone_masked"] = mask_phone(info["users_phone"]) if info["users_phone"] else ""
        for name in PICTURE_FIELDS:
            info[name] = record.get(name, "")
            info[f"{name}_url"] = self._file_url(attachments.get(info[name]))
        for name in USERINFO_TAIL_FIELDS:
            info[name] = record.get(name, "")
        info["company"] = self._company(info["company_id"])
        info["created"], info["updated"] = record.get("created", ""), record.get("updated", "")
        return info

    def _file_url(self, attachment: dict | None) -> str:
        if not attachment or not attachment.get("attachments_link"):
            return ""
        return (f"{self.public_base_url}/pb/api/files/{attachment['collectionId']}/{attachment['id']}/"
                f"{attachment['attachments_link']}")

    def _company(self, company_id: str) -> dict | None:
        if not company_id:
            return None
        rows = self.pb.list_records(COMPANIES, f"company_id = {quote(company_id)}", per_page=1)
        if not rows:
            return None
        row = rows[0]
        return {"pb_id": row["id"], **{name: row.get(name, "") for name in COMPANY_FIELDS},
                "created": row.get("created", ""), "updated": row.get("updated", "")}

    def _attachments_by_id(self, attachment_ids: set[str]) -> dict[str, dict]:
        """attachments_id -> record, for all ids in one call."""
        wanted = sorted(i for i in attachment_ids if i)
        if not wanted:
            return {}
        rows = self.pb.list_records(
            ATTACHMENTS, " || ".join(f"attachments_id = {quote(i)}" for i in wanted), per_page=len(wanted),
            fields="id,collectionId,attachments_id,attachments_link")
        return {row["attachments_id"]: row for row in rows}

    # ------------------------------------------------------------ storage

    def _find_by_openid(self, openid: str) -> dict | None:
        rows = self.pb.list_records(USERS, f"openid = {quote(openid)}", per_page=1)
        return rows[0] if rows else None

    def _create_wechat_user(self, openid: str, unionid: str) -> tuple[dict, bool]:
        """Create the user; when a concurrent login of the same openid won the race, answer the winner."""
        password = secrets.token_urlsafe(32)
        try:
            record = self.pb.create_record(USERS, {
                "openid": openid, "unionid": unionid, "users_idtype": "WeChat", "users_type": VISITOR,
                "password": password, "passwordConfirm": password,
            })
            return record, True
        except PocketBaseError as exc:
            if exc.field_codes().get("openid") != "validation_not_unique":
                raise
        winner = self._find_by_openid(openid)
        if winner is None:  # the winner was deleted in between: nothing sensible to answer
            raise BadRequest("保存用户失败,请重试")
        return winner, False

    def _save_profile(self, record: dict, changes: dict) -> dict:
        try:
            return self.pb.update_record_atomically(USERS, record["id"], changes)
        except PocketBaseError as exc:
            codes = exc.field_codes()
            if codes.get("users_phone") == "validation_not_unique":
                raise BadRequest("手机号已被其他账号使用", {"field": "users_phone"}) from None
            if exc.status == 404:
                raise Unauthorized("当前用户不存在") from None
            field = next(iter(codes), "")
            log.warning("profile update refused by PocketBase: status=%s fields=%s", exc.status, sorted(codes))
            raise BadRequest("资料更新失败,请检查输入" + (f": {field}" if field else ""),
                             {"field": field} if field else {}) from None
