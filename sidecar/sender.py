"""The subscribe message sender: `python -m sidecar.sender`, a small process of its own beside the sidecar.

A loop: every POLL_SECONDS it lists the due 待发送 records of tbl_notifications (PocketBase, superuser) and delivers
each one in a small thread pool:
1. its data checked against the template's keyword types (subscribe_templates.message_data): a value that does not
   fit is 失败 with the keyword named, and neither a grant nor WeChat is touched;
2. claimed (pb_hooks/lib/subscribe.js, one transaction): 发送中 with a grant spent, or 无授权 without one;
3. sent (subscribeMessage.send), then settled: 已发送; 43101 -> 用户拒收 and the template's count 0; a timeout,
   -1, 45011 or an HTTP failure -> 待发送 again after a backoff (the grant held), at most MAX_ATTEMPTS sends, then
   失败; any other errcode -> 失败 and the grant given back (WeChat sent nothing).

A record found 发送中 past its lease (the sender that claimed it died mid-send) is settled 失败 and never sent again:
WeChat's send has no idempotency key, so whether that message reached the user cannot be asked, and sending it
again could deliver it twice. Its grant stays spent (WeChat may have used it). A separate process rather than a
thread of gunicorn's workers: one loop however many workers, restarted on its own, its CPU measured on its own.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping

from sidecar.config import Config, ConfigError
from sidecar.pocketbase import PocketBaseFault, PocketBaseGateway
from sidecar.domain import (
    NOTIFICATION_FAILED as FAILED, NOTIFICATION_NO_GRANT as NO_GRANT, NOTIFICATION_PENDING as PENDING,
    NOTIFICATION_REFUSED as REFUSED, NOTIFICATION_SENDING as SENDING, NOTIFICATION_SENT as SENT, NOTIFICATIONS,
)
from sidecar.subscribe_templates import KeywordInvalid, Template, message_data, parse_templates
from sidecar.wechat import WeChatClient, WeChatError, WeChatRateLimited, WeChatUnavailable
from sidecar.wechat.subscribe import ERR_SYSTEM_BUSY, ERR_USER_REFUSED, SEND_ERRCODES

log = logging.getLogger("sidecar.sender")

POLL_SECONDS = 1.0
BATCH = 100
THREADS = 4
MAX_ATTEMPTS = 4
# Seconds before attempt n + 1 after n failed: 2, 4, 8 (then MAX_ATTEMPTS is reached).
BACKOFF_BASE, BACKOFF_MAX = 2.0, 60.0
# How long a claim lasts: far longer than one send can take (the WeChat timeout, a token renewal and a resend).
LEASE_SECONDS = 60
INTERRUPTED = "interrupted while sending (the sender stopped): not sent again, WeChat may have delivered it"


class Unsendable(ValueError):
    """A record WeChat would refuse whatever the time: its template is not configured or its data does not fit."""


def backoff(attempts: int, base: float = BACKOFF_BASE) -> float:
    """Seconds to wait after the attempts-th failed send."""
    return min(base * 2 ** (attempts - 1), BACKOFF_MAX)


def describe(error: WeChatError) -> str:
    """The notification_error of a failed send: the errcode and its meaning, or the kind of failure."""
    if isinstance(error, WeChatUnavailable):
        return "timeout or connection failure"
    if not error.errcode:
        return "WeChat answered an HTTP error or an unreadable body"
    return f"errcode {error.errcode}: {SEND_ERRCODES.get(error.errcode, 'refused')}"


def transient(error: WeChatError) -> bool:
    """Whether sending again may succeed: WeChat unreachable or busy, its quota, an HTTP failure."""
    return isinstance(error, (WeChatUnavailable, WeChatRateLimited)) or error.errcode in (0, ERR_SYSTEM_BUSY)


class Sender:
    """Delivers the outbox's due messages; thread-safe (deliver runs in a pool)."""

    def __init__(self, pb: PocketBaseGateway, wechat: WeChatClient, templates: Mapping[str, Template],
                 lease: int = LEASE_SECONDS, backoff_base: float = BACKOFF_BASE, threads: int = THREADS):
        self.pb = pb
        self.wechat = wechat
        self.templates = dict(templates)
        self.lease = lease
        self.backoff_base = backoff_base
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="sender")
        # Set by a stop (run's event): the poll's messages not yet claimed stay 待发送 for the next start, so a stop
        # waits only for the sends in flight (systemd's TimeoutStopSec kills a sender still working through a batch
        # of 100, and a kill leaves each send in flight 失败, never sent again).
        self.stop = threading.Event()

    # ------------------------------------------------------------ PocketBase

    def _list(self, status: str) -> list[dict]:
        page = self.pb.call("GET", f"/api/collections/{NOTIFICATIONS}/records", params={
            "filter": f'notification_status = "{status}" && notification_next <= @now', "sort": "created",
            "perPage": BATCH, "skipTotal": "true"})
        return page.get("items", []) if isinstance(page, dict) else []

    def _settle(self, record_id: str, from_status: str, status: str, error: str = "", **flags) -> str:
        answer = self.pb.internal("POST", "notification-settle", {
            "id": record_id, "from": from_status, "status": status, "error": error, **flags})
        return answer.get("result", "")

    # ------------------------------------------------------------ one message

    def deliver(self, record: dict) -> str:
        """Deliver one 待发送 record as it was listed; answers the status it was left in ("" when another sender
        had it first)."""
        record_id = record["id"]
        try:
            self._prepare(record)
        except Unsendable as exc:
            return self._refuse(record_id, str(exc))
        claimed = self.pb.internal("POST", "notification-claim", {"id": record_id, "lease_seconds": self.lease})
        if claimed.get("result") == "no_grant":
            log.info("notification %s: no grant", record_id)
            return NO_GRANT
        if claimed.get("result") != "claimed":
            return ""
        message = claimed["notification"]
        attempts = int(message.get("notification_attempts") or 1)
        try:
            # Again as claimed: an operator may have edited the record since it was listed.
            template, data = self._prepare(message)
        except Unsendable as exc:
            self._settle(record_id, SENDING, FAILED, str(exc), refund=True)
            return FAILED
        try:
            self.wechat.subscribe_send(message["notification_openid"], template.id, data,
                                       message.get("notification_page") or template.page)
        except WeChatError as error:
            return self._failed(record_id, error, attempts)
        self._settle(record_id, SENDING, SENT)
        log.info("notification %s: sent (attempt %d)", record_id, attempts)
        return SENT

    def _prepare(self, record: dict) -> tuple[Template, dict[str, str]]:
        """The record's template and its data as WeChat takes it; Unsendable naming what does not fit."""
        name = record.get("notification_template", "")
        template = self.templates.get(name)
        if template is None:
            raise Unsendable(f"template {name!r} is not configured")
        try:
            return template, message_data(template, record.get("notification_data"))
        except KeywordInvalid as exc:
            raise Unsendable(f"data.{exc}") from None

    def _refuse(self, record_id: str, why: str) -> str:
        log.warning("notification %s: not sent: %s", record_id, why)
        return FAILED if self._settle(record_id, PENDING, FAILED, why) == "settled" else ""

    def _failed(self, record_id: str, error: WeChatError, attempts: int) -> str:
        why = describe(error)
        if error.errcode == ERR_USER_REFUSED:
            self._settle(record_id, SENDING, REFUSED, why, zero_grant=True)
            log.info("notification %s: user refused (43101), grants of the template set to 0", record_id)
            return REFUSED
        if transient(error) and attempts < MAX_ATTEMPTS:
            wait = backoff(attempts, self.backoff_base)
            self._settle(record_id, SENDING, PENDING, f"attempt {attempts}: {why}", retry_in=wait)
            log.warning("notification %s: attempt %d failed (%s), again in %gs", record_id, attempts, why, wait)
            return PENDING
        # WeChat answered that it sent nothing (any errcode, an HTTP error): the grant is unused, give it back.
        # After a timeout WeChat may have sent it: the grant stays spent.
        refund = not isinstance(error, WeChatUnavailable)
        self._settle(record_id, SENDING, FAILED, f"attempt {attempts}: {why}", refund=refund)
        log.warning("notification %s: failed after %d attempt(s): %s", record_id, attempts, why)
        return FAILED

    # ------------------------------------------------------------ the loop

    def recover(self) -> int:
        """Settle the 发送中 records whose lease ran out as 失败 (INTERRUPTED), never sending them again."""
        settled = 0
        for record in self._list(SENDING):
            if self._settle(record["id"], SENDING, FAILED, INTERRUPTED) == "settled":
                log.warning("notification %s: %s", record["id"], INTERRUPTED)
                settled += 1
        return settled

    def run_once(self) -> int:
        """One poll: recover stale claims, deliver every due message; the number of messages handled."""
        self.recover()
        due = self._list(PENDING)
        outcomes = list(self.pool.map(self._deliver_logged, due))
        return sum(1 for outcome in outcomes if outcome)

    def _deliver_logged(self, record: dict) -> str:
        if self.stop.is_set():
            return ""
        try:
            return self.deliver(record)
        except PocketBaseFault as exc:  # logged by the gateway; the record is picked up again next poll
            log.warning("notification %s: PocketBase failed (%s), left for the next poll", record.get("id"),
                        type(exc).__name__)
            return ""

    def run(self, stop: threading.Event, poll: float = POLL_SECONDS) -> None:
        """Poll until stop is set (a poll under way claims nothing more); a poll handling a full batch is followed at
        once by the next."""
        self.stop = stop
        while not stop.is_set():
            try:
                handled = self.run_once()
            except PocketBaseFault as exc:
                log.warning("sender poll failed: %s", type(exc).__name__)
                handled = 0
            if handled < BATCH:
                stop.wait(poll)
        self.pool.shutdown(wait=True)


def build(config: Config, lease: int = LEASE_SECONDS, backoff_base: float = BACKOFF_BASE) -> Sender:
    """A Sender from the sidecar's configuration (the same PocketBase superuser, WeChat app and templates)."""
    pb = PocketBaseGateway(config.PB_URL, config.PB_SUPERUSER_EMAIL, config.PB_SUPERUSER_PASSWORD,
                           timeout=config.PB_TIMEOUT)
    wechat = WeChatClient(config.WECHAT_APPID, config.WECHAT_SECRET, config.WECHAT_API_BASE,
                          timeout=config.WECHAT_TIMEOUT)
    return Sender(pb, wechat, parse_templates(config.SUBSCRIBE_TEMPLATES), lease, backoff_base)


def main(argv: list[str] | None = None) -> int:
    """Run the sender until SIGTERM or SIGINT; 4 on a configuration error (one line, no traceback)."""
    parser = argparse.ArgumentParser(prog="python -m sidecar.sender", description=__doc__.split("\n")[0])
    parser.add_argument("--lease", type=int, default=LEASE_SECONDS, help="seconds a claim lasts (default 60)")
    parser.add_argument("--backoff", type=float, default=BACKOFF_BASE, help="seconds before the first retry")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        sender = build(Config.from_env(), args.lease, args.backoff)
    except ConfigError as exc:
        print(f"sender: configuration error: {exc}", file=sys.stderr)
        return 4
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    log.info("sender started: %d template(s), polling every %gs", len(sender.templates), POLL_SECONDS)
    sender.run(stop)
    log.info("sender stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
