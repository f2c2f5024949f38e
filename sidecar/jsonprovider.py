"""Flask's JSON on orjson: every envelope (errors.envelope -> jsonify) is encoded by it.

Flask's documented way to change the JSON library: a provider's dumps and loads (flask.json.provider);
Flask's own response() frames the text. The output is what Flask's default provider gives with the app's
settings (ensure_ascii off, keys in insertion order, compact, a final newline; indented by 2 in debug):
UTF-8 text, no escapes but those JSON needs, and U+2028 / U+2029 (LINE / PARAGRAPH SEPARATOR), which JSON
allows raw but JavaScript before ES2019 and many log pipelines read as line ends: they are written \\u2028 /
\\u2029 (issue #31), as Go's encoding/json (PocketBase's answers) writes them. Types orjson does not encode the
same way (dates, which Flask writes as HTTP dates; dataclasses; Decimal; objects with __html__) go through
Flask's own fallback.
"""
from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# The two text forms DefaultJSONProvider.response asks dumps for (json.dumps's keyword arguments) and
# orjson's option writing the same text. Any other form (json.dumps's default ", " and ": ") is json's.
FORMS = ((("separators", (",", ":")), 0), (("indent", 2), orjson.OPT_INDENT_2))
# In JSON text U+2028 and U+2029 can only be inside strings (whitespace outside is ASCII), so writing them as
# escapes is always the same JSON value.
LINE_SEPARATORS = (("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def escape_line_separators(text: str) -> str:
    """The JSON text with U+2028 and U+2029 escaped (\\u2028, \\u2029): safe to evaluate as JavaScript."""
    for raw, escaped in LINE_SEPARATORS:
        text = text.replace(raw, escaped)
    return text


class OrjsonProvider(DefaultJSONProvider):
    """DefaultJSONProvider with orjson for the text Flask's responses ask for, and for loads. What orjson
    cannot write is left to the default provider: ensure_ascii, and json.dumps's own spacing."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        form = next((option for (key, value), option in FORMS if kwargs == {key: value}), None)
        if form is None or self.ensure_ascii:
            return escape_line_separators(super().dumps(obj, **kwargs))
        option = OPTIONS | form | (orjson.OPT_SORT_KEYS if self.sort_keys else 0)
        return escape_line_separators(orjson.dumps(obj, default=self.default, option=option).decode())

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:
            return super().loads(s, **kwargs)
        return orjson.loads(s)
