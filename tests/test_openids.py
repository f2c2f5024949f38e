"""sidecar/openids.py: user id -> openid, at most one PocketBase call per user and worker, bounded, thread-safe."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from sidecar.errors import Unauthorized
from sidecar.openids import Openids
from sidecar.pocketbase import PocketBaseGateway


class CountingGateway(PocketBaseGateway):
    """The real gateway, counting its superuser calls."""

    def __init__(self, config):
        super().__init__(config.PB_URL, config.PB_SUPERUSER_EMAIL, config.PB_SUPERUSER_PASSWORD)
        self.calls: list[str] = []

    def call(self, method, path, **kwargs):
        self.calls.append(f"{method} {path}")
        return super().call(method, path, **kwargs)


@pytest.fixture
def gateway(sidecar_config):
    return CountingGateway(sidecar_config)


def test_a_miss_reads_the_record_once_then_the_openid_is_remembered(pb, gateway, unique):
    user = pb.create_user(openid=f"oid-map-{unique}")
    openids = Openids(gateway)
    assert openids.openid(user["id"]) == f"oid-map-{unique}"
    assert openids.openid(user["id"]) == f"oid-map-{unique}"
    assert gateway.calls == [f"GET /api/collections/tbl_auth_users/records/{user['id']}"]


def test_remembered_openids_cost_no_call(gateway):
    openids = Openids(gateway)
    openids.remember("abc123def456ghi", "oid-known")
    openids.remember("", "ignored")
    openids.remember("zzz", "")
    assert openids.openid("abc123def456ghi") == "oid-known"
    assert gateway.calls == [] and len(openids) == 1


@pytest.mark.parametrize("user_id", ["", "nosuchuser12345", "../_superusers", "a b", "ééééééééééééééé",
                                     "ABCDEFGHIJKLMNO"])
def test_an_id_that_names_no_user_is_unauthorized(gateway, user_id):
    with pytest.raises(Unauthorized):
        Openids(gateway).openid(user_id)


def test_a_user_without_openid_is_unauthorized(pb, gateway):
    user = pb.create_user()
    with pytest.raises(Unauthorized):
        Openids(gateway).openid(user["id"])


def test_the_map_is_bounded_least_recently_used_first(gateway):
    openids = Openids(gateway, capacity=3)
    for n in range(3):
        openids.remember(f"user{n}", f"oid{n}")
    assert openids.openid("user0") == "oid0"  # used: now the most recent
    openids.remember("user3", "oid3")
    assert len(openids) == 3
    assert openids.openid("user0") == "oid0" and openids.openid("user3") == "oid3"
    with pytest.raises(Unauthorized):
        openids.openid("user1")  # evicted, and no record has that id


def test_concurrent_use_keeps_the_bound(gateway):
    openids = Openids(gateway, capacity=50)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: openids.remember(f"user{n}", f"oid{n}"), range(1000)))
    assert len(openids) == 50
    assert openids.openid("user999") == "oid999"
