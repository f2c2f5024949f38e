"""The dev stub's code conventions, written once: which login code logs in as whom, which codes fail how.

answers.py implements them; every description of them is generated from CODE_RULES:
- the table of docs/operations.md ("WeChat dev stub") and the dev-mode summary on README.md's first screen, by
  `make docs` (ops/settings_docs.py; `make docs-check` fails when one is stale);
- the note on top of the docs page in dev mode (sidecar/routes/docs.py DEV_NOTE), at import.
tests/test_wechat_stub.py runs each rule's examples through the stub, so a rule and its behaviour cannot part.

This module imports nothing of the stub's: the sidecar reads it without loading the stub.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

# An example's answer: a JSON answer holds these items (a dict), or an HTTP answer that is not JSON (its status).
Expected = dict | int


@dataclass(frozen=True)
class CodeRule:
    """One rule of the table. The first matching rule wins, in this order.

    code: the code's form (Markdown); answer: what the stub answers (Markdown, docs/operations.md);
    note: the same for the docs page (Chinese Markdown, shown to the front-end developer);
    brief: its part of README.md's summary ("" leaves it out);
    examples: (endpoint "login" or "phone", a code, the answer it gets), checked against the stub.
    """

    code: str
    answer: str
    note: str
    brief: str
    examples: tuple[tuple[str, str, Expected], ...]


DEVTOOLS_OPENID = "dev-openid-devtools"
# A real wx.login code (WeChat's developer tools, a phone): 32 letters and digits.
REAL_LOGIN_CODE = "0a3Xk9Ga1qWzLm2Ye40Pn7Rb3Tc8Vd5F"

CODE_RULES: tuple[CodeRule, ...] = (
    CodeRule(
        "`fail-<errcode>` or `fail-<errcode>.x`",
        '`{"errcode":<errcode>,"errmsg":"..."}`: `fail-40029` invalid code, `fail-40163` code already used, '
        "`fail-40226` risky user, `fail-45011` rate limited, `fail--1` WeChat busy",
        "`fail-<errcode>`:微信错误,如 `fail-40029`(code 无效)、`fail-40163`(code 已使用)、`fail-45011`(频率限制)、"
        "`fail--1`(系统繁忙)",
        "`fail-40029` is WeChat's error 40029",
        (("login", "fail-40029", {"errcode": 40029}), ("login", "fail-40163.2", {"errcode": 40163}),
         ("phone", "fail--1", {"errcode": -1})),
    ),
    CodeRule(
        "`slow-<seconds>` or `slow-<seconds>.REST`",
        "waits that long (decimals allowed, at most 60 s), then answers as for `REST`; login default `slow` "
        "(openid `dev-openid-slow`), phone default `phone-13800138000`",
        "`slow-<秒>.REST`:等待后按 `REST` 应答",
        "`slow-3.alice` answers after 3 s",
        (("login", "slow-0.1.carol", {"openid": "dev-openid-carol"}), ("login", "slow-0.1", {"openid": "dev-openid-slow"}),
         ("phone", "slow-0.1", {"errcode": 0})),
    ),
    CodeRule(
        "`http500` or `http500.x`",
        "HTTP 500 with an HTML body",
        "`http500`:HTTP 500",
        "`http500` is an HTTP 500",
        (("login", "http500", 500), ("phone", "http500.2", 500)),
    ),
    CodeRule(
        "`garbage` or `garbage.x`",
        "HTTP 200 with a body that is not JSON",
        "`garbage`:非 JSON 应答",
        "",
        (("login", "garbage", 200), ("phone", "garbage.x", 200)),
    ),
    CodeRule(
        "login: `NAME` or `NAME.anything`",
        "openid `dev-openid-NAME`, unionid `dev-unionid-NAME`; NAME is the part before the first `.`, so `alice.1` "
        "and `alice.2` are the same user (WeChat codes are single-use; the suffix makes each code new); NAME is up "
        "to 31 letters, digits, `_` and `-`",
        "登录 code:任意 `NAME` 或 `NAME.后缀`,得到 openid `dev-openid-NAME`(`alice`、`alice.2` 是同一用户)",
        "login code `alice` (or `alice.2`: WeChat codes are single-use, the suffix makes a new one) is openid "
        "`dev-openid-alice`",
        (("login", "alice", {"openid": "dev-openid-alice", "unionid": "dev-unionid-alice"}),
         ("login", "alice.2", {"openid": "dev-openid-alice"})),
    ),
    CodeRule(
        "login: any other code",
        f"openid `{DEVTOOLS_OPENID}`, unionid `dev-unionid-devtools`: a real `wx.login` code from WeChat's developer "
        "tools or a phone (32 letters and digits), or anything else the rules above do not know, is this one stable "
        "dev user",
        f"其他登录 code(如开发者工具或手机上 `wx.login` 的真实 code)都得到同一个开发用户 `{DEVTOOLS_OPENID}`",
        f"any code the stub does not know, such as a real `wx.login` code, is the one dev user `{DEVTOOLS_OPENID}`",
        (("login", REAL_LOGIN_CODE, {"openid": DEVTOOLS_OPENID, "unionid": "dev-unionid-devtools"}),),
    ),
    CodeRule(
        "phone: `phone-<digits>` or `phone-<digits>.x`",
        "`purePhoneNumber` `<digits>`, `phoneNumber` `+86 <digits>`, `countryCode` `86`",
        "手机号 code:`phone-<数字>` 得到该手机号(如 `phone-13800138000`)",
        "phone code `phone-13800138000` gives that number",
        (("phone", "phone-13800138000", {"phone_info": {"purePhoneNumber": "13800138000",
                                                        "phoneNumber": "+86 13800138000", "countryCode": "86"}}),
         ("phone", "phone-13912345678.2", {"phone_info": {"purePhoneNumber": "13912345678"}})),
    ),
    CodeRule(
        "phone: `phone-<countryCode>-<digits>[.x]`",
        "the same in that country: `phone-852-51234567` -> `countryCode` `852`, `phoneNumber` `+852 51234567`",
        "`phone-<国家码>-<数字>`:该国家或地区的手机号(如 `phone-852-51234567`)",
        "",
        (("phone", "phone-852-51234567", {"phone_info": {"countryCode": "852", "phoneNumber": "+852 51234567"}}),),
    ),
    CodeRule(
        "phone: anything else",
        '`{"errcode":40029,"errmsg":"invalid code"}`',
        "其他手机号 code:40029(code 无效)",
        "",
        (("phone", "alice", {"errcode": 40029}),),
    ),
)

MARKDOWN_BEGIN = "<!-- dev stub codes: generated from ops/wechat_stub/codes.py by `make docs`; edit them there -->"
MARKDOWN_END = "<!-- end of the dev stub codes -->"


def operations_table() -> str:
    """docs/operations.md's table of the codes (Markdown), the rules in the order they are tried."""
    rows = ["| code | answer |", "| --- | --- |"]
    rows += [f"| {rule.code} | {rule.answer.replace('|', '&#124;')} |" for rule in CODE_RULES]
    return "\n".join(rows)


def readme_summary() -> str:
    """README.md's first-screen bullet on dev mode: the rules that have a brief, and where the table is."""
    briefs = "; ".join(rule.brief for rule in CODE_RULES if rule.brief)
    text = ("**Dev mode.** Without `WECHAT_APPID`, `make run` answers for WeChat with a local **dev stub**: "
            f"{briefs}; a name containing `risky` fails the content check. "
            "The whole table: [docs/operations.md](docs/operations.md#wechat-dev-stub).")
    return textwrap.fill(text, 110, initial_indent="- ", subsequent_indent="  ", break_long_words=False,
                         break_on_hyphens=False)


def dev_note() -> str:
    """The docs page's note in dev mode (Chinese Markdown): each rule's note, and where the whole table is."""
    return "\n".join(["**开发模式:微信接口由本地开发桩(WeChat dev stub)应答,不会访问真实微信服务器。** "
                      "下方微信接口的示例已换成开发桩接受的 code(依次匹配,先匹配者生效):", "",
                      *(f"- {rule.note}" for rule in CODE_RULES), "",
                      "完整列表见仓库 docs/operations.md 的 “WeChat dev stub” 一节。"])
