"""What real clients send (issue #20), through nginx: broken text, invisible names, phone numbers of every
country, long URLs, HTTP details, attachment files. One parametrized table per kind of fault; every refusal
is checked for its status, envelope, field, and that nothing was written."""
from __future__ import annotations

import random
import secrets

import phonenumbers
import pytest
import requests

from sidecar.routes.inputs import NOT_UTF8
from tests.helpers import assert_envelope, login_through, route

pytestmark = pytest.mark.slow

PROFILE_STRING_FIELDS = ["users_name", "users_tag", "users_phone", "users_phone_code", "users_picture",
                         "users_id_pic_a", "users_id_pic_b", "users_title_picture"]
# The stored fields a profile call may change: all must be as before after a refusal.
WATCHED = ["users_name", "users_tag", "users_phone", "users_phone_verified", "users_type", "users_picture",
           "users_id_pic_a", "users_id_pic_b", "users_title_picture"]


def stored(stack_pb, user: dict) -> dict:
    record = stack_pb.user(user["pb_id"])
    return {name: record[name] for name in WATCHED}


def valid_number(region: str, lead: str, digits: int) -> str:
    """A random valid mobile number of region, in E.164: lead followed by random digits (unique enough)."""
    while True:
        number = phonenumbers.parse(f"{lead}{secrets.randbelow(10**digits):0{digits}d}", region)
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mainland_number() -> str:
    """A random valid mainland mobile number: 11 digits."""
    return valid_number("CN", random.choice(("138", "139", "150", "186")), 8)[3:]


# -- 1. text that is not valid Unicode -------------------------------------------------------------------

HALF_EMOJI = '"ab\\ud83d"'            # a JSON escape of half a surrogate pair
CESU8 = b'"ab\xed\xa0\xbd"'           # the same half as raw CESU-8 bytes


@pytest.mark.parametrize("form, msg", [(HALF_EMOJI, "{field} 包含无效字符"), (CESU8, NOT_UTF8)])
@pytest.mark.parametrize("field", PROFILE_STRING_FIELDS)
def test_profile_refuses_broken_text_naming_the_field(stack, stack_pb, unique, field, form, msg):
    token, user = login_through(stack, f"broken-{unique}")
    before = stored(stack_pb, user)
    value = form.encode() if isinstance(form, str) else form
    body = b'{"users_name": "\xe5\xbc\xa0\xe4\xb8\x89", "' + field.encode() + b'": ' + value + b"}"
    if field == "users_name":
        body = b'{"users_name": ' + value + b"}"
    response = route(stack, "wechat/profile", token=token, data=body, headers={"Content-Type": "application/json"})
    answer = assert_envelope(response, 400)
    assert (answer["msg"], answer["data"]) == (msg.format(field=field), {"field": field})
    assert stored(stack_pb, user) == before


@pytest.mark.parametrize("form, msg", [(HALF_EMOJI, "users_wx_code 包含无效字符"), (CESU8, NOT_UTF8)])
@pytest.mark.parametrize("path", ["wechat/login", "system/refresh-token"])
def test_login_and_refresh_refuse_a_broken_code_naming_the_field(stack, stack_pb, unique, path, form, msg):
    value = (form.encode() if isinstance(form, str) else form).replace(b'"ab', f'"{unique}ab'.encode(), 1)
    response = route(stack, path, data=b'{"users_wx_code": ' + value + b"}", headers={"Content-Type": "application/json"})
    answer = assert_envelope(response, 400)
    assert (answer["msg"], answer["data"]) == (msg, {"field": "users_wx_code"})
    assert stack_pb.total("tbl_auth_users", f'openid ~ "{unique}"') == 0  # the user its code would have made


@pytest.mark.parametrize("path", ["wechat/login", "wechat/profile", "system/refresh-token"])
def test_a_user_agent_that_is_not_utf8_is_refused_naming_it(stack, stack_pb, unique, path):
    token, user = login_through(stack, f"agent-{unique}")
    before = stored(stack_pb, user)
    body = {"users_wx_code": f"agent-{unique}.2", "users_name": "改名"}
    response = route(stack, path, token=None if path == "wechat/login" else token, json=body,
                     headers={"User-Agent": b"MicroMessenger \xff\xfe".decode("latin-1")})
    answer = assert_envelope(response, 400)
    assert answer["data"] == {"field": "User-Agent"}
    assert stored(stack_pb, user) == before


@pytest.mark.parametrize("body", [
    lambda code: ('{"users_wx_code": "alice%s"}' % code).encode("utf-16"),
    lambda code: ('{"users_wx_code": "张三%s"}' % code).encode("gbk"),
    lambda code: b'{"users_wx_code": "\xff%s"}' % code.encode(),
], ids=["utf-16", "gbk", "a byte over 0x7f"])
def test_a_json_body_that_is_not_utf8_says_so(stack, stack_pb, unique, body):
    response = route(stack, "wechat/login", data=body(unique), headers={"Content-Type": "application/json"})
    assert assert_envelope(response, 400)["msg"] == NOT_UTF8
    assert stack_pb.total("tbl_auth_users", f'openid ~ "{unique}"') == 0  # the user its code would have made


# -- 2. names that show nothing ----------------------------------------------------------------------------

INVISIBLE = ["\u200b", "\u2060", "\ufeff", "\u3164", "\u115f\u1160", "\uffa0", "\u2800", "\u3000", "\u00ad",
             "\u200e\u200f", "\u202e", "\ufe0f", "\u180e", "\U000e0001", " \u200b\u3164 \u2060 "]


@pytest.mark.parametrize("name", INVISIBLE)
def test_an_invisible_name_is_not_given_and_never_promotes(stack, stack_pb, unique, name):
    token, user = login_through(stack, f"ghost-{unique}")
    phone = mainland_number()
    response = route(stack, "wechat/profile", token=token, json={"users_name": name, "users_phone": phone,
                                                                 "users_tag": name})
    data = assert_envelope(response, 200)["data"]
    assert (data["user"]["users_name"], data["user"]["users_tag"], data["user"]["users_type"]) == ("", "", "游客")
    record = stack_pb.user(user["pb_id"])
    assert (record["users_name"], record["users_tag"], record["users_phone"], record["users_type"]) == (
        "", "", phone, "游客")


@pytest.mark.parametrize("name, kept", [
    ("\u200b张三\u200b", "张三"),
    ("\u3164 李四 \ufeff", "李四"),
    ("王\u200d五", "王\u200d五"),
    ("❤\ufe0f", "❤\ufe0f"),
])
def test_invisible_edges_are_trimmed_like_spaces(stack, unique, name, kept):
    token, _ = login_through(stack, f"edges-{unique}")
    response = route(stack, "wechat/profile", token=token, json={"users_name": name, "users_phone": mainland_number()})
    user = assert_envelope(response, 200)["data"]["user"]
    assert (user["users_name"], user["users_type"]) == (kept, "注册用户")


# -- 3. phone numbers: one normalizer ---------------------------------------------------------------------

# How a client may spell a mainland number n -> what it sends
MAINLAND_SPELLINGS = {
    "plain": lambda n: n,
    "+86 spaced": lambda n: f"+86 {n[:3]} {n[3:7]} {n[7:]}",
    "86 prefix": lambda n: f"86{n}",
    "dashes": lambda n: f"{n[:3]}-{n[3:7]}-{n[7:]}",
    "full-width last digit": lambda n: n[:-1] + chr(0xFF10 + int(n[-1])),
    "full-width": lambda n: "".join(chr(0xFF10 + int(d)) for d in n),
}


@pytest.mark.parametrize("spelling", sorted(MAINLAND_SPELLINGS))
def test_typed_mainland_spellings_are_stored_as_11_ascii_digits(stack, stack_pb, unique, spelling):
    token, user = login_through(stack, f"typed-{unique}")
    number = mainland_number()
    response = route(stack, "wechat/profile", token=token, json={"users_phone": MAINLAND_SPELLINGS[spelling](number)})
    answer = assert_envelope(response, 200)["data"]["user"]
    assert (answer["users_phone"], answer["users_phone_masked"]) == (number, f"{number[:3]}****{number[-4:]}")
    assert stack_pb.user(user["pb_id"])["users_phone"] == number


def test_a_full_width_spelling_is_the_same_number_for_the_unique_index(stack, stack_pb, unique):
    number = mainland_number()
    first, _ = login_through(stack, f"owner-{unique}")
    assert route(stack, "wechat/profile", token=first, json={"users_phone": number}).status_code == 200
    second, user = login_through(stack, f"second-{unique}")
    response = route(stack, "wechat/profile", token=second,
                     json={"users_phone": MAINLAND_SPELLINGS["full-width last digit"](number)})
    answer = assert_envelope(response, 400)
    assert (answer["msg"], answer["data"]) == ("手机号已被其他账号使用", {"field": "users_phone"})
    assert stack_pb.user(user["pb_id"])["users_phone"] == ""


@pytest.mark.parametrize("region, lead, digits, masked_prefix", [
    ("HK", "+8525", 7, "+852"), ("MO", "+8536", 7, "+853"), ("TW", "+8869", 8, "+886"), ("GB", "+447", 9, "+44"),
])
def test_typed_numbers_beyond_the_mainland_are_stored_as_e164(stack, unique, region, lead, digits, masked_prefix):
    token, _ = login_through(stack, f"abroad-{unique}")
    number = valid_number(region, lead, digits)
    spaced = f"{number[:len(masked_prefix)]} {number[len(masked_prefix):]}"
    user = assert_envelope(route(stack, "wechat/profile", token=token, json={"users_phone": spaced}), 200)["data"]["user"]
    assert user["users_phone"] == number
    assert user["users_phone_masked"].startswith(masked_prefix + "*") and user["users_phone_masked"][-4:] == number[-4:]


@pytest.mark.parametrize("typed", ["12345", "1380013800", "23800138000", "+86 10 1234 5678", "+852 2123 4567",
                                   "85251234567", "138 0013 8000 ext 12", "1-800-FLOWERS", "电话", "+"])
def test_typed_numbers_that_are_not_valid_are_400_naming_users_phone(stack, stack_pb, unique, typed):
    token, user = login_through(stack, f"badphone-{unique}")
    before = stored(stack_pb, user)
    response = route(stack, "wechat/profile", token=token, json={"users_phone": typed, "users_name": "张三"})
    answer = assert_envelope(response, 400)
    assert (answer["msg"], answer["data"]) == ("手机号格式不正确", {"field": "users_phone"})
    assert stored(stack_pb, user) == before


# WeChat's answer for a phone code (the dev stub: phone-<countryCode>-<digits>) -> stored, or None: refused
@pytest.mark.parametrize("country, national, expected", [
    ("86", "mainland", "mainland"),
    ("852", "hk", "+852{hk}"),
    ("1", "6502530000", "+16502530000"),
    # A mainland number under countryCode 1 is no number: WeChat's answer is wrong, not the user's input, so it
    # is a 502 (issue #31: WeChat's answers are checked like input), and nothing is stored.
    ("1", "13800138073", None),
])
def test_verified_numbers_are_taken_with_their_country(stack, stack_pb, unique, country, national, expected):
    mainland, hk = mainland_number(), valid_number("HK", "+8525", 7)[4:]
    digits = {"mainland": mainland, "hk": hk}.get(national, national)
    token, user = login_through(stack, f"verified-{unique}")
    before = stored(stack_pb, user)
    response = route(stack, "wechat/profile", token=token, json={"users_phone_code": f"phone-{country}-{digits}"})
    if expected is None:
        assert_envelope(response, 502)
        assert stored(stack_pb, user) == before
        return
    want = mainland if expected == "mainland" else expected.format(hk=hk)
    assert assert_envelope(response, 200)["data"]["user"]["users_phone"] == want
    record = stack_pb.user(user["pb_id"])
    assert (record["users_phone"], record["users_phone_verified"]) == (want, True)


# -- 4. a verified owner beats an unverified claim --------------------------------------------------------

def test_a_verified_claim_takes_a_typed_number_and_a_verified_holder_keeps_it(stack, stack_pb, unique):
    number = mainland_number()
    token_a, a = login_through(stack, f"typist-{unique}")
    typed = route(stack, "wechat/profile", token=token_a, json={"users_name": "甲", "users_phone": number})
    assert assert_envelope(typed, 200)["data"]["user"]["users_type"] == "注册用户"

    # B proves the number with a WeChat phone code: A (no proof) loses it, and is a visitor again.
    token_b, b = login_through(stack, f"prover-{unique}")
    proved = route(stack, "wechat/profile", token=token_b, json={"users_name": "乙", "users_phone_code": f"phone-{number}"},
                   headers={"User-Agent": "takeover-e2e"})
    assert assert_envelope(proved, 200)["data"]["user"]["users_phone"] == number
    record_a = stack_pb.user(a["pb_id"])
    assert (record_a["users_phone"], record_a["users_phone_verified"], record_a["users_type"]) == ("", False, "游客")
    record_b = stack_pb.user(b["pb_id"])
    assert (record_b["users_phone"], record_b["users_phone_verified"], record_b["users_type"]) == (number, True, "注册用户")
    rows = stack_pb.request("GET", "/api/collections/tbl_login_log/records",
                            params={"filter": f'route = "phone-takeover" && user_id = "{a["pb_id"]}"'}).json()["items"]
    assert [(row["openid"], row["user_agent"], row["result"]) for row in rows] == [
        (f"dev-openid-typist-{unique}", "takeover-e2e", "ok")]
    assert number not in rows[0]["reason"]

    # Now B holds it verified: neither a typed claim nor another verified one takes it.
    for token, body in ((token_a, {"users_phone": number}), (login_through(stack, f"late-{unique}")[0],
                                                              {"users_phone_code": f"phone-{number}.2"})):
        answer = assert_envelope(route(stack, "wechat/profile", token=token, json=body), 400)
        assert (answer["msg"], answer["data"]) == ("手机号已被其他账号使用", {"field": "users_phone"})
    assert stack_pb.user(b["pb_id"])["users_phone"] == number


# -- 5. long URLs -------------------------------------------------------------------------------------------

OUR_ROUTES = [("POST", "wechat/login"), ("POST", "wechat/profile"), ("POST", "system/refresh-token"),
              ("POST", "system/users-count"), ("GET", "system/health"), ("POST", "wechat/logout"), ("GET", "docs")]
POCKETBASE_PATHS = [("GET", "collections/tbl_company/records?filter="), ("GET", "collections/tbl_attachments/records?x="),
                    ("GET", "files/pbc_x/abc/file.png?thumb="), ("GET", "realtime?x="), ("POST", "batch?x="),
                    ("GET", "health?x=")]


@pytest.mark.parametrize("method, path", OUR_ROUTES)
def test_a_url_over_16k_to_our_routes_is_a_414_envelope_with_cors(stack, method, path):
    url = f"{stack.base_url}/pb/api/{path}{'&' if '?' in path else '?'}pad={'x' * 17000}"
    response = requests.request(method, url, headers={"Origin": "https://h5.example.com"}, timeout=15)
    answer = assert_envelope(response, 414)
    assert answer["msg"] == "请求地址过长"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("method, path", [("POST", "wechat/login"), ("POST", "system/users-count"),
                                          ("GET", "system/health")])
@pytest.mark.parametrize("pad", [4056, 8200, 16000])
def test_a_url_nginx_passes_gets_the_routes_own_answer(stack, method, path, pad):
    response = requests.request(method, f"{stack.base_url}/pb/api/{path}?pad={'x' * pad}", timeout=15,
                                json={"users_wx_code": "long-url"} if path == "wechat/login" else None)
    assert_envelope(response, 200)


@pytest.mark.parametrize("method, path", POCKETBASE_PATHS)
def test_a_url_over_16k_to_pocketbase_is_pocketbases_error_shape(stack, method, path):
    response = requests.request(method, f"{stack.base_url}/pb/api/{path}{'x' * 29000}", timeout=15)
    assert response.status_code == 414
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert (body["status"], body["data"]) == (414, {}) and body["message"]


# -- 8. HTTP details --------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, allowed", [
    ("GET", "wechat/login", "OPTIONS, POST"), ("PUT", "wechat/profile", "OPTIONS, POST"),
    ("DELETE", "system/refresh-token", "OPTIONS, POST"), ("PATCH", "system/users-count", "OPTIONS, POST"),
    ("POST", "system/health", "GET, HEAD, OPTIONS"), ("GET", "wechat/close-account", "OPTIONS, POST"),
])
def test_a_405_carries_allow(stack, method, path, allowed):
    response = requests.request(method, f"{stack.base_url}/pb/api/{path}", timeout=15)
    assert_envelope(response, 405)
    assert response.headers["Allow"] == allowed


@pytest.mark.parametrize("path, allowed", [("wechat/login", "OPTIONS, POST"), ("wechat/profile", "OPTIONS, POST"),
                                           ("system/health", "GET, HEAD, OPTIONS")])
def test_a_bare_options_is_a_bodiless_204_with_allow(stack, path, allowed):
    response = requests.options(f"{stack.base_url}/pb/api/{path}", timeout=15)
    assert (response.status_code, response.content, response.headers["Allow"]) == (204, b"", allowed)
    assert "Content-Type" not in response.headers


# -- 7. the files of tbl_attachments --------------------------------------------------------------------

def test_attachment_files_are_private_to_caches(stack, stack_pb):
    created = stack_pb.request("POST", "/api/collections/tbl_attachments/records",
                               files={"attachments_link": ("id-card.png", secrets.token_bytes(512), "image/png")})
    assert created.status_code == 200, created.text
    record = created.json()
    url = f"{stack.base_url}/pb/api/files/{record['collectionId']}/{record['id']}/{record['attachments_link']}"
    served = requests.get(url, timeout=15)
    assert served.status_code == 200, served.text
    assert served.headers["Cache-Control"] == "private, max-age=2592000"
