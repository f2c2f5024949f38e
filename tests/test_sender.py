"""sidecar/sender.py: what the sender does with each outcome of a send, with PocketBase's internal routes recorded by a
fake gateway and WeChat faked with `responses` (the real processes: tests/test_subscribe_stack.py)."""
from __future__ import annotations

import json
import threading

import pytest
import requests
import responses

from sidecar.sender import INTERRUPTED, MAX_ATTEMPTS, Sender, backoff
from sidecar.subscribe_templates import parse_templates
from sidecar.wechat import WeChatClient
from tests.test_wechat import APPID, BASE, OPENID, SECRET, clock, rsps, stable_token_ok  # noqa: F401 - fixtures

SEND_URL = f"{BASE}/cgi-bin/message/subscribe/send"
TEMPLATES = parse_templates(json.dumps({"picture_removed": {"id": "tmpl-1", "data": {"thing1": "{filename}",
                                                                                     "time2": "{time}"}}}))
RECORD = {"id": "r1", "notification_openid": OPENID, "notification_template": "picture_removed",
          "notification_data": {"thing1": "a.png", "time2": "10:00"}, "notification_page": ""}


class FakePocketBase:
    """The internal routes the sender calls: claim answers `claim`, settle is recorded."""

    def __init__(self, claim: dict, attempts: int = 1, listed: list | None = None, edited: dict | None = None):
        self.claim = claim
        self.edited = edited or {}
        self.attempts = attempts
        self.listed = listed or []
        self.settled: list[dict] = []
        self.claims = 0

    def internal(self, method: str, name: str, body: dict) -> dict:
        if name == "notification-claim":
            self.claims += 1
            return {**self.claim, "notification": {**RECORD, "notification_attempts": self.attempts, **self.edited}}
        self.settled.append(body)
        return {"result": "settled"}

    def call(self, method: str, path: str, params: dict) -> dict:
        return {"items": self.listed if "发送中" in params["filter"] else []}


@pytest.fixture
def wechat(clock):
    return WeChatClient(APPID, "secret", api_base=BASE, timeout=2.0, clock=clock)


def sender(pb, wechat) -> Sender:
    return Sender(pb, wechat, TEMPLATES)


def settle_of(pb) -> dict:
    assert len(pb.settled) == 1, pb.settled
    return {k: v for k, v in pb.settled[0].items() if k != "id"}


def test_sent(rsps, wechat):
    stable_token_ok(rsps)
    rsps.add(responses.POST, SEND_URL, json={"errcode": 0})
    pb = FakePocketBase({"result": "claimed"})
    assert sender(pb, wechat).deliver(RECORD) == "已发送"
    assert settle_of(pb) == {"from": "发送中", "status": "已发送", "error": ""}


def test_no_grant_calls_no_wechat(rsps, wechat):
    pb = FakePocketBase({"result": "no_grant"})
    assert sender(pb, wechat).deliver(RECORD) == "无授权"
    assert pb.settled == [] and len(rsps.calls) == 0


def test_taken_by_another_sender_does_nothing(rsps, wechat):
    pb = FakePocketBase({"result": "taken"})
    assert sender(pb, wechat).deliver(RECORD) == ""
    assert pb.settled == [] and len(rsps.calls) == 0


def test_43101_is_refused_and_zeroes_the_count(rsps, wechat):
    stable_token_ok(rsps)
    rsps.add(responses.POST, SEND_URL, json={"errcode": 43101, "errmsg": "user refuse to accept the msg"})
    pb = FakePocketBase({"result": "claimed"})
    assert sender(pb, wechat).deliver(RECORD) == "用户拒收"
    assert settle_of(pb) == {"from": "发送中", "status": "用户拒收", "zero_grant": True,
                             "error": "errcode 43101: user refused (no grant left)"}


@pytest.mark.parametrize("answer", [{"json": {"errcode": -1}}, {"status": 503, "body": "busy"},
                                    {"body": requests.Timeout("read timed out")}, {"json": {"errcode": 45011}}],
                         ids=["-1", "5xx", "timeout", "quota"])
def test_a_transient_failure_is_retried_with_backoff_then_failed_at_the_bound(rsps, wechat, answer):
    stable_token_ok(rsps)
    rsps.add(responses.POST, SEND_URL, **answer)
    pb = FakePocketBase({"result": "claimed"}, attempts=1)
    assert sender(pb, wechat).deliver(RECORD) == "待发送"
    assert settle_of(pb)["status"] == "待发送" and settle_of(pb)["retry_in"] == backoff(1)
    last = FakePocketBase({"result": "claimed"}, attempts=MAX_ATTEMPTS)
    assert sender(last, wechat).deliver(RECORD) == "失败"
    # WeChat answered that it sent nothing: the grant is given back; after a timeout it may have sent it.
    assert settle_of(last)["refund"] is not isinstance(answer.get("body"), requests.Timeout)


@pytest.mark.parametrize("errcode", [40037, 47003, 41030, 40003])
def test_a_definite_refusal_fails_at_once_and_gives_the_grant_back(rsps, wechat, errcode):
    stable_token_ok(rsps)
    rsps.add(responses.POST, SEND_URL, json={"errcode": errcode, "errmsg": "x"})
    pb = FakePocketBase({"result": "claimed"})
    assert sender(pb, wechat).deliver(RECORD) == "失败"
    assert settle_of(pb)["refund"] is True and f"errcode {errcode}" in settle_of(pb)["error"]


@pytest.mark.parametrize("record, words", [
    ({**RECORD, "notification_data": {"thing1": "a.png", "time2": "later"}}, "data.time2"),
    ({**RECORD, "notification_data": {"thing1": "a.png"}}, "data.time2: missing"),
    ({**RECORD, "notification_template": "nope"}, "not configured"),
])
def test_data_that_does_not_fit_fails_before_the_claim_and_any_call(rsps, wechat, record, words):
    pb = FakePocketBase({"result": "claimed"})
    assert sender(pb, wechat).deliver(record) == "失败"
    assert pb.claims == 0 and len(rsps.calls) == 0
    assert settle_of(pb)["from"] == "待发送" and words in settle_of(pb)["error"]


def test_a_record_edited_since_it_was_listed_is_checked_again_as_claimed(rsps, wechat):
    pb = FakePocketBase({"result": "claimed"}, edited={"notification_data": {"thing1": "a.png", "time2": "later"}})
    assert sender(pb, wechat).deliver(RECORD) == "失败"
    assert len(rsps.calls) == 0
    assert settle_of(pb) == {"from": "发送中", "status": "失败", "error": "data.time2: not a time value",
                             "refund": True}


def test_recover_settles_expired_claims_without_sending(rsps, wechat):
    pb = FakePocketBase({"result": "claimed"}, listed=[{"id": "r9"}])
    assert sender(pb, wechat).recover() == 1
    assert pb.settled == [{"id": "r9", "from": "发送中", "status": "失败", "error": INTERRUPTED}]
    assert len(rsps.calls) == 0


def test_backoff_doubles_and_is_capped():
    assert [backoff(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0] and backoff(20) == 60.0


def test_a_stop_mid_poll_claims_nothing_more(rsps, wechat):
    """SIGTERM while the first of three due messages is being sent: that send is settled, the other two are never
    claimed (they stay 待发送 for the next start)."""
    pb = FakePocketBase({"result": "claimed"})
    due = [dict(RECORD, id=f"r{i}") for i in range(3)]
    pb.call = lambda method, path, params: {"items": due if "待发送" in params["filter"] else []}
    stable_token_ok(rsps)
    one = Sender(pb, wechat, TEMPLATES, threads=1)

    def send(request):
        one.stop.set()
        return 200, {}, json.dumps({"errcode": 0})

    rsps.add_callback(responses.POST, SEND_URL, callback=send)
    assert one.run_once() == 1
    assert pb.claims == 1 and [body["status"] for body in pb.settled] == ["已发送"]


def test_run_stops_on_its_event(wechat):
    pb = FakePocketBase({"result": "claimed"})
    stop = threading.Event()
    stop.set()
    one = Sender(pb, wechat, TEMPLATES)
    one.run(stop)
    assert one.stop is stop and pb.claims == 0
