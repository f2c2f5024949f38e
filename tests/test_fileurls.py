"""sidecar/fileurls.py: the one form of an attachment's file URL, its collection id read once."""
from __future__ import annotations

import pytest

from sidecar.fileurls import AttachmentUrls, file_url


class OneCollection:
    """A gateway stand-in that counts collection-id reads."""

    def __init__(self):
        self.reads = 0

    def collection_id(self, name: str) -> str:
        assert name == "tbl_attachments"
        self.reads += 1
        return "pbc_123"


def test_urls_name_the_public_base_the_collection_the_record_and_the_file():
    gateway = OneCollection()
    urls = AttachmentUrls(gateway, "https://api.example.test/")
    assert urls.url("rec1", "upload_ab12.jpg") == "https://api.example.test/pb/api/files/pbc_123/rec1/upload_ab12.jpg"
    assert urls.base() == "https://api.example.test/pb/api/files/pbc_123"
    assert gateway.reads == 1


@pytest.mark.parametrize("record_id, filename", [("", "a.jpg"), ("rec1", ""), (None, "a.jpg"), ("rec1", None)])
def test_nothing_named_is_no_url_and_no_read(record_id, filename):
    gateway = OneCollection()
    assert AttachmentUrls(gateway, "https://h").url(record_id, filename) == ""
    assert file_url("https://h/pb/api/files/c", record_id, filename) == ""
    assert gateway.reads == 0
