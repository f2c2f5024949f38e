"""Message push (消息推送): WeChat's URL verification, signatures, and safe mode's AES decryption.

WeChat docs: 消息推送 / 服务器配置 (URL, Token, EncodingAESKey; 明文 / 兼容 / 安全 mode, data format JSON) and
消息加解密 (安全模式). What a push carries in its query: signature, timestamp, nonce (plain mode), plus
encrypt_type=aes and msg_signature in safe mode, whose JSON body is {"ToUserName", "Encrypt"}.

- signature = sha1 of the sorted concatenation of Token, timestamp, nonce
- msg_signature = sha1 of the sorted concatenation of Token, timestamp, nonce, Encrypt
- Encrypt = base64(AES-256-CBC(key, iv = key[:16], PKCS#7 to 32-byte blocks) of
  16 random bytes + the message's length (4 bytes, big-endian) + the message + the appid),
  key = base64 of EncodingAESKey + "=" (43 characters -> 32 bytes)
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Mapping

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sidecar.wechat.errors import PushMalformed, PushSignatureInvalid

AES_KEY_LENGTH = 43
# WeChat pads to 32-byte blocks, not AES's 16 (消息加解密: PKCS#7 with K = 32).
PKCS7_BLOCK_BITS = 256
RANDOM_PREFIX = 16


def aes_key_bytes(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of an EncodingAESKey (43 base64 characters); ValueError when it is not one."""
    if len(encoding_aes_key) != AES_KEY_LENGTH:
        raise ValueError(f"an EncodingAESKey is {AES_KEY_LENGTH} characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error:
        raise ValueError("an EncodingAESKey is base64") from None
    if len(key) != 32:
        raise ValueError("an EncodingAESKey decodes to 32 bytes")
    return key


def signature(*parts: str) -> str:
    """WeChat's push signature: sha1 hex of the parts sorted and joined (token, timestamp, nonce[, Encrypt])."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class PushReceiver:
    """Checks and opens WeChat's pushes for one app: token (Token), EncodingAESKey ("" = plain mode only), appid."""

    def __init__(self, token: str, encoding_aes_key: str, appid: str):
        self._token = token
        self._key = aes_key_bytes(encoding_aes_key) if encoding_aes_key else b""
        self.appid = appid

    def __repr__(self) -> str:
        return f"PushReceiver(appid={self.appid!r}, safe_mode={bool(self._key)})"

    def verify_url(self, query: Mapping[str, str]) -> str:
        """The echostr to answer WeChat's URL verification (GET); PushSignatureInvalid when not WeChat's."""
        self._check(query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", ""))
        echostr = query.get("echostr", "")
        if not echostr:
            raise PushMalformed("no echostr")
        return echostr

    def event(self, query: Mapping[str, str], body: bytes) -> dict:
        """The JSON event of a push (POST): plain, or decrypted when the body carries Encrypt (safe mode).

        PushSignatureInvalid: signature (plain) or msg_signature (safe) missing or wrong, checked before the body
        is read any further; a plain push when an EncodingAESKey is configured (only safe mode is WeChat's then). PushMalformed: a signed body that is not a JSON object or does not decrypt."""
        try:
            envelope = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[... nested past the stack
            envelope = None
        encrypted = envelope.get("Encrypt") if isinstance(envelope, dict) else None
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if encrypted is None and query.get("encrypt_type") != "aes":
            if self._key:
                # Safe mode configured: a plain body is not WeChat's. Its signature covers only token, timestamp
                # and nonce, not the body, so one signed URL seen anywhere (a log line) would sign any verdict.
                raise PushSignatureInvalid("plain push while safe mode is configured")
            self._check(query.get("signature", ""), timestamp, nonce)
            if not isinstance(envelope, dict):
                raise PushMalformed("body is not a JSON object")
            return envelope
        if not isinstance(encrypted, str):
            # Safe mode announced but no ciphertext: nothing to verify msg_signature against.
            raise PushSignatureInvalid("no Encrypt")
        self._check(query.get("msg_signature", ""), timestamp, nonce, encrypted)
        try:
            event = json.loads(self.decrypt(encrypted))
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise PushMalformed("decrypted message is not JSON") from None
        if not isinstance(event, dict):
            raise PushMalformed("decrypted message is not a JSON object")
        return event

    def decrypt(self, encrypted: str) -> bytes:
        """The message inside a safe-mode Encrypt; PushMalformed on any fault (key, base64, padding, appid)."""
        if not self._key:
            raise PushMalformed("safe mode push but no EncodingAESKey configured")
        try:
            ciphertext = base64.b64decode(encrypted, validate=True)
            decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).decryptor()
            padded = decryptor.update(ciphertext) + decryptor.finalize()
            unpadder = padding.PKCS7(PKCS7_BLOCK_BITS).unpadder()
            plain = unpadder.update(padded) + unpadder.finalize()
        except (binascii.Error, ValueError):
            raise PushMalformed("ciphertext does not decrypt") from None
        content = plain[RANDOM_PREFIX:]
        if len(content) < 4:
            raise PushMalformed("message too short")
        length = int.from_bytes(content[:4], "big")
        message, appid = content[4:4 + length], content[4 + length:]
        if len(message) != length or appid != self.appid.encode():
            raise PushMalformed("message length or appid does not match")
        return message

    def _check(self, given: str, *parts: str) -> None:
        # Without a configured token nothing can be WeChat's; compare_digest: no timing hints on the signature.
        if not self._token or not given or not all(parts[:2]) or \
                not hmac.compare_digest(given.encode(), signature(self._token, *parts).encode()):
            raise PushSignatureInvalid("signature mismatch")
