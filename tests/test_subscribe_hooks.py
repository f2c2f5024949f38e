"""pb_hooks/subscribe.pb.js and lib/subscribe.js against a real PocketBase: the claim and settle routes' rules, the
events only when their template is configured (the session PocketBase has none), a new record's fresh start."""
from __future__ import annotations

import json
import os

import pytest

from ops.pbserver import PocketBaseServer
from tests.conftest import SUPERUSER_EMAIL, SUPERUSER_PASSWORD
from tests.helpers import PB

TEMPLATES = json.dumps({"company_status": {"id": "t-company", "data": {"thing1": "{company_name}",
                                                                       "phrase2": "{company_status}"}}})


@pytest.fixture(scope="module")
def configured(tmp_path_factory) -> PB:
    """A PocketBase of its own with the company_status template configured."""
    base = tmp_path_factory.mktemp("pb-subscribe")
    server = PocketBaseServer(base / "pb_data", SUPERUSER_EMAIL, SUPERUSER_PASSWORD, log_path=base / "pb.log",
                              env=dict(os.environ, SUBSCRIBE_TEMPLATES=TEMPLATES)).start()
    yield PB(server)
    server.stop()


def internal(pb: PB, name: str, body: dict):
    return pb.request("POST", f"/api/internal/{name}", json=body)


def message(pb: PB, openid: str, **fields) -> dict:
    response = pb.create("tbl_notifications", {"notification_openid": openid, "notification_template": "x",
                                               **fields})
    assert response.status_code == 200, response.text
    return response.json()


def notifications(pb: PB, openid: str) -> list[dict]:
    return pb.request("GET", "/api/collections/tbl_notifications/records",
                      params={"filter": f'notification_openid="{openid}"'}).json()["items"]


def test_a_new_record_starts_fresh_whatever_it_says(pb, unique):
    created = message(pb, f"o-{unique}", notification_status="已发送", notification_attempts=3,
                      notification_grant=True, notification_error="x")
    assert (created["notification_status"], created["notification_attempts"], created["notification_grant"],
            created["notification_error"]) == ("待发送", 0, False, "")


def test_claim_spends_a_grant_once_and_settle_gives_it_back_or_zeroes_it(pb, unique):
    openid = f"o-{unique}"
    grant = pb.create("tbl_subscribe_grants", {"grant_openid": openid, "grant_template": "x",
                                               "grant_count": 1}).json()
    first, second = message(pb, openid), message(pb, openid)
    claimed = internal(pb, "notification-claim", {"id": first["id"], "lease_seconds": 30}).json()
    assert claimed["result"] == "claimed" and claimed["notification"]["notification_status"] == "发送中"
    assert internal(pb, "notification-claim", {"id": first["id"]}).json() == {"result": "taken"}
    assert internal(pb, "notification-claim", {"id": second["id"]}).json() == {"result": "no_grant"}
    assert internal(pb, "notification-claim", {"id": "nope"}).json() == {"result": "missing"}
    count = lambda: pb.request("GET", f"/api/collections/tbl_subscribe_grants/records/{grant['id']}").json()[
        "grant_count"]
    assert count() == 0
    settled = internal(pb, "notification-settle", {"id": first["id"], "from": "发送中", "status": "失败",
                                                   "error": "errcode 40037", "refund": True})
    assert settled.json() == {"result": "settled"} and count() == 1
    assert internal(pb, "notification-settle", {"id": first["id"], "from": "发送中", "status": "已发送"}).json() == {
        "result": "taken"}
    third = message(pb, openid)
    internal(pb, "notification-claim", {"id": third["id"]})
    internal(pb, "notification-settle", {"id": third["id"], "from": "发送中", "status": "用户拒收", "zero_grant": True})
    assert count() == 0


@pytest.mark.parametrize("body", [{"from": "已发送", "status": "失败"}, {"from": "待发送", "status": "待发送"},
                                  {"from": "发送中", "status": "发送中"}, {"from": "发送中", "status": "nope"}])
def test_settle_refuses_what_it_cannot_set(pb, unique, body):
    answer = internal(pb, "notification-settle", {"id": message(pb, f"o-{unique}")["id"], **body})
    assert answer.status_code == 400 and answer.json() == {"reason": "settle_invalid"}


def test_the_routes_are_superusers_only(pb):
    for name in ("subscribe-grants", "notification-claim", "notification-settle"):
        assert pb.request("POST", f"/api/internal/{name}", token="", json={}).status_code in (401, 403)


def test_no_template_no_event(pb, unique):
    openid = f"owner-{unique}"
    company = pb.create("tbl_company", {"company_name": "A", "company_status": "审核中",
                                        "company_owner_openid": openid}).json()
    pb.request("PATCH", f"/api/collections/tbl_company/records/{company['id']}", json={"company_status": "已通过"})
    assert notifications(pb, openid) == []


def test_a_status_change_writes_its_message_in_the_same_save(configured, unique):
    openid = f"owner-{unique}"
    company = configured.create("tbl_company", {"company_name": "ACME", "company_status": "审核中",
                                                "company_owner_openid": openid}).json()
    path = f"/api/collections/tbl_company/records/{company['id']}"
    # A save that fails (company_status over its 20 characters) writes no message either.
    assert configured.request("PATCH", path, json={"company_status": "x" * 21}).status_code == 400
    assert configured.request("PATCH", path, json={"company_remark": "r"}).status_code == 200
    assert notifications(configured, openid) == []
    assert configured.request("PATCH", path, json={"company_status": "已通过"}).status_code == 200
    found = notifications(configured, openid)
    assert [(m["notification_template"], m["notification_data"]) for m in found] == [
        ("company_status", {"thing1": "ACME", "phrase2": "已通过"})]
