"""The dev stub's subscribeMessage.send: WeChat's checks, markers for its failures, and the messages it was asked to send.

Markers in ``touser`` (a dev user's openid is ``dev-openid-NAME``, so log in as e.g. ``refuse-alice``; the same table
is in docs/subscribe.md), case-insensitive; the first matching rule wins:

  ``slow-<seconds>``   every send to this user sleeps first (at most 60 s), then goes on with the rules below
  ``lag-<seconds>``    only the first send to this user sleeps (a timeout, then success)
  ``refuse``           errcode 43101 (the user has no grant left)
  ``busy-<n>``         the first n sends to this user answer errcode -1 (system busy), then the rules below
  ``fail-<errcode>``   that errcode on every send (e.g. ``fail-40003``)

And as WeChat checks them: a template_id containing ``invalid`` answers 40037, a page containing ``missing`` 41030,
a keyword's value empty or past its type's length (thing 20, phrase 5, number/letter/character_string 32, name 20)
47003. Every message sent (errcode 0) is kept, the last KEEP, and logged: ``GET /__stub/subscribe-messages``
(optionally ``?touser=<openid>``) answers them as JSON, newest last, with ``sends``: how many send calls (any
outcome) were made; the log line names touser, template and values.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque

from ops.wechat_stub.security import MAX_SLEEP_SECONDS

log = logging.getLogger("ops.wechat_stub")

KEEP = 1000
SLOW = re.compile(r"slow-(\d+(?:\.\d+)?)", re.I)
LAG = re.compile(r"lag-(\d+(?:\.\d+)?)", re.I)
BUSY = re.compile(r"busy-(\d+)", re.I)
FAIL = re.compile(r"fail-(-?\d+)", re.I)
LIMITS = {"thing": 20, "phrase": 5, "number": 32, "letter": 32, "character_string": 32, "name": 20, "symbol": 5}


class SubscribeOutbox:
    """What the stub was asked to send, and the per-user counts its markers need. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._sent: deque[dict] = deque(maxlen=KEEP)
        self._sends: dict[str, int] = {}

    def messages(self, touser: str = "") -> dict:
        """{"messages": [kept messages, oldest first], "sends": calls} of touser ("" = everyone's)."""
        with self._lock:
            return {"messages": [m for m in self._sent if not touser or m["touser"] == touser],
                    "sends": self._sends.get(touser, 0) if touser else sum(self._sends.values())}

    def send(self, body: dict) -> int:
        """The errcode of one send (0: sent and kept)."""
        touser, template_id, page, data = body.get("touser"), body.get("template_id"), body.get("page", ""), \
            body.get("data")
        if not isinstance(touser, str) or not touser:
            return 40003
        with self._lock:
            nth = self._sends[touser] = self._sends.get(touser, 0) + 1
        slow = SLOW.search(touser) or (LAG.search(touser) if nth == 1 else None)
        if slow:
            time.sleep(min(float(slow.group(1)), MAX_SLEEP_SECONDS))
        if "refuse" in touser.lower():
            return 43101
        busy = BUSY.search(touser)
        if busy and nth <= int(busy.group(1)):
            return -1
        fail = FAIL.search(touser)
        if fail:
            return int(fail.group(1))
        if not isinstance(template_id, str) or not template_id or "invalid" in template_id:
            return 40037
        if not isinstance(page, str) or "missing" in page:
            return 41030
        if not isinstance(data, dict) or not data or not all(self._fits(k, v) for k, v in data.items()):
            return 47003
        message = {"touser": touser, "template_id": template_id, "page": page,
                   "data": {k: v["value"] for k, v in data.items()}, "at": time.time()}
        with self._lock:
            self._sent.append(message)
        log.info("subscribe message to %s template %s page %r: %s", touser, template_id, page, message["data"])
        return 0

    @staticmethod
    def _fits(keyword: str, value: object) -> bool:
        if not isinstance(value, dict) or not isinstance(value.get("value"), str) or not value["value"]:
            return False
        kind = keyword.rstrip("0123456789")
        return len(value["value"]) <= LIMITS.get(kind, 64)
