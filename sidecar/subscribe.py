"""The subscribe service: the caller's grants (GET /pb/api/wechat/subscribe) and the report of what the user accepted
in wx.requestSubscribeMessage (POST), over the ledger inside PocketBase (pb_hooks/lib/subscribe.js, one request each).

The messages themselves are sent by python -m sidecar.sender (sidecar/sender.py), never by a request.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from sidecar.errors import BadRequest
from sidecar.pocketbase import PocketBaseGateway
from sidecar.subscribe_templates import Template


class SubscribeService:
    """Grants of the configured templates (SUBSCRIBE_TEMPLATES), per user."""

    def __init__(self, pb: PocketBaseGateway, templates: Mapping[str, Template]):
        self.pb = pb
        self.templates = dict(templates)
        self._names_by_id = {template.id: name for name, template in self.templates.items()}

    def grants(self, token: str) -> dict:
        """{"templates": {name: template id}, "counts": {name: grants left}} of the token's user.

        PocketBaseRefusal (token_invalid, no_openid, user_banned: sidecar/errors.py words them) for a token that is not
        a valid WeChat user's, or a banned one."""
        return self._answer(token, [])

    def report(self, token: str, accepted: Iterable[str], rejected: Iterable[str]) -> dict:
        """Add one grant per accepted template id (each count bounded: domain.SUBSCRIBE_GRANT_MAX); the same answer
        as grants(). An id not configured (accepted or rejected) is a BadRequest naming it, and nothing is written.

        An id accepted twice in one report is one grant: wx.requestSubscribeMessage answers one result per id (an
        object keyed by id), and the user's one "accept" lets WeChat deliver one message, however often it was named
        (requestSubscribe(["a", "a"]) passes the id twice)."""
        accepted, rejected = list(dict.fromkeys(accepted)), list(rejected)
        for template_id in (*accepted, *rejected):
            if template_id not in self._names_by_id:
                raise BadRequest(f"未配置的订阅消息模板: {template_id}", {"template_id": template_id})
        return self._answer(token, [self._names_by_id[template_id] for template_id in accepted])

    def _answer(self, token: str, add: list[str]) -> dict:
        answer = self.pb.internal("POST", "subscribe-grants",
                                  {"token": token, "names": list(self.templates), "add": add})
        return {"templates": {name: template.id for name, template in self.templates.items()},
                "counts": answer["counts"]}
