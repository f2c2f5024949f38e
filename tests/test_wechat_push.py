"""sidecar/wechat/push.py: URL verification, signatures, safe mode; the pushes are made by the dev stub's own
implementation of WeChat's docs (ops/wechat_stub/security.py), so each side checks the other."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ops.stack_config import new_aes_key
from ops.wechat_stub.security import PushTarget, media_check_event
from sidecar.wechat import PushMalformed, PushReceiver, PushSignatureInvalid
from sidecar.wechat.push import aes_key_bytes, signature

TOKEN, APPID = "push-token-123", "wx-push-app"
AES_KEY = new_aes_key()
EVENT = media_check_event(APPID, "oid-1", "trace-1", "risky")


def receiver(aes_key: str = AES_KEY, token: str = TOKEN, appid: str = APPID) -> PushReceiver:
    return PushReceiver(token, aes_key, appid)


def safe_push(event: dict = EVENT, **target) -> tuple[dict, bytes]:
    return PushTarget(**{"url": "", "token": TOKEN, "aes_key": AES_KEY, "appid": APPID, **target}).signed(event)


def test_signature_is_the_sha1_of_the_sorted_parts():
    # WeChat's docs: sort token, timestamp, nonce as strings, join, sha1 hex.
    assert signature("b-token", "1700000000", "a-nonce") == \
        hashlib.sha1("1700000000a-nonceb-token".encode()).hexdigest()


def test_url_verification_echoes_echostr_for_our_token_only():
    query = {"timestamp": "1700000000", "nonce": "n0nce", "echostr": "echo-123"}
    query["signature"] = signature(TOKEN, query["timestamp"], query["nonce"])
    assert receiver().verify_url(query) == "echo-123"
    with pytest.raises(PushSignatureInvalid):
        receiver(token="another-token").verify_url(query)
    with pytest.raises(PushSignatureInvalid):
        receiver().verify_url({**query, "signature": ""})
    with pytest.raises(PushSignatureInvalid):
        receiver(token="").verify_url(query)  # no token configured: nothing is WeChat's


def test_a_plain_push_is_read_when_its_signature_is_ours():
    query, body = safe_push(aes_key="")
    assert "encrypt_type" not in query
    assert receiver(aes_key="").event(query, body) == EVENT


def test_a_plain_push_is_refused_once_safe_mode_is_configured():
    """Plain mode signs token, timestamp and nonce, not the body: with a key set, only safe mode is WeChat's."""
    query, body = safe_push(aes_key="")
    with pytest.raises(PushSignatureInvalid):
        receiver().event(query, body)


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000])
def test_a_push_nested_past_the_stack_is_refused_not_an_error(body):
    query = {"timestamp": "1700000000", "nonce": "n"}
    query["signature"] = signature(TOKEN, query["timestamp"], query["nonce"])
    with pytest.raises(PushMalformed):
        receiver(aes_key="").event(query, body)
    with pytest.raises(PushSignatureInvalid):
        receiver().event(query, body)


def test_a_safe_mode_push_round_trips():
    query, body = safe_push()
    assert query["encrypt_type"] == "aes" and set(json.loads(body)) == {"ToUserName", "Encrypt"}
    assert "trace-1" not in body.decode()
    assert receiver().event(query, body) == EVENT


@pytest.mark.parametrize("change", [
    {"signature": "0" * 40}, {"signature": ""}, {"timestamp": "1"}, {"nonce": "other"},
], ids=["wrong", "empty", "other timestamp", "other nonce"])
def test_a_plain_push_with_a_wrong_or_missing_signature_is_refused(change):
    query, body = safe_push(aes_key="")
    with pytest.raises(PushSignatureInvalid):
        receiver().event({**query, **change}, body)
    without = {k: v for k, v in query.items() if k != "signature"}
    with pytest.raises(PushSignatureInvalid):
        receiver().event(without, body)


@pytest.mark.parametrize("change", [{"msg_signature": "0" * 40}, {"msg_signature": ""}, {"nonce": "other"}])
def test_a_safe_mode_push_with_a_wrong_msg_signature_is_refused(change):
    query, body = safe_push()
    with pytest.raises(PushSignatureInvalid):
        receiver().event({**query, **change}, body)


def test_the_signature_alone_does_not_pass_a_safe_mode_push():
    """msg_signature covers the ciphertext: a replaced Encrypt with the old signatures is refused."""
    query, body = safe_push()
    _, other = safe_push(media_check_event(APPID, "oid-1", "trace-1", "pass"))
    with pytest.raises(PushSignatureInvalid):
        receiver().event(query, other)


def _signed_safe(encrypted: str) -> tuple[dict, bytes]:
    query = {"timestamp": "1700000000", "nonce": "n", "encrypt_type": "aes"}
    query["msg_signature"] = signature(TOKEN, query["timestamp"], query["nonce"], encrypted)
    return query, json.dumps({"ToUserName": "gh", "Encrypt": encrypted}).encode()


def _raw_encrypt(plain: bytes, key_text: str = AES_KEY) -> str:
    key = base64.b64decode(key_text + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def _padded(data: bytes, block: int = 32) -> bytes:
    pad = block - len(data) % block
    return data + bytes([pad]) * pad


@pytest.mark.parametrize("encrypted", [
    "not base64 !!!",
    base64.b64encode(b"short").decode(),
    _raw_encrypt(_padded(b"\0" * 16 + (5).to_bytes(4, "big") + b'{"a":1}' + APPID.encode())),  # length lies
    _raw_encrypt(_padded(b"\0" * 16 + (7).to_bytes(4, "big") + b'{"a":1}' + b"wx-other-app")),  # other appid
    _raw_encrypt(_padded(b"\0" * 16 + (7).to_bytes(4, "big") + b'{"a":1}' + APPID.encode())[:-1] + b"\0"),  # padding
    _raw_encrypt(_padded(b"\0" * 16 + (7).to_bytes(4, "big") + b"not-js" + b"x" + APPID.encode())),  # not JSON
    _raw_encrypt(_padded(b"\0" * 16 + (7).to_bytes(4, "big") + b'{"a":1}' + APPID.encode()), new_aes_key()),
], ids=["not base64", "not blocks", "length", "appid", "padding", "not json", "other key"])
def test_a_signed_safe_mode_push_that_does_not_decrypt_is_malformed(encrypted):
    with pytest.raises(PushMalformed):
        receiver().event(*_signed_safe(encrypted))


def test_a_safe_mode_push_without_an_aes_key_configured_is_malformed():
    with pytest.raises(PushMalformed):
        receiver(aes_key="").event(*safe_push())


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b""])
def test_a_signed_plain_push_that_is_not_a_json_object_is_malformed(body):
    query = {"timestamp": "1700000000", "nonce": "n"}
    query["signature"] = signature(TOKEN, query["timestamp"], query["nonce"])
    with pytest.raises(PushMalformed):
        receiver(aes_key="").event(query, body)


@pytest.mark.parametrize("key", ["", "short", "x" * 42, AES_KEY + "A", "!" * 43, "é" * 43])
def test_an_encoding_aes_key_is_43_base64_characters(key):
    with pytest.raises(ValueError):
        aes_key_bytes(key)


def test_repr_keeps_the_token_and_key_out():
    text = repr(receiver())
    assert TOKEN not in text and AES_KEY not in text
