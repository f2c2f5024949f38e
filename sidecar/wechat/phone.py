"""getuserphonenumber: a <button open-type="getPhoneNumber"> code for the user's phone number.

WeChat doc: 手机号快速验证组件 / getPhoneNumber (POST /wxa/business/getuserphonenumber): phone_info holds
purePhoneNumber (without the country code) and countryCode (a number or a string, "86" in mainland China).
"""
from __future__ import annotations

import re

from sidecar.wechat.errors import GET_PHONE_NUMBER, WeChatCodeMissing, malformed
from sidecar.wechat.transport import WeChatTransport

# Every 4xxxx but the rate limit and the token errors is about the phone code.
PHONE_REFUSALS = range(40000, 50000)
# ITU country calling codes are 1 to 3 digits; an absent one is mainland China's (older answers).
COUNTRY_CODE = re.compile(r"^\+?([1-9][0-9]{0,2})$")
MAINLAND = "86"
# purePhoneNumber: the national number's ASCII digits; E.164 numbers have at most 15 digits, the country's included.
PURE_PHONE_NUMBER = re.compile(r"[0-9]{4,14}")


class PhoneApi(WeChatTransport):
    def phone_number(self, phone_code: str, openid: str = "") -> str:
        """Exchange a getPhoneNumber code for the user's number with its country: "+<countryCode><purePhoneNumber>"
        (e.g. "+8613800138000", "+85251234567"), to be normalized by sidecar/phones.py.

        openid, when given, lets WeChat check that the code belongs to that user. A phone_info that is not a number
        (empty, blank, not ASCII digits, too long) is a WeChatError (502): nothing is changed."""
        endpoint = GET_PHONE_NUMBER
        if not isinstance(phone_code, str) or not phone_code.strip():
            raise WeChatCodeMissing(endpoint)
        body = {"code": phone_code, **({"openid": openid} if openid else {})}
        data = self.call_with_token(endpoint, "/wxa/business/getuserphonenumber", body, PHONE_REFUSALS)
        phone_info = data.get("phone_info")
        if not isinstance(phone_info, dict):
            raise malformed(endpoint)
        phone, country = phone_info.get("purePhoneNumber"), phone_info.get("countryCode")
        if country in (None, ""):
            country = MAINLAND
        match = COUNTRY_CODE.match(str(country)) if type(country) in (str, int) else None  # not a bool or float
        if not isinstance(phone, str) or PURE_PHONE_NUMBER.fullmatch(phone) is None or match is None:
            raise malformed(endpoint)
        return f"+{match.group(1)}{phone}"
