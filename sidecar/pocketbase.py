"""The PocketBase gateway: superuser calls over pooled keep-alive connections, user-token checks, typed failures."""
from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import time
from typing import Any
from urllib.parse import urlencode

from sidecar.errors import ServiceUnavailable, UpstreamError
from sidecar.httppool import ConnectionPool

log = logging.getLogger(__name__)

SUPERUSERS = "_superusers"
# Renew the superuser token this long before it expires, so no request carries a dying token.
RENEW_MARGIN_SECONDS = 300
RECHECK_SECONDS = 120


class PocketBaseError(Exception):
    """PocketBase answered 4xx: status plus its native error body (message, data)."""

    def __init__(self, status: int, body: dict | None):
        super().__init__(f"PocketBase answered {status}")
        self.status = status
        self.body = body or {}

    def field_codes(self) -> dict[str, str]:
        """Field name -> validation code, e.g. {"openid": "validation_not_unique"}."""
        data = self.body.get("data") or {}
        return {name: (detail or {}).get("code", "") for name, detail in data.items() if isinstance(detail, dict)}


def token_claims(token: str) -> dict:
    """The payload of a JWT, unverified: only for routing a check that PocketBase then verifies."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
        return claims if isinstance(claims, dict) else {}
    except (IndexError, ValueError, UnicodeDecodeError):
        return {}


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


class PocketBaseGateway:
    """Every call the sidecar makes to PocketBase."""

    def __init__(self, url: str, email: str, password: str, timeout: float = 10.0, pool_size: int = 16):
        self.url = url.rstrip("/")
        self._email = email
        self._password = password
        self._pool = ConnectionPool(self.url, timeout=timeout, size=pool_size)
        self._auth_lock = threading.Lock()
        self._token = ""
        self._token_expires = 0.0
        self._token_checked = 0.0
        self._collection_ids: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"PocketBaseGateway(url={self.url!r})"

    # ------------------------------------------------------------ transport

    def _superuser_token(self, stale: str = "") -> str:
        """The cached superuser token, renewed when missing, expiring, due for a check, or equal to `stale`."""
        if self._token_usable(stale):
            return self._token
        with self._auth_lock:
            if self._token_usable(stale):
                return self._token
            token = ""
            if self._token and self._token != stale and time.time() < self._token_expires:
                token = self._refreshed(self._token)
            if not token:
                token = self._send("POST", f"/api/collections/{SUPERUSERS}/auth-with-password",
                                   body={"identity": self._email, "password": self._password}, token="")["token"]
                log.info("superuser session created")
            self._token = token
            self._token_expires = float(token_claims(token).get("exp", time.time() + 600))
            self._token_checked = time.monotonic()
            return token

    def _token_usable(self, stale: str) -> bool:
        # PocketBase treats an invalid token as a guest: lists then come back empty instead of
        # failing. So the token is also re-checked every few minutes, not only trusted until expiry.
        return bool(self._token) and self._token != stale \
            and time.time() < self._token_expires - RENEW_MARGIN_SECONDS \
            and time.monotonic() - self._token_checked < RECHECK_SECONDS

    def _refreshed(self, token: str) -> str:
        """A renewed superuser token from auth-refresh, or "" when PocketBase no longer accepts token."""
        try:
            return self._send("POST", f"/api/collections/{SUPERUSERS}/auth-refresh", token=token)["token"]
        except PocketBaseError:
            return ""

    def _send(self, method: str, path: str, *, token: str, params: dict | None = None, body: Any = None) -> Any:
        """One HTTP call with that token ("" = guest), answering the decoded JSON body."""
        headers = {"Authorization": token}
        payload = None
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        target = f"{path}?{urlencode(params)}" if params else path
        try:
            status, data = self._pool.request(method, target, payload, headers)
        except (OSError, http.client.HTTPException) as exc:
            log.warning("pocketbase unreachable: %s %s (%s)", method, path, type(exc).__name__)
            raise ServiceUnavailable("数据服务暂不可用,请稍后再试") from None
        if status >= 500:
            log.warning("pocketbase error %s on %s %s", status, method, path)
            raise UpstreamError("数据服务异常,请稍后再试")
        decoded = _json_or_none(data)
        if status >= 400:
            raise PocketBaseError(status, decoded if isinstance(decoded, dict) else None)
        return decoded

    def call(self, method: str, path: str, *, params: dict | None = None, body: Any = None) -> Any:
        """A superuser call; 401 or 403 (the token was revoked: we are not superuser) re-authenticates once."""
        token = self._superuser_token()
        try:
            return self._send(method, path, params=params, body=body, token=token)
        except PocketBaseError as exc:
            if exc.status not in (401, 403):
                raise
            return self._send(method, path, params=params, body=body, token=self._superuser_token(stale=token))

    # ------------------------------------------------------------ records

    def list_records(self, collection: str, filter: str = "", per_page: int = 30, sort: str = "",
                     fields: str = "") -> list[dict]:
        """The first page of records matching filter (no total count: cheaper)."""
        params = {"perPage": per_page, "skipTotal": "true"}
        for key, value in (("filter", filter), ("sort", sort), ("fields", fields)):
            if value:
                params[key] = value
        return self.call("GET", f"/api/collections/{collection}/records", params=params)["items"]

    def count_records(self, collection: str) -> int:
        """totalItems of the collection."""
        body = self.call("GET", f"/api/collections/{collection}/records", params={"perPage": 1, "fields": "id"})
        return int(body["totalItems"])

    def create_record(self, collection: str, data: dict) -> dict:
        return self.call("POST", f"/api/collections/{collection}/records", body=data)

    def update_record_atomically(self, collection: str, record_id: str, data: dict) -> dict:
        """PATCH inside a batch transaction, so concurrent updates of other fields are not lost."""
        try:
            result = self.call("POST", "/api/batch", body={"requests": [
                {"method": "PATCH", "url": f"/api/collections/{collection}/records/{record_id}", "body": data},
            ]})
        except PocketBaseError as exc:
            # Unwrap "Batch transaction failed" into the error of the one request inside it.
            inner = ((exc.body.get("data") or {}).get("requests") or {}).get("0", {}).get("response")
            if isinstance(inner, dict) and isinstance(inner.get("status"), int):
                raise PocketBaseError(inner["status"], inner) from None
            raise
        return result[0]["body"]

    def impersonate(self, collection: str, record_id: str, duration: int) -> str:
        """A PocketBase-native auth token for the record, valid for duration seconds."""
        body = self.call("POST", f"/api/collections/{collection}/impersonate/{record_id}",
                         body={"duration": duration})
        return body["token"]

    def get_record(self, collection: str, record_id: str) -> dict:
        """One record by id (PocketBaseError 404 when it is gone)."""
        return self.call("GET", f"/api/collections/{collection}/records/{record_id}")

    def record_for_token(self, collection: str, token: str, via: str = "") -> dict | None:
        """The auth record a user token belongs to, verified by PocketBase; None when the token is not valid.

        With `via`, the record's row in that view instead, whose view rule must admit only its owner.
        """
        claims = token_claims(token)
        record_id, collection_id = claims.get("id"), claims.get("collectionId")
        if claims.get("type") != "auth" or not isinstance(record_id, str) or not record_id.isalnum():
            return None
        if collection_id != self.collection_id(collection):
            return None
        try:
            # The view rule admits only the owner: PocketBase answers 404 unless the signature,
            # expiry and tokenKey of this token are valid for exactly this record.
            return self._send("GET", f"/api/collections/{via or collection}/records/{record_id}", token=token)
        except PocketBaseError as exc:
            if exc.status in (401, 403, 404):
                return None
            raise

    def collection_id(self, name: str) -> str:
        """The id of a collection (cached: ids never change, see schema.yaml)."""
        if name not in self._collection_ids:
            self._collection_ids[name] = self.call("GET", f"/api/collections/{name}", params={"fields": "id"})["id"]
        return self._collection_ids[name]

    def healthy(self) -> bool:
        """Whether PocketBase answers its health check."""
        try:
            self._send("GET", "/api/health", token="")
            return True
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            return False
