"""Subscribe message templates (SUBSCRIBE_TEMPLATES) and WeChat's keyword rules, checked before any send.

The keyword types and their limits are WeChat's (订阅消息 / subscribeMessage.send, "订阅消息参数值内容限制说明"): a
keyword's name is its type and a number (thing1, time2, phrase3, ...). A value that does not fit is cut where WeChat
allows it (thing: free text, cut to 20 characters) and otherwise refused with the keyword named (KeywordInvalid):
cutting an order number, an amount or a date would change what it says.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sidecar.domain import NOTIFICATIONS
from sidecar.limits import declared_max_lengths

# The collections, the statuses and the grant bound (SUBSCRIBE_GRANT_MAX) are vocabulary.yaml's (sidecar/domain.py).

TEMPLATE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TEMPLATE_ID_MAX = 128
KEYWORD = re.compile(r"^(thing|number|letter|symbol|character_string|time|date|amount|phone_number|car_number|name"
                     r"|phrase|enum)(\d{1,3})$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
HAN = r"\u3400-\u9fff\uf900-\ufaff"
# Symbols: what is neither a letter, a digit, a Han character, a space nor a control character.
SYMBOLS = r"[^\sA-Za-z0-9" + HAN + r"\x00-\x1f\x7f]"
TIME = r"\d{1,2}:\d{2}(?::\d{2})?"
DATE = r"(?:\d{4}年\d{1,2}月\d{1,2}日|\d{4}年\d{1,2}月|\d{1,2}月\d{1,2}日|\d{4}[-/.]\d{1,2}(?:[-/.]\d{1,2})?|\d{1,2}[-/.]\d{1,2})"
TIME_VALUE = rf"(?:{DATE} ?)?{TIME}"
DATE_VALUE = rf"{DATE}(?: ?{TIME})?"
# type -> (longest value in characters, the shape a whole value must have); thing is cut instead of refused.
RULES: dict[str, tuple[int, re.Pattern]] = {
    "thing": (20, re.compile(r".+", re.S)),
    "number": (32, re.compile(r"^[+-]?\d+(?:\.\d+)?$")),
    "letter": (32, re.compile(r"^[A-Za-z]+$")),
    "symbol": (5, re.compile(rf"^{SYMBOLS}+$")),
    "character_string": (32, re.compile(rf"^(?:[A-Za-z0-9]|{SYMBOLS})+$")),
    "time": (64, re.compile(rf"^{TIME_VALUE}(?: ?~ ?{TIME_VALUE})?$")),
    "date": (64, re.compile(rf"^{DATE_VALUE}(?: ?~ ?{DATE_VALUE})?$")),
    "amount": (14, re.compile(r"^[¥$€£]?\d{1,10}(?:\.\d{1,2})?元?$")),
    "phone_number": (17, re.compile(r"^[0-9+\-() ]+$")),
    "car_number": (8, re.compile(rf"^[{HAN}A-Za-z0-9][A-Za-z0-9]*[{HAN}A-Za-z0-9]?$")),
    "name": (20, re.compile(rf"^(?:[{HAN}·]{{1,10}}|[A-Za-z .·'-]{{1,20}}|[{HAN}A-Za-z ·]{{1,10}})$")),
    "phrase": (5, re.compile(rf"^[{HAN}]+$")),
    "enum": (20, re.compile(r".+", re.S)),
}


class KeywordInvalid(ValueError):
    """A value WeChat would refuse (47003) for its keyword; nothing is sent. str(): the keyword and why."""

    def __init__(self, keyword: str, why: str):
        super().__init__(f"{keyword}: {why}")
        self.keyword = keyword


@dataclass(frozen=True)
class Template:
    """One configured template: our name, WeChat's template id, keyword -> text ({placeholders}), page."""

    name: str
    id: str
    data: dict
    page: str = ""


def parse_templates(raw: str) -> dict[str, Template]:
    """SUBSCRIBE_TEMPLATES as {name: Template}; "" is none. ValueError naming what is wrong (never a value)."""
    if not raw or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValueError("not JSON (expected an object: name -> {\"id\": ..., \"data\": {...}})") from None
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object: name -> {\"id\": ..., \"data\": {...}}")
    templates, ids = {}, set()
    # The longest page a message opens: what tbl_notifications.notification_page stores (schema.yaml).
    page_max = declared_max_lengths(NOTIFICATIONS)["notification_page"]
    for name, spec in value.items():
        if not TEMPLATE_NAME.match(name):
            raise ValueError(f"template name {name!r} must be lowercase letters, digits and _ (at most 64)")
        if not isinstance(spec, dict) or set(spec) - {"id", "data", "page"}:
            raise ValueError(f"{name}: must be an object with id, data and optionally page")
        template_id, data, page = spec.get("id"), spec.get("data"), spec.get("page", "")
        if not isinstance(template_id, str) or not template_id.strip() or len(template_id) > TEMPLATE_ID_MAX \
                or CONTROL.search(template_id):
            raise ValueError(f"{name}: id must be WeChat's template id (a non-empty string)")
        if template_id in ids:
            raise ValueError(f"{name}: id is used by another name")
        if not isinstance(data, dict) or not data:
            raise ValueError(f"{name}: data must be an object of WeChat keywords (thing1, time2, ...)")
        for keyword, text in data.items():
            if not KEYWORD.match(keyword):
                raise ValueError(f"{name}: {keyword!r} is not a WeChat keyword (a type and a number, e.g. thing1)")
            if not isinstance(text, str):
                raise ValueError(f"{name}: data.{keyword} must be a string")
        if not isinstance(page, str) or len(page) > page_max:
            raise ValueError(f"{name}: page must be a string of at most {page_max} characters")
        ids.add(template_id)
        templates[name] = Template(name, template_id.strip(), dict(data), page)
    return templates


def fit(keyword: str, value: object) -> str:
    """The value as WeChat takes it for keyword (thing cut to 20 characters); KeywordInvalid when it cannot be."""
    kind = KEYWORD.match(keyword)
    if not kind:
        raise KeywordInvalid(keyword, "not a WeChat keyword")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise KeywordInvalid(keyword, "must be text")
    limit, shape = RULES[kind.group(1)]
    if kind.group(1) in ("thing", "enum"):
        value = " ".join(CONTROL.sub(" ", value).split())
        if len(value) > limit:
            value = value[:limit - 1] + "…"
    if not value:
        raise KeywordInvalid(keyword, "empty")
    if len(value) > limit:
        raise KeywordInvalid(keyword, f"longer than {limit} characters")
    if not shape.match(value):
        raise KeywordInvalid(keyword, f"not a {kind.group(1)} value")
    return value


def message_data(template: Template, data: object) -> dict[str, str]:
    """The keyword -> value of one message: the record's data over the template's texts that have no placeholder,
    each fitted (fit). KeywordInvalid for a keyword missing, unknown to the template, or not fitting."""
    if not isinstance(data, dict):
        data = {}
    unknown = sorted(set(data) - set(template.data))
    if unknown:
        raise KeywordInvalid(unknown[0], f"not a keyword of template {template.name}")
    values = {}
    for keyword, text in template.data.items():
        value = data.get(keyword, text if "{" not in text else None)
        if value is None:
            raise KeywordInvalid(keyword, "missing")
        values[keyword] = fit(keyword, value)
    return values
