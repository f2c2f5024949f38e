"""The moderation service: WeChat content security on profile text and pictures, and the verdicts WeChat pushes.

Text (names, tags) is checked before anything is written (msg_sec_check); a picture is submitted right after it is
stored (media_check_async) and stays 审核中 until its verdict arrives by message push (wxa_media_check), applied
by one internal route (pb_hooks/moderation.pb.js). CONTENT_SECURITY=off skips both checks.
"""
from __future__ import annotations

import logging
from typing import Mapping

from sidecar.domain import ATTACHMENT_UNDER_REVIEW, ATTACHMENTS, TEXT_FIELDS
from sidecar.errors import BadRequest
from sidecar.fileurls import AttachmentUrls
from sidecar.openids import Openids
from sidecar.pocketbase import PocketBaseGateway
from sidecar.wechat import SUGGEST_RISKY, PushReceiver, PushRefused, WeChatClient, suggest_of

log = logging.getLogger(__name__)

MEDIA_CHECK_EVENT = "wxa_media_check"


class ModerationService:
    """Content security over WeChat, and the message push that brings picture verdicts."""

    def __init__(self, pb: PocketBaseGateway, wechat: WeChatClient, openids: Openids, push: PushReceiver,
                 enabled: bool, attachment_urls: AttachmentUrls):
        self.pb = pb
        self.wechat = wechat
        self.openids = openids
        self.push = push
        self.enabled = enabled
        self.attachment_urls = attachment_urls

    def check_profile_text(self, token: str, changes: Mapping[str, str]) -> None:
        """Send each non-empty text field of changes to msg_sec_check (scene 1, the openid of the token's user).

        BadRequest {"field": <field>} on a risky one; pass and review may be written. A check WeChat cannot answer
        raises its WeChatError (errors.py: 503). Either way the caller writes nothing."""
        fields = [name for name in TEXT_FIELDS if changes.get(name)]
        if not self.enabled or not fields:
            return
        openid = self.openids.openid(token)
        for name in fields:
            if self.wechat.msg_sec_check(openid, changes[name]) == SUGGEST_RISKY:
                raise BadRequest("内容含有违规信息,请修改", {"field": name})

    def submit_picture(self, openid: str, attachment: dict) -> str:
        """Submit a stored attachment's file to media_check_async; store its trace id and 审核中 (one PocketBase
        call); answer the trace id. attachment: its record as PocketBase answered it (id, attachments_link).

        With CONTENT_SECURITY=off nothing is sent or written and "" is answered (the upload stores 有效 itself).
        A WeChatError leaves the record as stored: create it 审核中, so an unchecked picture is never 有效."""
        if not self.enabled:
            return ""
        media_url = self.attachment_urls.url(attachment["id"], attachment["attachments_link"])
        trace_id = self.wechat.media_check_async(openid, media_url)
        self.pb.call("PATCH", f"/api/collections/{ATTACHMENTS}/records/{attachment['id']}",
                     params={"fields": "id"}, body={"attachments_trace_id": trace_id,
                                                    "attachments_status": ATTACHMENT_UNDER_REVIEW,
                                                    "attachments_suggest": ""})
        return trace_id

    # ------------------------------------------------------------ message push

    def verify_push_url(self, query: Mapping[str, str]) -> str:
        """The echostr of WeChat's URL verification; PushSignatureInvalid when not signed with our token."""
        try:
            return self.push.verify_url(query)
        except PushRefused as exc:
            log.warning("wechat push url verification refused: %s", type(exc).__name__)
            raise

    def receive_push(self, query: Mapping[str, str], body: bytes) -> None:
        """Check and open a push; apply a wxa_media_check verdict (other events are acknowledged and dropped).

        Idempotent (WeChat resends a push it got no answer to within 5 s): the verdict of a trace id is applied
        once, an unknown trace id changes nothing. PushRefused when the push is not WeChat's or unreadable."""
        try:
            event = self.push.event(query, body)
        except PushRefused as exc:
            log.warning("wechat push refused: %s", type(exc).__name__)
            raise
        if event.get("Event") != MEDIA_CHECK_EVENT:
            log.info("wechat push ignored: event=%s", str(event.get("Event"))[:32])
            return
        trace_id, suggest = event.get("trace_id"), suggest_of(event.get("result"))
        appid = event.get("appid")
        if not isinstance(trace_id, str) or not trace_id or not suggest or (appid and appid != self.push.appid):
            # e.g. WeChat could not fetch the file (errcode): the picture stays 审核中 for an operator.
            log.warning("wechat push: media check without a verdict, errcode=%s", event.get("errcode"))
            return
        answer = self.pb.internal("POST", "media-verdict", {"trace_id": trace_id, "suggest": suggest})
        log.info("wechat push: media verdict %s %s", suggest, answer.get("result"))
