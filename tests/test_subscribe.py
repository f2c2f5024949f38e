"""sidecar/subscribe.py: the report's checks and what it asks PocketBase to add (a fake gateway records the asks).
The ledger itself, through real processes: tests/test_subscribe_stack.py."""
from __future__ import annotations

import pytest

from sidecar.errors import BadRequest
from sidecar.subscribe import SubscribeService
from sidecar.subscribe_templates import Template

TEMPLATES = {"picture_removed": Template("picture_removed", "tmpl-pic", {"thing1": "{filename}"}),
             "company_status": Template("company_status", "tmpl-company", {"thing1": "{company_name}"})}


class Gateway:
    def __init__(self):
        self.asks = []

    def internal(self, method, route, body):
        self.asks.append((method, route, body))
        return {"counts": {name: body["add"].count(name) for name in body["names"]}}


@pytest.mark.parametrize("accepted, add", [
    ([], []),
    (["tmpl-pic"], ["picture_removed"]),
    (["tmpl-pic", "tmpl-company"], ["picture_removed", "company_status"]),
    (["tmpl-pic", "tmpl-pic"], ["picture_removed"]),  # one accept of one id, named twice
    (["tmpl-company", "tmpl-pic", "tmpl-company"], ["company_status", "picture_removed"]),
])
def test_each_accepted_id_is_one_grant(accepted, add):
    pb = Gateway()
    answer = SubscribeService(pb, TEMPLATES).report("token", accepted, [])
    assert pb.asks == [("POST", "subscribe-grants",
                        {"token": "token", "names": ["picture_removed", "company_status"], "add": add})]
    assert answer["templates"] == {"picture_removed": "tmpl-pic", "company_status": "tmpl-company"}


@pytest.mark.parametrize("accepted, rejected", [(["tmpl-pic", "nope"], []), (["tmpl-pic"], ["nope"])])
def test_an_unknown_id_is_named_and_nothing_is_asked(accepted, rejected):
    pb = Gateway()
    with pytest.raises(BadRequest) as refused:
        SubscribeService(pb, TEMPLATES).report("token", accepted, rejected)
    assert refused.value.data == {"template_id": "nope"} and pb.asks == []
