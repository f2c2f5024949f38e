"""The Flask sidecar: our four routes of the contract, in front of PocketBase."""
from __future__ import annotations

from flask import Flask

from sidecar.accounts import AccountService
from sidecar.config import Config
from sidecar.cors import init_cors
from sidecar.errors import register_error_handlers
from sidecar.jsonprovider import OrjsonProvider
from sidecar.limits import profile_max_lengths
from sidecar.pocketbase import PocketBaseGateway
from sidecar.requestlog import init_request_log
from sidecar.users import PHONE_CODE_FIELD, PROFILE_FIELDS, USERS, UserService
from sidecar.wechat import WeChatClient


def create_app(config: Config | None = None) -> Flask:
    """Build the app; config defaults to the environment."""
    config = config or Config.from_env()
    app = Flask(__name__)
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
    app.extensions["users"] = UserService(pocketbase, wechat, config.PUBLIC_BASE_URL)
    app.extensions["accounts"] = AccountService(pocketbase)

    from sidecar.routes import docs, system, wechat as wechat_routes
    app.register_blueprint(wechat_routes.bp)
    app.register_blueprint(system.bp)
    app.register_blueprint(docs.bp)
    init_request_log(app)
    init_cors(app, config.CORS_ALLOWED_ORIGINS)
    register_error_handlers(app)
    return app
