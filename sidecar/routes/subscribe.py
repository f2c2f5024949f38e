"""/pb/api/wechat/subscribe: the caller's subscribe message grants, and the report of wx.requestSubscribeMessage."""
from __future__ import annotations

import re

from flask import Blueprint, current_app

from sidecar.errors import BadRequest, envelope
from sidecar.routes.inputs import SURROGATE, bearer_token, json_object
from sidecar.subscribe import SubscribeService
from sidecar.subscribe_templates import TEMPLATE_ID_MAX

bp = Blueprint("subscribe", __name__, url_prefix="/pb/api/wechat")

# wx.requestSubscribeMessage takes at most 5 ids a call (WeChat's docs); a report is one call's result.
REPORT_MAX_IDS = 5
# An unknown id is named back in the 400's msg and data: a lone surrogate there cannot be encoded as UTF-8 (the
# envelope would be a 500), and a control character has no place in WeChat's ids (letters, digits, - and _).
NOT_AN_ID = re.compile(r"[\x00-\x1f\x7f]|" + SURROGATE.pattern)


def subscribe() -> SubscribeService:
    """The app's subscribe service."""
    return current_app.extensions["subscribe"]


def template_ids(body: dict, name: str) -> list[str]:
    """body[name] as a list of template ids (absent: []); BadRequest naming the field otherwise."""
    value = body.get(name, [])
    if not isinstance(value, list) or len(value) > REPORT_MAX_IDS or not all(
            isinstance(item, str) and 0 < len(item) <= TEMPLATE_ID_MAX and not NOT_AN_ID.search(item)
            for item in value):
        raise BadRequest(f"{name} 必须是模板 id 的数组(至多 {REPORT_MAX_IDS} 个)", {"field": name})
    return value


@bp.get("/subscribe")
def grants():
    """The configured templates (name -> WeChat template id) and the bearer's grants left per name."""
    token = bearer_token(required=True)
    return envelope(200, "获取成功", subscribe().grants(token))


@bp.post("/subscribe")
def report():
    """wx.requestSubscribeMessage's result: one grant more per accepted template id; the counts after."""
    token = bearer_token(required=True)
    body = json_object()
    accepted, rejected = template_ids(body, "accepted"), template_ids(body, "rejected")
    return envelope(200, "订阅已记录", subscribe().report(token, accepted, rejected))
