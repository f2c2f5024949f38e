"""Content security (内容安全): msg_sec_check for text, media_check_async for pictures (both version 2).

WeChat docs: 内容安全 / msgSecCheck (POST /wxa/msg_sec_check) and mediaCheckAsync (POST /wxa/media_check_async),
with the stable access_token as every token-bearing call (transport.call_with_token). A picture's verdict comes
later by message push (push.py), as a wxa_media_check event matched by trace_id.
"""
from __future__ import annotations

from sidecar.wechat.errors import (
    ERR_CONTENT_RISKY, MEDIA_CHECK_ASYNC, MSG_SEC_CHECK, WeChatError, malformed, nonempty_str,
)
from sidecar.wechat.transport import WeChatTransport

# scene 1: 资料 (profile data: names, tags, avatars), as the docs number the scenes.
SCENE_PROFILE = 1
MEDIA_TYPE_IMAGE = 2
# result.suggest: pass, risky (违规), review (疑似, a human should look).
SUGGEST_PASS, SUGGEST_RISKY, SUGGEST_REVIEW = "pass", "risky", "review"
SUGGESTS = frozenset({SUGGEST_PASS, SUGGEST_RISKY, SUGGEST_REVIEW})


def suggest_of(result: object) -> str:
    """result.suggest of a check's answer or push; "" when it is not one of SUGGESTS."""
    suggest = result.get("suggest") if isinstance(result, dict) else None
    return suggest if suggest in SUGGESTS else ""


class SecurityApi(WeChatTransport):
    def msg_sec_check(self, openid: str, content: str, scene: int = SCENE_PROFILE) -> str:
        """WeChat's verdict on a text: "pass", "risky" or "review" (result.suggest).

        openid: the author, who must have opened the mini-program in the last two hours (WeChat's rule).
        errcode 87014 (内容含有违法违规内容, the answer of version 1 that WeChat still gives) is the verdict "risky".
        Any other errcode, a timeout or an answer without a known suggest raises a WeChatError: the caller must
        then store nothing (unchecked content is never stored)."""
        body = {"content": content, "version": 2, "scene": scene, "openid": openid}
        try:
            data = self.call_with_token(MSG_SEC_CHECK, "/wxa/msg_sec_check", body, ())
        except WeChatError as exc:
            if exc.errcode == ERR_CONTENT_RISKY:
                return SUGGEST_RISKY
            raise
        suggest = suggest_of(data.get("result"))
        if not suggest:
            raise malformed(MSG_SEC_CHECK)
        return suggest

    def media_check_async(self, openid: str, media_url: str, scene: int = SCENE_PROFILE) -> str:
        """Submit a picture (media_type 2) at media_url, which WeChat downloads; its trace_id.

        The verdict arrives later (seconds to 30 minutes) as a wxa_media_check push with this trace_id."""
        body = {"media_url": media_url, "media_type": MEDIA_TYPE_IMAGE, "version": 2, "scene": scene,
                "openid": openid}
        data = self.call_with_token(MEDIA_CHECK_ASYNC, "/wxa/media_check_async", body, ())
        trace_id = data.get("trace_id")
        if not nonempty_str(trace_id):
            raise malformed(MEDIA_CHECK_ASYNC)
        return trace_id
