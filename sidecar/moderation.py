"""The moderation service: WeChat content security on profile text and pictures, and the verdicts WeChat pushes.

Text (names, tags) is checked before anything is written (msg_sec_check); a picture is submitted right after it is
stored (media_check_async) and stays 审核中 until its verdict arrives by message push (wxa_media_check), applied
by one internal route (pb_hooks/moderation.pb.js) in the transaction that remembers the push's nonce. A push
without a verdict, or a picture still 审核中 past the review bound, is submitted again (resubmit_due); PDFs,
which WeChat's check does not read, go to the operator (待人工审核). CONTENT_SECURITY=off skips both checks.
"""
from __future__ import annotations

import logging
from typing import Mapping

from sidecar.domain import ATTACHMENT_MANUAL_REVIEW, ATTACHMENT_UNDER_REVIEW, ATTACHMENTS, TEXT_FIELDS
from sidecar.errors import BadRequest
from sidecar.fileurls import AttachmentUrls
from sidecar.openids import Openids
from sidecar.pocketbase import PocketBaseError, PocketBaseFault, PocketBaseGateway
from sidecar.wechat import (
    SUGGEST_RISKY, PushReceiver, PushRefused, PushReplayed, WeChatClient, WeChatError, suggest_of,
)

log = logging.getLogger(__name__)

MEDIA_CHECK_EVENT = "wxa_media_check"
# The refusals of the push route that mean "not fresh" (vocabulary.yaml; pb_hooks/lib/media_checks.js).
PUSH_REFUSALS = frozenset({"push_stale", "push_replayed"})
# Pictures claimed per resubmission round.
RESUBMIT_BATCH = 10


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

    def receive_push(self, query: Mapping[str, str], body: bytes) -> str:
        """Check and open a push; remember its nonce and apply its wxa_media_check verdict in one PocketBase
        transaction (pb_hooks/lib/media_checks.js); answer that route's result ("applied", "resubmit", ...).

        PushRefused when the push is not WeChat's or unreadable (signature, push.py); PushReplayed when its
        timestamp is outside the window or its nonce was seen (a resend of a push WeChat got no answer to is
        one). Either way nothing is applied. Other events are acknowledged and only their nonce remembered."""
        try:
            event = self.push.event(query, body)
            answer = self.pb.internal("POST", "wechat-push", {
                "timestamp": query.get("timestamp", ""), "nonce": query.get("nonce", ""),
                "verdict": self.verdict_of(event)})
        except PocketBaseError as exc:
            if exc.reason not in PUSH_REFUSALS:
                raise
            log.warning("wechat push refused: %s", exc.reason)
            raise PushReplayed(exc.reason) from None
        except PushRefused as exc:
            log.warning("wechat push refused: %s", type(exc).__name__)
            raise
        log.info("wechat push: event=%s result=%s", str(event.get("Event"))[:32], answer.get("result"))
        return answer.get("result", "")

    def verdict_of(self, event: dict) -> dict | None:
        """What a wxa_media_check event says of its trace id: {trace_id, suggest, errcode}; None for another event
        or app. Only a verdict is a verdict: a non-zero (or malformed) errcode, or no known result.suggest, is
        errcode non-zero and suggest "" (WeChat could not check the picture: it is submitted again)."""
        appid, trace_id = event.get("appid"), event.get("trace_id")
        if event.get("Event") != MEDIA_CHECK_EVENT or (appid and appid != self.push.appid) or \
                not isinstance(trace_id, str) or not trace_id:
            return None
        errcode = event.get("errcode") or 0
        if isinstance(errcode, bool) or not isinstance(errcode, int):
            errcode = -1
        suggest = suggest_of(event.get("result"))
        if errcode or not suggest:
            log.warning("wechat push: media check without a verdict, errcode=%s", errcode or "-")
            return {"trace_id": trace_id, "suggest": "", "errcode": errcode or -1}
        return {"trace_id": trace_id, "suggest": suggest, "errcode": 0}

    # ------------------------------------------------------------ resubmission

    def resubmit_due(self, limit: int = RESUBMIT_BATCH) -> int:
        """Submit again the pictures PocketBase says are due (a push without a verdict, or 审核中 past the review
        bound; claimed in one transaction, pb_hooks/lib/media_checks.js); the number submitted. A submission
        that fails is logged and tried again once due again. Called periodically (sidecar/rechecks.py)."""
        if not self.enabled:
            return 0
        answer = self.pb.internal("POST", "media-due", {"limit": limit})
        if answer.get("manual"):
            log.warning("media check: %d attachment(s) moved to the operator's queue (%s)", answer["manual"],
                        ATTACHMENT_MANUAL_REVIEW)
        submitted = 0
        for attachment in answer.get("due", []):
            try:
                self.submit_picture(attachment["attachments_owner"], attachment)
                submitted += 1
            except (WeChatError, PocketBaseFault) as exc:
                log.warning("media check: resubmission of %s failed: %s", attachment["id"], type(exc).__name__)
        return submitted
