"""Where tbl_attachments' files are served, in one place: UserInfo's *_url fields, the upload's answer and the
media_url WeChat's content check fetches all name a file by it.

    <PUBLIC_BASE_URL>/pb/api/files/<collection id>/<record id>/<stored file name>

In dev mode without PUBLIC_BASE_URL (FILE_URLS_FROM_HOST, set by `make run`), the host of that base is the one
the request came by, so a phone on the LAN gets URLs it can open (docs/operations.md, "A phone on the LAN").
"""
from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from flask import has_request_context, request

from sidecar.domain import ATTACHMENTS
from sidecar.pocketbase import PocketBaseGateway

# A DNS name as RFC 1123 spells one: dot-separated labels of letters, digits and inner hyphens, 253 at most.
DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DNS_NAME = re.compile(rf"(?=.{{1,253}}$){DNS_LABEL}(?:\.{DNS_LABEL})*", re.I)


class AttachmentUrls:
    """The public URLs of attachments' files; the collection's id never changes (schema.yaml), so it is read once.

    from_request_host: the base's host is the request's Host when it is a valid host name or IP address (dev mode
    only: sidecar/config.py refuses it otherwise); outside a request, or with any other Host, the base as given.
    """

    def __init__(self, pb: PocketBaseGateway, public_base_url: str, from_request_host: bool = False):
        self.pb = pb
        self.public_base_url = public_base_url.rstrip("/")
        self.from_request_host = from_request_host
        self._path = ""

    def origin(self) -> str:
        """The scheme, host and port file URLs start with, for the request being served."""
        if self.from_request_host and has_request_context():
            return with_request_host(self.public_base_url, request.headers.get("Host", ""))
        return self.public_base_url

    def base(self) -> str:
        """<origin>/pb/api/files/<collection id> (one PocketBase read the first time, cached by the gateway)."""
        if not self._path:
            self._path = f"/pb/api/files/{self.pb.collection_id(ATTACHMENTS)}"
        return self.origin() + self._path

    def url(self, record_id: str | None, filename: str | None) -> str:
        """The URL of one attachment's file; "" when the record or its file is not named."""
        return file_url(self.base(), record_id, filename) if record_id and filename else ""


def request_host_name(host_header: str) -> str:
    """The host name of a Host header ("192.168.1.20:8080" -> "192.168.1.20", "[::1]" -> "::1"), lowercased;
    "" unless it is an IP address or a DNS name (the header is client input: no user part, path or odd byte)."""
    host = host_header.strip()
    if not host or any(c in host for c in "@/\\?#%") or not host.isascii() or not host.isprintable() or " " in host:
        return ""
    try:
        parts = urlsplit("//" + host)
        name, _ = parts.hostname or "", parts.port  # .port raises ValueError on a port that is not one
    except ValueError:
        return ""
    try:
        ipaddress.ip_address(name)
        return name
    except ValueError:
        return name if DNS_NAME.fullmatch(name) else ""


def with_request_host(public_base_url: str, host_header: str) -> str:
    """public_base_url with its host name replaced by the request's (its scheme, port and path kept: nginx serves
    one port, the base's); public_base_url itself when the header names no valid host."""
    name = request_host_name(host_header)
    if not name:
        return public_base_url
    base = urlsplit(public_base_url)
    netloc = (f"[{name}]" if ":" in name else name) + (f":{base.port}" if base.port else "")
    return urlunsplit((base.scheme, netloc, base.path, "", ""))


def file_url(files_url: str, attachment_id: str | None, filename: str | None) -> str:
    """The URL of an attachment's file under files_url (AttachmentUrls.base()); "" when the row names none."""
    if not attachment_id or not filename:
        return ""
    return f"{files_url}/{attachment_id}/{filename}"
