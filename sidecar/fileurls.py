"""Where tbl_attachments' files are served, in one place: UserInfo's *_url fields, the upload's answer and the
media_url WeChat's content check fetches all name a file by it.

    <PUBLIC_BASE_URL>/pb/api/files/<collection id>/<record id>/<stored file name>
"""
from __future__ import annotations

from sidecar.domain import ATTACHMENTS
from sidecar.pocketbase import PocketBaseGateway


class AttachmentUrls:
    """The public URLs of attachments' files; the collection's id never changes (schema.yaml), so it is read once."""

    def __init__(self, pb: PocketBaseGateway, public_base_url: str):
        self.pb = pb
        self.public_base_url = public_base_url.rstrip("/")
        self._base = ""

    def base(self) -> str:
        """<public base>/pb/api/files/<collection id> (one PocketBase read the first time, cached by the gateway)."""
        if not self._base:
            self._base = f"{self.public_base_url}/pb/api/files/{self.pb.collection_id(ATTACHMENTS)}"
        return self._base

    def url(self, record_id: str | None, filename: str | None) -> str:
        """The URL of one attachment's file; "" when the record or its file is not named."""
        return file_url(self.base(), record_id, filename) if record_id and filename else ""


def file_url(files_url: str, attachment_id: str | None, filename: str | None) -> str:
    """The URL of an attachment's file under files_url (AttachmentUrls.base()); "" when the row names none."""
    if not attachment_id or not filename:
        return ""
    return f"{files_url}/{attachment_id}/{filename}"
