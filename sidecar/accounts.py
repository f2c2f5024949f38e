"""Account lifecycle of the bearer's user: logout everywhere and closing the account.
Each is one call to a superuser-only internal route of pb_hooks/accounts.pb.js, which verifies the
user's token inside PocketBase and acts on the record in the same request.
"""
from __future__ import annotations

from sidecar.pocketbase import PocketBaseError, PocketBaseGateway
from sidecar.users import refusal_error

LOGOUT_PATH = "/api/internal/logout"
CLOSE_ACCOUNT_PATH = "/api/internal/close-account"


class AccountService:
    """Logout everywhere and account closing, over the internal routes."""

    def __init__(self, pb: PocketBaseGateway):
        self.pb = pb

    def logout(self, bearer: str) -> str:
        """Revoke every token of the bearer's user (a new tokenKey); answer the user's record id."""
        return self._internal(LOGOUT_PATH, bearer)["id"]

    def close_account(self, bearer: str) -> str:
        """Delete the bearer's user record (its tokens, openid and phone go with it); answer its record id."""
        return self._internal(CLOSE_ACCOUNT_PATH, bearer)["id"]

    def _internal(self, path: str, bearer: str) -> dict:
        try:
            return self.pb.call("POST", path, body={"token": bearer})
        except PocketBaseError as exc:
            # token_invalid -> 401, as for the other routes; anything else is a failure of ours (errors.py).
            raise refusal_error(exc) from None
