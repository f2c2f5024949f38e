"""HTTP routes, one blueprint per URL family."""
from __future__ import annotations

from flask import current_app

from sidecar.limits import WX_CODE_MAX_LENGTH  # noqa: F401 - the name routes/wechat.py and system.py import
from sidecar.accounts import AccountService
from sidecar.moderation import ModerationService
from sidecar.share import ShareService
from sidecar.uploads import UploadService
from sidecar.users import UserService


def users() -> UserService:
    """The app's user service."""
    return current_app.extensions["users"]


def profile_max_lengths() -> dict[str, int]:
    """The profile route's fields and their longest accepted values (create_app reads them from schema.yaml)."""
    return current_app.config["PROFILE_MAX_LENGTHS"]


def accounts() -> AccountService:
    """The app's account lifecycle service."""
    return current_app.extensions["accounts"]


def moderation() -> ModerationService:
    """The app's content security and message push service."""
    return current_app.extensions["moderation"]


def uploads() -> UploadService:
    """The app's upload service."""
    return current_app.extensions["uploads"]


def shares() -> ShareService:
    """The app's share code service."""
    return current_app.extensions["share"]
