"""The user service: find or create by openid, profile updates, tokens, and the UserInfo view."""
from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from sidecar.errors import BadRequest, NotFound, Unauthorized
from sidecar.pocketbase import PocketBaseError, PocketBaseGateway
from sidecar.wechat import WeChatClient

log = logging.getLogger(__name__)

USERS, ATTACHMENTS = "tbl_auth_users", "tbl_attachments"
# A user with its company and picture files in one row (schema.yaml): the columns of tbl_auth_users,
# company_pb_id / company_created / company_updated and the company's own company_* fields,
# and <picture field>_pb_id / <picture field>_link for each of PICTURE_FIELDS.
USER_INFO_VIEW = "view_user_info"

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
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema.yaml"
WX_PHONE_CODE_MAX_LENGTH = 128


def declared_max_lengths(collection: str, schema_path: Path = SCHEMA_PATH) -> dict[str, int]:
    """Field name -> max length of the text fields schema.yaml declares for collection."""
    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    fields = next(c for c in schema["collections"] if c["name"] == collection)["fields"]
    return {f["name"]: f["max"] for f in fields if f["type"] == "text" and f.get("max")}


# The fields a user may change through the profile route, with their longest accepted value: the
# stored ones as schema.yaml declares them (PocketBase would refuse longer), and WeChat's phone code.
_USER_MAX_LENGTHS = declared_max_lengths(USERS)
PROFILE_FIELDS = {
    "users_name": _USER_MAX_LENGTHS["users_name"], "users_phone_code": WX_PHONE_CODE_MAX_LENGTH,
    **{name: _USER_MAX_LENGTHS[name] for name in ("users_phone", "users_tag", *PICTURE_FIELDS)},
}
MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
VISITOR = "游客"


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

    def __init__(self, pb: PocketBaseGateway, wechat: WeChatClient, public_base_url: str, token_ttl: int,
                 users_count_ttl: float = 0.0):
        self.pb = pb
        self.wechat = wechat
        self.public_base_url = public_base_url.rstrip("/")
        self.token_ttl = token_ttl
        self.users_count_ttl = users_count_ttl
        self._users_count = (0, 0.0)  # (count, monotonic time it expires)

    # ------------------------------------------------------------ use cases

    def login(self, js_code: str) -> LoginResult:
        """Exchange the code for an openid; find the user or create it; mint a token."""
        session = self.wechat.code_to_session(js_code)
        row = self._find_by_openid(session.openid)
        registered = False
        if row is None:
            row, registered = self._create_wechat_user(session.openid, session.unionid)
        elif session.unionid and not row.get("unionid"):
            record = self.pb.update_record_atomically(USERS, row["id"], {"unionid": session.unionid})
            row = self._updated_row(row, record, {})
        token = self.pb.impersonate(USERS, row["id"], self.token_ttl)
        return LoginResult(registered, self.user_info(row), token)

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
        row = self.pb.record_for_token(USERS, bearer, via=USER_INFO_VIEW)
        if row is None:
            raise Unauthorized()
        if not row.get("openid"):
            raise Unauthorized("当前用户缺少 openid")
        changes = {k: v for k, v in fields.items() if k in PROFILE_FIELDS and k != "users_phone_code"}
        if fields.get("users_phone_code"):
            changes["users_phone"] = self.wechat.phone_number(fields["users_phone_code"], row["openid"])
        if "users_phone" in changes and not MAINLAND_MOBILE.match(changes["users_phone"]):
            raise BadRequest("手机号格式不正确")
        new_pictures = {f: changes[f] for f in PICTURE_FIELDS if f in changes and changes[f] != row.get(f)}
        attachments = self._attachments_by_id(set(new_pictures.values()))
        for field in (f for f in PICTURE_FIELDS if f in changes):
            exists = changes[field] in attachments if field in new_pictures else bool(row.get(f"{field}_pb_id"))
            if not exists:
                raise BadRequest(f"附件不存在: {field}", {"field": field})
        if changes:
            row = self._updated_row(row, self._save_profile(row, changes), attachments)
        return self.user_info(row)

    def count_users(self) -> int:
        """How many records tbl_auth_users holds, at most users_count_ttl seconds old."""
        # A public, display-only figure, and a COUNT over every user each time: each worker keeps
        # it briefly. Concurrent misses may each count; that costs less than making them wait.
        count, expires = self._users_count
        if time.monotonic() < expires:
            return count
        count = self.pb.count_records(USERS)
        self._users_count = (count, time.monotonic() + self.users_count_ttl)
        return count

    # ------------------------------------------------------------ the UserInfo view

    def user_info(self, row: dict) -> dict:
        """The spec's UserInfo of a view_user_info row (or of a user record that has no company or pictures)."""
        info = {"pb_id": row["id"]}
        for name in USERINFO_STORED_FIELDS:
            info[name] = row.get(name, "")
        info["users_phone_masked"] = mask_phone(info["users_phone"]) if info["users_phone"] else ""
        for name in PICTURE_FIELDS:
            info[name] = row.get(name, "")
            info[f"{name}_url"] = self._file_url(row.get(f"{name}_pb_id"), row.get(f"{name}_link"))
        for name in USERINFO_TAIL_FIELDS:
            info[name] = row.get(name, "")
        info["company"] = self._company(row)
        info["created"], info["updated"] = row.get("created", ""), row.get("updated", "")
        return info

    def _file_url(self, attachment_id: str | None, filename: str | None) -> str:
        if not attachment_id or not filename:
            return ""
        return f"{self.public_base_url}/pb/api/files/{self.pb.collection_id(ATTACHMENTS)}/{attachment_id}/{filename}"

    @staticmethod
    def _company(row: dict) -> dict | None:
        if not row.get("company_pb_id"):
            return None
        return {"pb_id": row["company_pb_id"], **{name: row.get(name, "") for name in COMPANY_FIELDS},
                "created": row.get("company_created", ""), "updated": row.get("company_updated", "")}

    def _attachments_by_id(self, attachment_ids: set[str]) -> dict[str, dict]:
        """attachments_id -> record, for all ids in one call."""
        wanted = sorted(i for i in attachment_ids if i)
        if not wanted:
            return {}
        rows = self.pb.list_records(
            ATTACHMENTS, " || ".join(f"attachments_id = {quote(i)}" for i in wanted), per_page=len(wanted),
            fields="id,attachments_id,attachments_link")
        return {row["attachments_id"]: row for row in rows}

    # ------------------------------------------------------------ storage

    def _find_by_openid(self, openid: str) -> dict | None:
        """The view_user_info row of the user with this openid."""
        rows = self.pb.list_records(USER_INFO_VIEW, f"openid = {quote(openid)}", per_page=1)
        return rows[0] if rows else None

    def _updated_row(self, row: dict, record: dict, attachments: dict[str, dict]) -> dict:
        """row with the user's columns taken from record, as saved; read again if what it joins on moved."""
        updated = {**row, **{k: v for k, v in record.items() if k not in ("collectionId", "collectionName")}}
        if updated.get("company_id") != row.get("company_id"):
            return self.pb.get_record(USER_INFO_VIEW, row["id"])
        for field in PICTURE_FIELDS:
            if updated.get(field) != row.get(field):
                attachment = attachments.get(updated[field])
                if attachment is None:
                    return self.pb.get_record(USER_INFO_VIEW, row["id"])
                updated[f"{field}_pb_id"], updated[f"{field}_link"] = attachment["id"], attachment["attachments_link"]
        return updated

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

    def _save_profile(self, row: dict, changes: dict) -> dict:
        try:
            return self.pb.update_record_atomically(USERS, row["id"], changes)
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
