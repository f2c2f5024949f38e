"""Deterministic fake of the WeChat server API, for development (`make run` without WECHAT_APPID) and tests.

It answers the WeChat endpoints the sidecar calls, with WeChat's own paths, parameters and error
shapes, so the sidecar talks to it exactly as it talks to https://api.weixin.qq.com:

- ``GET  /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code``
- ``POST /cgi-bin/stable_token`` with JSON ``{grant_type, appid, secret, force_refresh}``
- ``POST /wxa/business/getuserphonenumber?access_token=T`` with JSON ``{code, openid}``
- ``POST /wxa/msg_sec_check`` and ``POST /wxa/media_check_async`` (content security, version 2), whose
  picture verdict it pushes to the stack's push route: markers and pushes in security.py
- ``POST /cgi-bin/message/subscribe/send?access_token=T`` (subscribe messages): markers for 43101 and system
  errors in subscribe.py; ``GET /__stub/subscribe-messages`` shows what it was asked to send
- ``POST /wxa/getwxacodeunlimit`` with JSON ``{scene, page, width, check_path, env_version, is_hyaline}``: a real
  QR code of the scene (segno), ``width`` pixels square, JPEG (PNG with a transparent background when
  ``is_hyaline``). Errors: a scene that is not 1-32 of WeChat's characters 40169; a bad page, width or
  env_version 40097; a page with a segment ``fail-<errcode>`` that errcode (``pages/fail-41030/index``,
  ``pages/fail-45009/index``, ``pages/fail-40001/index``); a segment ``slow-<seconds>`` sleeps first; a segment
  ``unpublished`` 41030 unless ``check_path`` is false (a page not in the released mini-program)

Code conventions: which login code logs in as whom (any code it does not know: ``dev-openid-devtools``), which
codes fail how (``fail-<errcode>``, ``slow-<seconds>``, ``http500``, ``garbage``), which phone code gives which
number. They are written once, in codes.py (CODE_RULES), and tabled from there in docs/operations.md, section
"WeChat dev stub" (``make docs``).

Credentials: a wrong ``appid`` answers errcode 40013, a wrong ``secret`` 40125. Access tokens are
``stub-token-<n>``; ``stable_token`` returns the current valid one unless ``force_refresh`` is true or
there is none. A phone, content security or wxacode call with any token but the current valid one answers 40001.

Control endpoints for tests: ``POST /__stub/expire-token`` (the current token becomes invalid),
``GET /__stub/stats`` (calls per endpoint), ``POST /__stub/reset``. In process the same is
``stub.expire_token()``, ``stub.stats()``, ``stub.reset()``.

The session key is ``WECHAT_STUB_SESSION_KEY`` (or the ``session_key`` argument) when set, otherwise a
deterministic per-user value. Neither the secret nor any session key is ever logged.

Run as a process: ``python -m ops.wechat_stub --port 8555 [--appid A --secret S] [--host H]``.

Modules: codes (the code conventions, as data), answers (what each endpoint answers: the conventions, tokens
and call counts), security (the content security markers and the signed verdict pushes), server (the threaded
HTTP server around them), cli (``python -m ops.wechat_stub``).
"""
__all__ = ["WeChatStub"]


def __getattr__(name: str):
    # Loaded on first use: the sidecar reads codes.py (its docs page's note) without the stub's server.
    if name == "WeChatStub":
        from ops.wechat_stub.server import WeChatStub
        return WeChatStub
    raise AttributeError(name)
