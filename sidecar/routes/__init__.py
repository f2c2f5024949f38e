"""HTTP routes, one blueprint per URL family."""
from __future__ import annotations

from flask import current_app

from sidecar.accounts import AccountService
from sidecar.users import UserService

WX_CODE_MAX_LENGTH = 128


def users() -> UserService:
    """The app's user service."""
    return current_app.extensions["users"]


def accounts() -> AccountService:
    """The app's account lifecycle service."""
    return current_app.extensions["accounts"]
