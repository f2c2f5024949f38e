"""The dev stub's content security: msg_sec_check, media_check_async, and the verdict pushed a moment later.

Markers (the same table is in docs/operations.md, "WeChat dev stub"), found anywhere in the text, or for a picture in
its media URL or the uploader's openid (the upload route stores files as upload_<random>.<ext>, so a dev user whose
login code holds the marker, e.g. `pics-risky`, gets that verdict on every picture), case-insensitive; the first
matching rule wins:

  ``slow-<seconds>``   sleep first (float, at most 60 s), then go on with the rules below
  ``fail-<errcode>``   answer that errcode (text: the check; picture: the submission)
  ``unchecked``        text: suggest ``pass``; picture: a push with errcode -1008 and no verdict (WeChat could not
                       download it), as WeChat pushes a check it could not make
  ``risky``            suggest ``risky`` (text: 400 from the profile route; picture: 违规, file removed)
  ``review``           suggest ``review`` (text is stored; a picture goes to 待人工审核)
  anything else        suggest ``pass``

A picture's verdict is pushed as WeChat pushes it (消息推送: a ``wxa_media_check`` JSON event, signed with the push
token; encrypted in safe mode when an EncodingAESKey is set) to the push URL, PUSH_DELAY seconds after the
submission. The signing and encryption here are written from WeChat's docs independently of the sidecar's
(sidecar/wechat/push.py), so each side checks the other.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

import requests
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

log = logging.getLogger("ops.wechat_stub")

PUSH_DELAY_SECONDS = 0.5
# The longest a marker (slow-, lag-) makes any of the stub's answers wait: a typo must not hang a test for hours.
MAX_SLEEP_SECONDS = 60.0
SLOW_MARKER = re.compile(r"slow-(\d+(?:\.\d+)?)", re.I)
FAIL_MARKER = re.compile(r"fail-(-?\d+)", re.I)
LABELS = {"pass": 100, "risky": 20001, "review": 21000}
UNCHECKED = "unchecked"
# WeChat's errcode of a media check whose file it could not download (wxa_media_check push).
ERR_MEDIA_DOWNLOAD = -1008


def marked(text: str) -> int | str:
    """The rules above on text: an errcode (int) to answer, else the suggest."""
    slow = SLOW_MARKER.search(text)
    if slow:
        time.sleep(min(float(slow.group(1)), MAX_SLEEP_SECONDS))
    fail = FAIL_MARKER.search(text)
    if fail:
        return int(fail.group(1))
    lowered = text.lower()
    if UNCHECKED in lowered:
        return UNCHECKED
    return "risky" if "risky" in lowered else "review" if "review" in lowered else "pass"


def verdict(suggest: str) -> dict:
    """result and detail of a check, as version 2 answers them."""
    return {"result": {"suggest": suggest, "label": LABELS[suggest]},
            "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": LABELS[suggest],
                        "prob": 90}]}


@dataclass
class PushTarget:
    """Where and how the stub pushes verdicts: the stack's push URL, the push Token, the EncodingAESKey ("" =
    plain mode) and the appid. Secrets stay out of repr()."""

    url: str = ""
    token: str = field(default="", repr=False)
    aes_key: str = field(default="", repr=False)
    appid: str = ""

    @classmethod
    def from_env(cls, appid: str) -> "PushTarget":
        """From WECHAT_STUB_PUSH_URL / _TOKEN / _AES_KEY (the environment: never a command line)."""
        return cls(os.environ.get("WECHAT_STUB_PUSH_URL", ""), os.environ.get("WECHAT_STUB_PUSH_TOKEN", ""),
                   os.environ.get("WECHAT_STUB_PUSH_AES_KEY", ""), appid)

    def signed(self, event: dict) -> tuple[dict, bytes]:
        """(query, body) of the push of event: plain, or safe mode (Encrypt + msg_signature) with an AES key."""
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        message = json.dumps(event, ensure_ascii=False).encode()
        query = {"timestamp": timestamp, "nonce": nonce, "signature": sha1(self.token, timestamp, nonce),
                 "openid": event.get("FromUserName", "")}
        if not self.aes_key:
            return query, message
        encrypted = self.encrypt(message)
        query.update(encrypt_type="aes", msg_signature=sha1(self.token, timestamp, nonce, encrypted))
        return query, json.dumps({"ToUserName": event.get("ToUserName", ""), "Encrypt": encrypted}).encode()

    def encrypt(self, message: bytes) -> str:
        """安全模式: base64(AES-256-CBC(16 random bytes + len (4, big-endian) + message + appid)), PKCS#7 to 32."""
        key = base64.b64decode(self.aes_key + "=")
        plain = os.urandom(16) + len(message).to_bytes(4, "big") + message + self.appid.encode()
        padder = padding.PKCS7(256).padder()
        padded = padder.update(plain) + padder.finalize()
        encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()

    def push(self, event: dict) -> int:
        """POST the event to the push URL; its HTTP status (0 when it could not be sent)."""
        query, body = self.signed(event)
        try:
            response = requests.post(self.url, params=query, data=body, timeout=10,
                                     headers={"Content-Type": "application/json"})
        except requests.RequestException as exc:
            log.warning("push of a media verdict failed: %s", type(exc).__name__)
            return 0
        log.info("pushed a media verdict: %s", response.status_code)
        return response.status_code


def sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def media_check_event(appid: str, openid: str, trace_id: str, suggest: str) -> dict:
    """The wxa_media_check event of a verdict (消息推送 JSON, version 2); for UNCHECKED, the event of a check WeChat
    could not make: errcode -1008, no result."""
    event = {"ToUserName": "gh_devstub", "FromUserName": openid, "CreateTime": int(time.time()),
             "MsgType": "event", "Event": "wxa_media_check", "appid": appid, "trace_id": trace_id, "version": 2}
    if suggest == UNCHECKED:
        return {**event, "errcode": ERR_MEDIA_DOWNLOAD, "errmsg": "media download failed"}
    return {**event, "errcode": 0, "errmsg": "ok", **verdict(suggest)}


def push_later(target: PushTarget, event: dict, delay: float = PUSH_DELAY_SECONDS) -> threading.Thread:
    """Push the event after delay seconds, in a daemon thread (as WeChat, after the submission has been answered)."""
    def run() -> None:
        time.sleep(delay)
        target.push(event)
    thread = threading.Thread(target=run, name="wechat-stub-push", daemon=True)
    thread.start()
    return thread
