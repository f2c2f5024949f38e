"""Flask's JSON responses on orjson: every envelope (errors.envelope -> jsonify) is encoded by it.

The output is what Flask's default provider gives with the app's settings (ensure_ascii off, keys in
insertion order, compact, a final newline; indented by 2 in debug): UTF-8 text, no escapes but those JSON
needs. Types orjson does not encode the same way (dates, which Flask writes as HTTP dates; dataclasses;
Decimal; objects with __html__) go through Flask's own fallback. Measured in bench/limits.md (issue #23).
"""
from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class OrjsonProvider(DefaultJSONProvider):
    """DefaultJSONProvider with orjson for responses and loads. What orjson cannot do is left to the
    default provider: ensure_ascii; and dumps, whose text (json.dumps's ", " and ": ") orjson cannot write."""

    def _options(self) -> int | None:
        """orjson's options for the provider's settings; None when only json.dumps can honour them."""
        if self.ensure_ascii:
            return None
        return OPTIONS | orjson.OPT_SORT_KEYS if self.sort_keys else OPTIONS

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:
            return super().loads(s, **kwargs)
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any):
        option = self._options()
        if option is None:
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        option |= orjson.OPT_APPEND_NEWLINE
        if (self.compact is None and self._app.debug) or self.compact is False:
            option |= orjson.OPT_INDENT_2
        return self._app.response_class(orjson.dumps(obj, default=self.default, option=option),
                                        mimetype=self.mimetype)
