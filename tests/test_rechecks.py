"""sidecar/rechecks.py: each worker's periodic resubmission round (ModerationService.resubmit_due)."""
from __future__ import annotations

import dataclasses

import pytest
from flask import Flask

from sidecar.config import Config
from sidecar.rechecks import run_rechecks, start_rechecks


class Moderation:
    """resubmit_due counted; it fails as told."""

    def __init__(self, failures: int = 0):
        self.calls, self.failures = 0, failures

    def resubmit_due(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("PocketBase restarting")
        return 1


def app_with(moderation, **settings) -> Flask:
    app = Flask(__name__)
    app.extensions["moderation"] = moderation
    app.config["SIDECAR"] = dataclasses.replace(Config(), **settings)
    return app


def test_every_round_asks_and_a_failed_round_does_not_stop_the_next(caplog):
    moderation = Moderation(failures=2)
    run_rechecks(app_with(moderation), interval=0.001, rounds=4)
    assert moderation.calls == 4
    assert caplog.text.count("resubmission round failed: ConnectionError") == 2


@pytest.mark.parametrize("settings", [{"CONTENT_SECURITY": "off"}, {"MEDIA_RECHECK_INTERVAL": 0}])
def test_no_rounds_without_content_security_or_an_interval(settings):
    assert start_rechecks(app_with(Moderation(), **settings)) is None


def test_rounds_run_in_a_daemon_thread():
    thread = start_rechecks(app_with(Moderation(), MEDIA_RECHECK_INTERVAL=3600))
    assert thread is not None and thread.daemon and thread.is_alive()
