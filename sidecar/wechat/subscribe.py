"""Subscribe messages (订阅消息): subscribeMessage.send.

WeChat docs: 订阅消息 / sendMessage (POST /cgi-bin/message/subscribe/send?access_token=...), body {touser, template_id,
page, data: {<keyword>: {"value": <text>}}, lang}, with the stable access_token as every token-bearing call
(transport.call_with_token). Its errcodes: 43101 the user has no grant left (用户拒绝接受消息), 47003 a keyword's value
WeChat refuses, 40037 an unknown template_id, 41030 a page that does not exist in the published mini-program,
40003 an unknown touser, -1 system busy (try again), 45011 the quota.
"""
from __future__ import annotations

from sidecar.wechat.errors import SUBSCRIBE_SEND
from sidecar.wechat.transport import WeChatTransport

ERR_USER_REFUSED = 43101
ERR_SYSTEM_BUSY = -1
# What each errcode means, for the outbox's notification_error (the operator reads it in the dashboard).
SEND_ERRCODES = {
    ERR_SYSTEM_BUSY: "system busy",
    40003: "invalid touser (openid)",
    40037: "invalid template_id",
    41030: "invalid page (not in the published mini-program)",
    43101: "user refused (no grant left)",
    45011: "api quota reached",
    47003: "data format error (a keyword's value)",
}


class SubscribeApi(WeChatTransport):
    def subscribe_send(self, touser: str, template_id: str, data: dict[str, str], page: str = "") -> None:
        """Send one subscribe message: data is keyword -> value (already fitted: subscribe_templates.fit).

        Returns when WeChat answered errcode 0; any other errcode raises its WeChatError (43101 included), a
        timeout or connection failure WeChatUnavailable, an HTTP failure a WeChatError with errcode 0."""
        body = {"touser": touser, "template_id": template_id, "data": {k: {"value": v} for k, v in data.items()},
                "lang": "zh_CN"}
        if page:
            body["page"] = page
        self.call_with_token(SUBSCRIBE_SEND, "/cgi-bin/message/subscribe/send", body, ())
