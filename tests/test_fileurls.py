"""sidecar/fileurls.py: the one form of an attachment's file URL, its collection id read once; in dev mode without
PUBLIC_BASE_URL, the host of the request (validated), never in production."""
from __future__ import annotations

import pytest
from flask import Flask

from sidecar.config import Config, ConfigError
from sidecar.fileurls import AttachmentUrls, file_url, request_host_name, with_request_host


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


# -- dev mode without PUBLIC_BASE_URL: the host the request came by -----------------------------------------------

@pytest.mark.parametrize("host, origin", [
    ("192.168.1.20", "http://192.168.1.20:8080"),
    ("192.168.1.20:8080", "http://192.168.1.20:8080"),  # the base's port: nginx serves that one
    ("Dev-Box.local", "http://dev-box.local:8080"),
    ("[fe80::1]", "http://[fe80::1]:8080"),
    ("localhost", "http://localhost:8080"),
])
def test_a_valid_host_replaces_the_bases_host_name(host, origin):
    assert with_request_host("http://localhost:8080", host) == origin


@pytest.mark.parametrize("host", [
    "", "   ", "evil.example/steal", "a@evil.example", "evil.example?x", "evil.example#x", "a b", "-bad-.example",
    "evil.example:99999", "evil.example:port", "ex\u00e4mple.com", "evil\x00.example", "x" * 254, "%65vil.example",
    "evil.example\\x", "[not-an-ip]",
])
def test_a_host_header_that_names_no_valid_host_keeps_the_base(host):
    assert request_host_name(host) == ""
    assert with_request_host("http://localhost:8080", host) == "http://localhost:8080"


def test_from_request_host_follows_each_request_and_outside_one_the_base():
    gateway, app = OneCollection(), Flask(__name__)
    urls = AttachmentUrls(gateway, "http://localhost:8080", from_request_host=True)
    with app.test_request_context(headers={"Host": "192.168.1.20"}):
        assert urls.url("rec1", "a.png") == "http://192.168.1.20:8080/pb/api/files/pbc_123/rec1/a.png"
    with app.test_request_context(headers={"Host": "10.0.0.7:8080"}):
        assert urls.base() == "http://10.0.0.7:8080/pb/api/files/pbc_123"
    assert urls.base() == "http://localhost:8080/pb/api/files/pbc_123"
    assert gateway.reads == 1


def test_without_from_request_host_the_host_header_is_ignored():
    gateway, app = OneCollection(), Flask(__name__)
    urls = AttachmentUrls(gateway, "https://api.example.test")
    with app.test_request_context(headers={"Host": "evil.example"}):
        assert urls.base() == "https://api.example.test/pb/api/files/pbc_123"


def test_the_sidecar_takes_file_urls_from_the_host_in_dev_mode_only():
    base = dict(PB_URL="http://127.0.0.1:1", PB_SUPERUSER_EMAIL="a@b.c", PB_SUPERUSER_PASSWORD="x" * 12,
                WECHAT_APPID="wx", WECHAT_SECRET="s", FILE_URLS_FROM_HOST=True)
    with pytest.raises(ConfigError, match="FILE_URLS_FROM_HOST is for dev mode only"):
        Config(**base).validated()
    assert Config(**base, WECHAT_DEV_STUB=True).validated().FILE_URLS_FROM_HOST


def test_a_live_sidecar_answers_file_urls_from_public_base_url_whatever_the_host(client, pb, unique):
    """Production mode (the session's sidecar: live, PUBLIC_BASE_URL set) never reads the Host header."""
    upload = pb.request("POST", "/api/collections/tbl_attachments/records", data={"attachments_owner": ""},
                        files={"attachments_link": ("card.png", b"\x89PNG-card", "image/png")}).json()
    pb.create_user(openid=f"oid-host-{unique}", users_picture=upload["attachments_id"])
    response = client.post("/pb/api/wechat/login", json={"users_wx_code": f"host-{unique}"},
                           headers={"Host": "evil.example"})
    assert response.status_code == 200, response.json
    assert response.json["data"]["user"]["users_picture_url"] == (
        f"https://api.example.test/pb/api/files/{upload['collectionId']}/{upload['id']}/{upload['attachments_link']}")
