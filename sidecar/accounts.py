"""Account lifecycle of the bearer's user: logout everywhere and closing the account.
Each is one call to a superuser-only internal route of pb_hooks/accounts.pb.js, which verifies the
user's token inside PocketBase and acts on the record in the same request.
"""
from __future__ import annotations

from sidecar.pocketbase import PocketBaseGateway


class AccountService:
    """Logout everywhere and account closing, over the internal routes."""

    def __init__(self, pb: PocketBaseGateway):
        self.pb = pb

    def logout(self, bearer: str) -> str:
        """Revoke every token of the bearer's user (a new tokenKey); answer the user's record id."""
        return self.pb.internal("POST", "logout", {"token": bearer})["id"]

    def close_account(self, bearer: str) -> str:
        """Delete the bearer's user record (its tokens, openid and phone go with it); answer its record id."""
        return self.pb.internal("POST", "close-account", {"token": bearer})["id"]
