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

Code conventions (the same table is in docs/operations.md, section "WeChat dev stub"). The rules apply to
the login code (``js_code``) and to the phone code (``code``); the first matching rule wins:

============================  ===================================================================
code                          answer
============================  ===================================================================
``fail-<errcode>[.x]``        ``{"errcode": <errcode>, "errmsg": ...}``, e.g. ``fail-40029``,
                              ``fail-40163``, ``fail-40226``, ``fail-45011``, ``fail--1``
``slow-<seconds>[.REST]``     sleep (float allowed, at most 60 s), then answer as for ``REST``
                              (login default ``slow``; phone default ``phone-13800138000``)
``http500[.x]``               HTTP 500 with an HTML body
``garbage[.x]``               HTTP 200 with a body that is not JSON
login ``NAME[.x]``            openid ``dev-openid-NAME``, unionid ``dev-unionid-NAME`` (NAME is the
                              part before the first ``.``, so ``alice.1`` and ``alice.2`` are one user;
                              up to 31 letters, digits, ``_`` and ``-``)
any other login code          openid ``dev-openid-devtools``: a real ``wx.login`` code (WeChat's
                              developer tools, a phone: 32 letters and digits) is one stable dev user
phone ``phone-<digits>[.x]``  purePhoneNumber ``<digits>``, phoneNumber ``+86 <digits>``, countryCode ``86``
phone ``phone-<cc>-<digits>`` purePhoneNumber ``<digits>`` in country ``<cc>`` (``phone-852-51234567``)
any other phone code          errcode 40029 (invalid code)
============================  ===================================================================

Credentials: a wrong ``appid`` answers errcode 40013, a wrong ``secret`` 40125. Access tokens are
``stub-token-<n>``; ``stable_token`` returns the current valid one unless ``force_refresh`` is true or
there is none. A phone, content security or wxacode call with any token but the current valid one answers 40001.

Control endpoints for tests: ``POST /__stub/expire-token`` (the current token becomes invalid),
``GET /__stub/stats`` (calls per endpoint), ``POST /__stub/reset``. In process the same is
``stub.expire_token()``, ``stub.stats()``, ``stub.reset()``.

The session key is ``WECHAT_STUB_SESSION_KEY`` (or the ``session_key`` argument) when set, otherwise a
deterministic per-user value. Neither the secret nor any session key is ever logged.

Run as a process: ``python -m ops.wechat_stub --port 8555 [--appid A --secret S] [--host H]``.

Modules: answers (the code conventions, tokens and call counts: what each endpoint answers), security (the
content security markers and the signed verdict pushes), server (the threaded HTTP server around them), cli
(``python -m ops.wechat_stub``).
"""
from ops.wechat_stub.server import WeChatStub

__all__ = ["WeChatStub"]
