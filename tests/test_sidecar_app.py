"""sidecar/__init__.py: SidecarFlask answers ensure_sync as Flask does, asking once per function."""
from __future__ import annotations

import functools

import pytest

from sidecar import SidecarFlask


def test_ensure_sync_asks_flask_once_per_function_and_gives_its_answer(monkeypatch):
    app = SidecarFlask(__name__)
    asked = []
    monkeypatch.setattr("flask.Flask.ensure_sync", lambda self, func: asked.append(func) or ("sync", func))

    def view():
        return "ok"

    assert app.ensure_sync(view) == app.ensure_sync(view) == ("sync", view)
    assert asked == [view]


def test_async_views_are_still_flasks_business_and_unhashable_callables_still_served():
    app = SidecarFlask(__name__)

    async def coroutine_view():
        return "ok"

    class Unhashable:
        __hash__ = None

        def __call__(self):
            return "called"

    for _ in range(2):  # Flask's refusal without its async extra, every time: nothing was remembered
        with pytest.raises(RuntimeError, match="async"):
            app.ensure_sync(coroutine_view)
    partial = functools.partial(str, "x")
    assert app.ensure_sync(partial) is partial
    handler = Unhashable()
    assert app.ensure_sync(handler) is handler
