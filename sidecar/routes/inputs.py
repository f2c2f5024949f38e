"""Parsing of request bodies and headers into plain values, or a typed error.

Every string taken from a request is valid text (no lone UTF-16 surrogate: what cutting an emoji by
UTF-16 length leaves, or CESU-8 bytes) or refused with 400 naming its field; nothing is written then.
"""
from __future__ import annotations

import json
import re

from flask import request

from sidecar.domain import trim_invisible
from sidecar.errors import BadRequest, Unauthorized, UnsupportedMediaType
from sidecar.limits import MAX_TOKEN_LENGTH, upload_body_limit
from sidecar.pocketbase import ClientInfo

# A JWT is three base64url parts; anything else is not worth asking PocketBase about.
JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
# Lone surrogates cannot be encoded as UTF-8 (json.loads lets "\ud83d" through; undecodable body bytes
# become U+DC80..U+DCFF below): a string holding one is not text.
SURROGATE = re.compile("[\ud800-\udfff]")
NOT_UTF8 = "请求体必须是 UTF-8 编码的 JSON"


def json_object() -> dict:
    """The JSON object of the body; {} for an empty body. RFC 8259: JSON is UTF-8 (a BOM is tolerated).

    A body that is not UTF-8 is a 400 naming the first top-level field whose string holds the bad bytes."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if not request.is_json:
        raise UnsupportedMediaType("请求体必须是 JSON (Content-Type: application/json)")
    try:
        decoded, utf8 = raw.decode("utf-8-sig"), True
    except UnicodeDecodeError:
        decoded, utf8 = raw.decode("utf-8", "surrogateescape"), False
    try:
        body = json.loads(decoded)
    except (ValueError, RecursionError):
        if not utf8:
            raise BadRequest(NOT_UTF8) from None
        raise UnsupportedMediaType("请求体不是合法的 JSON") from None
    if not utf8:
        field = next((key for key, value in body.items() if isinstance(value, str) and SURROGATE.search(value)),
                     None) if isinstance(body, dict) else None
        raise BadRequest(NOT_UTF8, {"field": field} if field else {})
    if not isinstance(body, dict):
        raise BadRequest("请求体必须是 JSON 对象")
    return body


def optional_string(body: dict, name: str, max_length: int) -> str:
    """body[name] stripped; "" when absent, null or blank; BadRequest when not a string, not text or too long."""
    return within(name, valid_text(body, name).strip(), max_length)


def valid_text(body: dict, name: str) -> str:
    """body[name] as it is; "" when absent or null; BadRequest naming it when not a string or not valid text."""
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{name} 必须是字符串", {"field": name})
    if SURROGATE.search(value):
        raise BadRequest(f"{name} 包含无效字符", {"field": name})
    return value


def within(name: str, value: str, max_length: int) -> str:
    """value, or BadRequest naming the field when it is longer than max_length characters."""
    if len(value) > max_length:
        raise BadRequest(f"{name} 过长(最多 {max_length} 个字符)", {"field": name})
    return value


def required_string(body: dict, name: str, max_length: int) -> str:
    """Like optional_string, but absent or blank is a BadRequest."""
    value = optional_string(body, name, max_length)
    if not value:
        raise BadRequest(f"{name} 不能为空", {"field": name})
    return value


def visible_string(body: dict, name: str, max_length: int) -> str:
    """Like optional_string for a text shown to people (a name, a tag): invisible characters at its edges
    are trimmed like spaces, and a value with no visible character is "" (not given). What is invisible:
    vocabulary.yaml (sidecar/domain.py), the set PocketBase's hooks use too."""
    return within(name, trim_invisible(valid_text(body, name)), max_length)


def header_value(name: str, max_length: int) -> str:
    """The header as WSGI hands it over (ISO-8859-1 characters standing for the client's bytes, ready to pass
    on), clipped to max_length characters of text; "" when absent; 400 naming it when its bytes are not UTF-8."""
    raw = request.headers.get(name, "")
    try:
        decoded = raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise BadRequest(f"请求头 {name} 必须是 UTF-8 文本", {"field": name}) from None
    return decoded[:max_length].encode("utf-8").decode("latin-1")


def uploaded_file(max_bytes: int) -> tuple[bytes, str]:
    """The bytes and client-given filename of the one file of a multipart/form-data body (wx.uploadFile's
    part `file`; other fields, its formData, are ignored). The body may be max_bytes plus framing (else 413).
    415 when the body is not multipart; 400 with data.field = "file" without a `file` part, or with more files."""
    request.max_content_length = upload_body_limit(max_bytes)
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("请求体必须是 multipart/form-data,文件放在 file 字段")
    parts = [part for name in request.files for part in request.files.getlist(name)]
    if not request.files.getlist("file"):
        raise BadRequest("缺少文件(multipart 字段 file)", {"field": "file"})
    if len(parts) > 1:
        raise BadRequest("一次只能上传一个文件", {"field": "file"})
    # A BytesIO (sidecar.InMemoryUploadRequest): CPython's getvalue() hands over its buffer, not a copy, and
    # io.BytesIO(bytes) in sidecar/uploads.py shares it again, so the original is in memory once.
    return parts[0].stream.getvalue(), parts[0].filename or ""


def client_info() -> ClientInfo:
    """The client's address (X-Real-IP, set by nginx) and user agent, to pass on to PocketBase."""
    return ClientInfo(ip=header_value("X-Real-IP", 64), user_agent=header_value("User-Agent", 512))


def bearer_token(required: bool) -> str:
    """The token of `Authorization: Bearer <t>` or a bare `<t>`; "" when absent and not required."""
    header = request.headers.get("Authorization", "").strip()
    if header[:7].lower() == "bearer ":
        header = header[7:].strip()
    if not header:
        if required:
            raise Unauthorized("缺少 Authorization token")
        return ""
    if len(header) > MAX_TOKEN_LENGTH or not JWT_SHAPE.match(header):
        if required:
            raise Unauthorized()
        return ""
    return header
