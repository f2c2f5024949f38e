"""The Flask sidecar: our routes under /pb/api/ (the contract's and what we added), in front of PocketBase."""
from __future__ import annotations

import io
import logging

from flask import Flask, Request

from sidecar.accounts import AccountService
from sidecar.config import Config
from sidecar.cors import init_cors
from sidecar.domain import USERS
from sidecar.errors import register_error_handlers
from sidecar.fileurls import AttachmentUrls
from sidecar.jsonprovider import OrjsonProvider
from sidecar.limits import profile_max_lengths
from sidecar.moderation import ModerationService
from sidecar.openids import Openids
from sidecar.pocketbase import PocketBaseGateway
from sidecar.requestlog import init_request_log
from sidecar.share import ShareService, ShareSettings
from sidecar.subscribe import SubscribeService
from sidecar.subscribe_templates import parse_templates
from sidecar.uploads import UploadService
from sidecar.users import PHONE_CODE_FIELD, PROFILE_FIELDS, UserService
from sidecar.wechat import PushReceiver, WeChatClient

log = logging.getLogger(__name__)


class InMemoryUploadRequest(Request):
    """Uploaded files are read into memory, never into a temp file: a photo's original (EXIF with GPS) is
    not written to disk. The upload route bounds the body (limits.upload_body_limit); no other takes files."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def create_app(config: Config | None = None) -> Flask:
    """Build the app; config defaults to the environment."""
    config = config or Config.from_env()
    app = Flask(__name__)
    app.request_class = InMemoryUploadRequest
    app.config["SIDECAR"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.MAX_BODY_BYTES
    app.json = OrjsonProvider(app)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    # Read here, not at import: importing the sidecar reads no file.
    app.config["PROFILE_MAX_LENGTHS"] = profile_max_lengths(USERS, PROFILE_FIELDS, PHONE_CODE_FIELD)

    pocketbase = PocketBaseGateway(config.PB_URL, config.PB_SUPERUSER_EMAIL, config.PB_SUPERUSER_PASSWORD,
                                   timeout=config.PB_TIMEOUT)
    wechat = WeChatClient(config.WECHAT_APPID, config.WECHAT_SECRET, config.WECHAT_API_BASE,
                          timeout=config.WECHAT_TIMEOUT)
    app.extensions["pocketbase"] = pocketbase
    app.extensions["wechat"] = wechat
    push = PushReceiver(config.WECHAT_PUSH_TOKEN, config.WECHAT_PUSH_AES_KEY, config.WECHAT_APPID)
    if config.WECHAT_PUSH_TOKEN and not config.WECHAT_PUSH_AES_KEY:
        # Plain mode's signature covers the token, timestamp and nonce, never the body (docs/security.md).
        log.warning("wechat push in plain mode: its signature does not cover the body; set WECHAT_PUSH_AES_KEY "
                    "and choose safe mode (安全模式) in WeChat's console")
    attachment_urls = AttachmentUrls(pocketbase, config.PUBLIC_BASE_URL, config.FILE_URLS_FROM_HOST)
    moderation = ModerationService(pocketbase, wechat, Openids(pocketbase), push, config.content_security,
                                   attachment_urls)
    app.extensions["moderation"] = moderation
    app.extensions["users"] = UserService(pocketbase, wechat, attachment_urls, moderation,
                                          token_leeway=config.TOKEN_LEEWAY_SECONDS)
    app.extensions["uploads"] = UploadService(pocketbase, config.UPLOAD_MAX_BYTES, attachment_urls.url, moderation,
                                              token_leeway=config.TOKEN_LEEWAY_SECONDS)
    app.extensions["accounts"] = AccountService(pocketbase)
    app.extensions["subscribe"] = SubscribeService(pocketbase, parse_templates(config.SUBSCRIBE_TEMPLATES))
    app.extensions["share"] = ShareService(
        pocketbase, wechat, ShareSettings(config.share_pages, config.share_env_version, config.SHARE_CHECK_PATH),
        attachment_urls.origin, token_leeway=config.TOKEN_LEEWAY_SECONDS)

    from sidecar.routes import docs, index, subscribe, system, wechat as wechat_routes
    app.register_blueprint(wechat_routes.bp)
    app.register_blueprint(subscribe.bp)
    app.register_blueprint(system.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(index.bp)
    init_request_log(app)
    init_cors(app, config.CORS_ALLOWED_ORIGINS)
    register_error_handlers(app)
    return app
