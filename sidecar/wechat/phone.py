"""getuserphonenumber: a <button open-type="getPhoneNumber"> code for the user's phone number.

WeChat doc: 手机号快速验证组件 / getPhoneNumber (POST /wxa/business/getuserphonenumber).
"""
from __future__ import annotations

from sidecar.wechat.errors import GET_PHONE_NUMBER, WeChatCodeMissing, malformed, nonempty_str
from sidecar.wechat.transport import WeChatTransport

# Every 4xxxx but the rate limit and the token errors is about the phone code.
PHONE_REFUSALS = range(40000, 50000)


class PhoneApi(WeChatTransport):
    def phone_number(self, phone_code: str, openid: str = "") -> str:
        """Exchange a getPhoneNumber code for the user's phone number without country code (purePhoneNumber).

        openid is optional for WeChat: the profile route has none, its one PocketBase request comes after."""
        endpoint = GET_PHONE_NUMBER
        if not isinstance(phone_code, str) or not phone_code.strip():
            raise WeChatCodeMissing(endpoint)
        body = {"code": phone_code, **({"openid": openid} if openid else {})}
        data = self.call_with_token(endpoint, "/wxa/business/getuserphonenumber", body, PHONE_REFUSALS)
        phone_info = data.get("phone_info")
        phone = phone_info.get("purePhoneNumber") if isinstance(phone_info, dict) else None
        if not nonempty_str(phone):
            raise malformed(endpoint)
        return phone
