"""Parsing of request bodies and headers into plain values, or a typed error."""
from __future__ import annotations

import json
import re

from flask import request

from sidecar.errors import BadRequest, Unauthorized, UnsupportedMediaType
from sidecar.limits import MAX_TOKEN_LENGTH, upload_body_limit
from sidecar.pocketbase import ClientInfo

# A JWT is three base64url parts; anything else is not worth asking PocketBase about.
JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def json_object() -> dict:
    """The JSON object of the body; {} for an empty body."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if not request.is_json:
        raise UnsupportedMediaType("请求体必须是 JSON (Content-Type: application/json)")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise UnsupportedMediaType("请求体不是合法的 JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("请求体必须是 JSON 对象")
    return body


def optional_string(body: dict, name: str, max_length: int) -> str:
    """body[name] stripped; "" when absent, null or blank; BadRequest when not a string or too long."""
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{name} 必须是字符串", {"field": name})
    value = value.strip()
    if len(value) > max_length:
        raise BadRequest(f"{name} 过长(最多 {max_length} 个字符)", {"field": name})
    return value


def required_string(body: dict, name: str, max_length: int) -> str:
    """Like optional_string, but absent or blank is a BadRequest."""
    value = optional_string(body, name, max_length)
    if not value:
        raise BadRequest(f"{name} 不能为空", {"field": name})
    return value


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
    return ClientInfo(ip=request.headers.get("X-Real-IP", "")[:64],
                      user_agent=request.headers.get("User-Agent", "")[:512])


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
