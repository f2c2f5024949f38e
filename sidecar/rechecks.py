"""The periodic resubmission of pictures WeChat has not judged (ModerationService.resubmit_due), in each worker.

Why here, and not a PocketBase cron or a process of its own: the submission is a WeChat call, which belongs to
the sidecar (sidecar/wechat/, its access token cached per worker); PocketBase already decides what is due and
hands each picture to one caller (pb_hooks/lib/media_checks.js, claimDue: one transaction), so every worker of
every host may ask and no picture is submitted twice; and nothing new has to be started, supervised or
monitored. Each worker asks every MEDIA_RECHECK_INTERVAL seconds (plus up to half of it at random, so the
workers do not ask together): with the default 20 s a push without a verdict is submitted again within a
minute. A cost of one small PocketBase request per worker per interval.
"""
from __future__ import annotations

import logging
import random
import threading
import time

from flask import Flask

log = logging.getLogger(__name__)


def run_rechecks(app: Flask, interval: float, rounds: int | None = None) -> None:
    """Ask for due pictures every interval (+ jitter) seconds, `rounds` times (None: for ever). A failure is one
    log line and the next round tries again."""
    moderation = app.extensions["moderation"]
    done = 0
    while rounds is None or done < rounds:
        time.sleep(interval + random.uniform(0, interval / 2))
        try:
            moderation.resubmit_due()
        except Exception as exc:  # noqa: BLE001 - a loop that must outlive PocketBase's restarts
            log.warning("media check: resubmission round failed: %s", type(exc).__name__)
        done += 1


def start_rechecks(app: Flask) -> threading.Thread | None:
    """Start run_rechecks in a daemon thread (a greenlet under gevent's worker) when content security is on and
    MEDIA_RECHECK_INTERVAL is positive; None otherwise."""
    config = app.config["SIDECAR"]
    if not config.content_security or config.MEDIA_RECHECK_INTERVAL <= 0:
        return None
    thread = threading.Thread(target=run_rechecks, args=(app, config.MEDIA_RECHECK_INTERVAL),
                              name="media-rechecks", daemon=True)
    thread.start()
    return thread
