"""sidecar/phones.py: the one phone normalizer, as a table of spellings -> stored value or refusal."""
from __future__ import annotations

import pytest

from sidecar.phones import InvalidPhone, mask, normalize

# A typed users_phone -> what is stored (None: refused, 400 naming users_phone)
TYPED = [
    ("13800138000", "13800138000"),
    ("+86 138 0013 8000", "13800138000"),
    ("+8613800138000", "13800138000"),
    ("8613800138000", "13800138000"),
    ("008613800138000", "13800138000"),
    ("138-0013-8000", "13800138000"),
    ("(138) 0013 8000", "13800138000"),
    ("138 0013 8000", "13800138000"),
    ("1380013801５", "13800138015"),          # a full-width digit: stored as ASCII, one spelling per number
    ("１３８００１３８０００", "13800138000"),
    ("١٣٨٠٠١٣٨٠٠٠", "13800138000"),          # Arabic-Indic digits
    ("+852 5123 4567", "+85251234567"),      # Hong Kong
    ("+853 6612 3456", "+85366123456"),      # Macao
    ("+886 912 345 678", "+886912345678"),   # Taiwan
    ("+1 650 253 0000", "+16502530000"),     # the US (fixed line or mobile: libphonenumber cannot tell)
    ("+44 7911 123456", "+447911123456"),
    ("12345", None),
    ("1380013800", None),                    # a digit short
    ("138001380000", None),                  # a digit more
    ("23800138000", None),                   # no such mainland range
    ("+86 10 1234 5678", None),              # a Beijing landline: not a phone to bind
    ("+852 2123 4567", None),                # a Hong Kong landline
    ("+1 13800138073", None),
    ("85251234567", None),                   # without "+": read as a (wrong) mainland number
    ("138 0013 8000 ext 12", None),
    ("1-800-FLOWERS", None),
    ("phone", None),
    ("", None),
    ("+", None),
]


@pytest.mark.parametrize("raw, stored", TYPED)
def test_typed_numbers(raw, stored):
    if stored is None:
        with pytest.raises(InvalidPhone):
            normalize(raw)
    else:
        assert normalize(raw) == stored
        assert stored.lstrip("+").isascii() and stored.lstrip("+").isdigit()


# What sidecar/wechat/phone.py makes of phone_info: "+<countryCode><purePhoneNumber>" -> stored
VERIFIED = [
    ("+8613800138000", "13800138000"),
    ("+85251234567", "+85251234567"),
    ("+16502530000", "+16502530000"),
    ("+85221234567", "+85221234567"),  # verified by WeChat: a landline too
    ("+113800138073", None),           # countryCode "1" with a mainland number: not a US number
    ("+86123", None),
]


@pytest.mark.parametrize("raw, stored", VERIFIED)
def test_verified_numbers(raw, stored):
    if stored is None:
        with pytest.raises(InvalidPhone):
            normalize(raw, verified=True)
    else:
        assert normalize(raw, verified=True) == stored


@pytest.mark.parametrize("stored, masked", [
    ("13800138000", "138****8000"),
    ("1234567", "*******"),
    ("+85251234567", "+852****4567"),
    ("+16502530000", "+1******0000"),
    ("+886912345678", "+886*****5678"),
])
def test_mask_keeps_the_country_code_visible(stored, masked):
    assert mask(stored) == masked
