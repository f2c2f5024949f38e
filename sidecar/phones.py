"""Phone numbers, one normalizer for typed and WeChat-verified numbers alike (phonenumbers, the Python port
of Google's libphonenumber, pinned in requirements.txt: its metadata is the source of what is valid).

Stored form (tbl_auth_users.users_phone, unique): a mainland China (+86) number as its 11 national digits,
as always; any other as E.164 (+85251234567), so Hong Kong, Macao, Taiwan and foreign numbers fit. Only ASCII
digits (and that one "+") are ever stored, whatever digits the client typed (full-width, Arabic-Indic...).
"""
from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

MAINLAND_COUNTRY_CODE = 86
# A number typed without a country code is a mainland one (the mini-program's users are mostly there).
DEFAULT_REGION = "CN"
# A typed number must be one a phone answers: libphonenumber cannot tell mobiles from landlines in some
# countries (the US, Canada), hence FIXED_LINE_OR_MOBILE.
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


class InvalidPhone(ValueError):
    """Not a phone number we store (the profile route answers 400 naming users_phone)."""


def normalize(raw: str, verified: bool = False) -> str:
    """The stored form of raw ("+86 138 0013 8000", "8613800138000", "138-0013-8000" -> "13800138000";
    "+852 5123 4567" -> "+85251234567"), or InvalidPhone.

    Both must be valid numbers by libphonenumber's metadata, with no extension and no letters; a typed one
    (verified False) must also be a mobile number. A WeChat-verified one ("+<countryCode><purePhoneNumber>",
    sidecar/wechat/phone.py) may be of any type WeChat has verified."""
    if not isinstance(raw, str) or any(char.isalpha() for char in raw):
        raise InvalidPhone(raw)
    try:
        number = phonenumbers.parse(raw, DEFAULT_REGION)
    except NumberParseException:
        raise InvalidPhone(raw) from None
    if number.extension:
        raise InvalidPhone(raw)
    if not phonenumbers.is_valid_number(number) or \
            not (verified or phonenumbers.number_type(number) in MOBILE_TYPES):
        raise InvalidPhone(raw)
    if number.country_code == MAINLAND_COUNTRY_CODE:
        return phonenumbers.national_significant_number(number)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mask(phone: str) -> str:
    """A stored number with its middle hidden: 138****8000; an E.164 one keeps its country code visible
    (+852****4567), and shows the last four digits, as the mainland form."""
    if not phone.startswith("+"):
        if len(phone) < 8:
            return "*" * len(phone)
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    try:
        number = phonenumbers.parse(phone)
        country, national = f"+{number.country_code}", phonenumbers.national_significant_number(number)
    except NumberParseException:  # not stored by us (an operator's edit): hide all but the "+"
        country, national = "+", phone[1:]
    return country + "*" * max(0, len(national) - 4) + national[-4:]
