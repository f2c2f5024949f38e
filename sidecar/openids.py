"""A worker's map of user record id -> openid, so that a route needing a user's openid asks PocketBase at most once.

A user's openid never changes (WeChat gives one per user and app; the record keeps it for life), so an entry
never goes stale; a closed account's entry only names an openid nobody asks for again. Filled by login answers
(remember) and, on a miss, by ONE read of the record with the caller's own token, which PocketBase answers only
for a valid token of that very user (the view rule), so a forged token learns no openid. Bounded: the least recently used entry
goes first once CAPACITY users are known.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict

from sidecar.domain import USERS
from sidecar.pocketbase import PocketBaseError, PocketBaseGateway, PocketBaseRefusal, token_claims

# PocketBase's record ids (ops/schema/pocketbase_json.py, the id field's pattern and length).
RECORD_ID = re.compile(r"[a-z0-9]{15}")
# ~200 bytes an entry: about 20 MB per worker at most.
CAPACITY = 100_000


class Openids:
    """Thread-safe, bounded: user record id -> openid."""

    def __init__(self, pb: PocketBaseGateway, capacity: int = CAPACITY):
        self._pb = pb
        self._capacity = capacity
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, user_id: str, openid: str) -> None:
        """Keep a user's openid (from a login answer or a UserInfo row); empty values are ignored."""
        if not user_id or not openid:
            return
        with self._lock:
            self._entries[user_id] = openid
            self._entries.move_to_end(user_id)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def openid(self, token: str) -> str:
        """The openid of the user a token names (its unverified `id` claim): remembered, else read with that token
        (one PocketBase call, answered only when the token is valid and that user's) and remembered.

        PocketBaseRefusal token_invalid when the token names no user or is not valid, no_openid when the user has
        none (not a WeChat user): what the internal routes answer for such a token."""
        user_id = token_claims(token).get("id")
        user_id = user_id if isinstance(user_id, str) else ""
        with self._lock:
            known = self._entries.get(user_id)
            if known is not None:
                self._entries.move_to_end(user_id)
                return known
        if not RECORD_ID.fullmatch(user_id):  # nothing else names a record: not worth a call
            raise PocketBaseRefusal.of("token_invalid")
        try:
            record = self._pb.as_user("GET", f"/api/collections/{USERS}/records/{user_id}", token,
                                      params={"fields": "openid"})
        except PocketBaseError as exc:
            if exc.status in (400, 401, 403, 404):
                raise PocketBaseRefusal.of("token_invalid") from None
            raise
        openid = record.get("openid") if isinstance(record, dict) else None
        if not isinstance(openid, str) or not openid:
            raise PocketBaseRefusal.of("no_openid")
        self.remember(user_id, openid)
        return openid
