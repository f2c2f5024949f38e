"""The PocketBase gateway: superuser calls over pooled keep-alive connections, user-token checks, typed failures.

Its failures are its own types (PocketBaseFault); sidecar/errors.py words them for API users.
"""
from __future__ import annotations

import base64
import http.client
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

import orjson

from sidecar.domain import REFUSALS
from sidecar.httppool import ConnectionPool

log = logging.getLogger(__name__)

SUPERUSERS = "_superusers"
# Renew the superuser token this long before it expires, so no request carries a dying token.
RENEW_MARGIN_SECONDS = 300
RECHECK_SECONDS = 120


@dataclass(frozen=True)
class ClientInfo:
    """Who a request came from, as nginx saw it: forwarded on internal-route calls."""

    ip: str = ""
    user_agent: str = ""

    def headers(self) -> dict:
        return {name: value for name, value in (("X-Real-IP", self.ip), ("User-Agent", self.user_agent)) if value}


@dataclass(frozen=True)
class MultipartBody:
    """A multipart/form-data body of text fields and one file, sent as three chunks (framing, the file's
    bytes as they are, the closing boundary): the file is never copied into a request buffer."""

    fields: dict[str, str]
    file_field: str
    file_name: str
    file_type: str
    file_data: bytes | memoryview
    boundary: str = field(default_factory=lambda: "----pb" + secrets.token_hex(16))

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def chunks(self) -> tuple[bytes | memoryview, ...]:
        """The body's parts in order; a tuple, so a resend (httppool's one retry) sends it again whole."""
        head = "".join(f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                       for name, value in self.fields.items())
        head += (f'--{self.boundary}\r\nContent-Disposition: form-data; name="{self.file_field}"; '
                 f'filename="{self.file_name}"\r\nContent-Type: {self.file_type}\r\n\r\n')
        return head.encode(), self.file_data, f"\r\n--{self.boundary}--\r\n".encode()


class PocketBaseFault(Exception):
    """A PocketBase call did not give an answer to use; what API users see of it is sidecar/errors.py's."""


class PocketBaseUnavailable(PocketBaseFault):
    """PocketBase could not be reached (connection refused or reset, timeout)."""


class PocketBaseFailed(PocketBaseFault):
    """PocketBase answered 5xx."""

    def __init__(self, status: int):
        super().__init__(f"PocketBase answered {status}")
        self.status = status


class PocketBaseError(PocketBaseFault):
    """PocketBase refused the call (4xx): status plus its body (native: message, data; ours: reason, field)."""

    def __init__(self, status: int, body: dict | None):
        super().__init__(f"PocketBase answered {status}")
        self.status = status
        self.body = body or {}

    @property
    def reason(self) -> str:
        """The refusal reason of one of our internal routes (pb_hooks/internal.pb.js); "" otherwise."""
        reason = self.body.get("reason")
        return reason if isinstance(reason, str) else ""

    def field_codes(self) -> dict[str, str]:
        """Field name -> validation code of a native error body, e.g. {"openid": "validation_not_unique"}."""
        data = self.body.get("data") or {}
        return {name: (detail or {}).get("code", "") for name, detail in data.items() if isinstance(detail, dict)}


class PocketBaseRefusal(PocketBaseError):
    """PocketBase refused for one of the reasons of vocabulary.yaml's refusals: an internal route's answer
    {reason, field?} (pb_hooks/lib/domain.js refusal()), or the same decision taken from what the sidecar keeps
    of PocketBase's (sidecar/openids.py). sidecar/errors.py words each reason for API users."""

    @classmethod
    def of(cls, reason: str, field: str = "") -> "PocketBaseRefusal":
        """The refusal PocketBase gives for reason (its status: vocabulary.yaml's)."""
        return cls(REFUSALS[reason][0], {"reason": reason, **({"field": field} if field else {})})

    @property
    def field(self) -> str:
        """The field the refusal names ("" when none)."""
        field = self.body.get("field")
        return field if isinstance(field, str) else ""


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
    # orjson: json.loads's values for what PocketBase (Go) writes, for less CPU (docs/performance.md, "JSON with orjson").
    try:
        return orjson.loads(data) if data else None
    except ValueError:
        return None


class PocketBaseGateway:
    """Every call the sidecar makes to PocketBase."""

    def __init__(self, url: str, email: str, password: str, timeout: float = 10.0, pool_size: int = 8,
                 clock: Callable[[], float] = time.time):
        self.url = url.rstrip("/")
        # Wall-clock seconds, as a token's `exp` claim counts them; tests move it instead of waiting.
        self._clock = clock
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
            if self._token and self._token != stale and self._clock() < self._token_expires:
                token = self._refreshed(self._token)
            if not token:
                token = self._send("POST", f"/api/collections/{SUPERUSERS}/auth-with-password",
                                   body={"identity": self._email, "password": self._password}, token="")["token"]
                log.info("superuser session created")
            self._token = token
            self._token_expires = float(token_claims(token).get("exp", self._clock() + 600))
            self._token_checked = self._clock()
            return token

    def _token_usable(self, stale: str) -> bool:
        # PocketBase treats an invalid token as a guest: lists then come back empty instead of
        # failing. So the token is also re-checked every few minutes, not only trusted until expiry.
        return bool(self._token) and self._token != stale \
            and self._clock() < self._token_expires - RENEW_MARGIN_SECONDS \
            and self._clock() - self._token_checked < RECHECK_SECONDS

    def _refreshed(self, token: str) -> str:
        """A renewed superuser token from auth-refresh, or "" when PocketBase no longer accepts token."""
        try:
            return self._send("POST", f"/api/collections/{SUPERUSERS}/auth-refresh", token=token)["token"]
        except PocketBaseError:
            return ""

    def _send(self, method: str, path: str, *, token: str, params: dict | None = None, body: Any = None,
              headers: dict | None = None) -> Any:
        """One HTTP call with that token ("" = guest), answering the decoded JSON body."""
        headers = {**(headers or {}), "Authorization": token}
        payload = None
        if isinstance(body, MultipartBody):
            payload = body.chunks()
            headers["Content-Type"] = body.content_type
            headers["Content-Length"] = str(sum(len(chunk) for chunk in payload))
        elif body is not None:
            payload = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        target = f"{path}?{urlencode(params)}" if params else path
        try:
            status, data = self._pool.request(method, target, payload, headers)
        except (OSError, http.client.HTTPException) as exc:
            log.warning("pocketbase unreachable: %s %s (%s)", method, path, type(exc).__name__)
            raise PocketBaseUnavailable(f"{method} {path}: {type(exc).__name__}") from None
        if status >= 500:
            log.warning("pocketbase error %s on %s %s", status, method, path)
            raise PocketBaseFailed(status)
        decoded = _json_or_none(data)
        if status >= 400:
            raise PocketBaseError(status, decoded if isinstance(decoded, dict) else None)
        return decoded

    def call(self, method: str, path: str, *, params: dict | None = None, body: Any = None,
             headers: dict | None = None) -> Any:
        """A superuser call; PocketBase's own 401 or 403 (the token was revoked: we are not superuser)
        re-authenticates once. An internal route's refusal (a body with a `reason`) is the answer."""
        token = self._superuser_token()
        try:
            return self._send(method, path, params=params, body=body, token=token, headers=headers)
        except PocketBaseError as exc:
            if exc.status not in (401, 403) or exc.reason:
                raise
            return self._send(method, path, params=params, body=body, token=self._superuser_token(stale=token),
                              headers=headers)

    # ------------------------------------------------------------ our internal routes and native auth

    def internal(self, method: str, name: str, body: dict | MultipartBody | None = None,
                 client: ClientInfo | None = None) -> dict:
        """One call of an internal route (/api/internal/<name>), on behalf of the client when given.
        body: JSON, or a MultipartBody (a file: the upload route).

        The client's address and user agent go along, so the hook sees them (e.realIP(): X-Real-IP
        is PocketBase's trusted proxy header, schema.yaml settings). PocketBaseRefusal on a refusal for one of
        vocabulary.yaml's reasons; PocketBaseError on any other.
        """
        headers = client.headers() if client else None
        try:
            return self.call(method, f"/api/internal/{name}", body=body, headers=headers)
        except PocketBaseError as exc:
            if exc.reason in REFUSALS:
                raise PocketBaseRefusal(exc.status, exc.body) from None
            raise

    def as_user(self, method: str, path: str, token: str, *, params: dict | None = None) -> Any:
        """A call with a user's own token: PocketBase applies the collection's rules to it, so it answers only
        what that user may see (never retried as superuser). PocketBaseError on a refusal."""
        return self._send(method, path, token=token, params=params)

    def auth_refresh(self, collection: str, token: str, client: ClientInfo | None = None) -> str:
        """A renewed token from PocketBase's native auth-refresh; "" when token is not a valid one of collection.

        The client's address and user agent go along for the audit row PocketBase writes (login_log.pb.js)."""
        try:
            body = self._send("POST", f"/api/collections/{collection}/auth-refresh", token=token,
                              params={"fields": "token"}, headers=client.headers() if client else None)
        except PocketBaseError as exc:
            if exc.status in (400, 401, 403, 404):
                return ""
            raise
        return body["token"] if isinstance(body, dict) and isinstance(body.get("token"), str) else ""

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
