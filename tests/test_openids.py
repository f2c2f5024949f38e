"""sidecar/openids.py: user id -> openid, at most one PocketBase call per user and worker, read with the caller's
own token (a forged one learns nothing), bounded, thread-safe."""
from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from sidecar.errors import status_and_message
from sidecar.openids import Openids
from sidecar.pocketbase import PocketBaseGateway, PocketBaseRefusal


class CountingGateway(PocketBaseGateway):
    """The real gateway, counting its superuser calls and its calls with a user's token."""

    def __init__(self, config):
        super().__init__(config.PB_URL, config.PB_SUPERUSER_EMAIL, config.PB_SUPERUSER_PASSWORD)
        self.calls: list[str] = []

    def call(self, method, path, **kwargs):
        self.calls.append(f"{method} {path}")
        return super().call(method, path, **kwargs)

    def as_user(self, method, path, token, **kwargs):
        self.calls.append(f"{method} {path} as user")
        return super().as_user(method, path, token, **kwargs)


def claims_token(**claims) -> str:
    """A JWT with these claims and no valid signature (what a forger can make)."""
    encode = lambda part: base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{encode({'alg': 'HS256', 'typ': 'JWT'})}.{encode({'type': 'auth', 'exp': 4102444800, **claims})}.c2ln"


@pytest.fixture
def gateway(sidecar_config):
    return CountingGateway(sidecar_config)


def test_a_miss_reads_the_record_once_with_the_callers_token_then_the_openid_is_remembered(pb, gateway, unique):
    user = pb.create_user(openid=f"oid-map-{unique}")
    token = pb.user_token(user["id"])
    openids = Openids(gateway)
    assert openids.openid(token) == f"oid-map-{unique}"
    assert openids.openid(token) == f"oid-map-{unique}"
    assert gateway.calls == [f"GET /api/collections/tbl_auth_users/records/{user['id']} as user"]


def test_a_forged_token_naming_a_real_user_learns_no_openid(pb, gateway, unique):
    user = pb.create_user(openid=f"oid-victim-{unique}")
    with pytest.raises(PocketBaseRefusal):
        Openids(gateway).openid(claims_token(id=user["id"], collectionName="tbl_auth_users"))
    other = pb.user_token(pb.create_user(openid=f"oid-other-{unique}")["id"])
    with pytest.raises(PocketBaseRefusal):  # a valid token of another user does not read this one's record either
        Openids(gateway).openid(other.split(".")[0] + "." + claims_token(id=user["id"]).split(".")[1] + "."
                                + other.split(".")[2])


def test_remembered_openids_cost_no_call(gateway):
    openids = Openids(gateway)
    openids.remember("abc123def456ghi", "oid-known")
    openids.remember("", "ignored")
    openids.remember("zzz", "")
    assert openids.openid(claims_token(id="abc123def456ghi")) == "oid-known"
    assert gateway.calls == [] and len(openids) == 1


@pytest.mark.parametrize("user_id", ["", "nosuchuser12345", "../_superusers", "a b", "ééééééééééééééé",
                                     "ABCDEFGHIJKLMNO"])
def test_an_id_that_names_no_user_is_unauthorized(gateway, user_id):
    with pytest.raises(PocketBaseRefusal):
        Openids(gateway).openid(claims_token(id=user_id))


def test_a_user_without_openid_is_unauthorized(pb, gateway):
    user = pb.create_user()
    with pytest.raises(PocketBaseRefusal) as refused:
        Openids(gateway).openid(pb.user_token(user["id"]))
    assert refused.value.reason == "no_openid"


# The cache raises the gateway's refusal, as the internal routes answer such a token; the API user sees a 401.
@pytest.mark.parametrize("reason, msg", [("token_invalid", "token 无效或已过期"), ("no_openid", "当前用户缺少 openid")])
def test_its_refusals_answer_401(reason, msg):
    assert status_and_message(PocketBaseRefusal.of(reason)) == (401, msg)


def test_the_map_is_bounded_least_recently_used_first(gateway):
    openids = Openids(gateway, capacity=3)
    for n in range(3):
        openids.remember(f"user{n}", f"oid{n}")
    assert openids.openid(claims_token(id="user0")) == "oid0"  # used: now the most recent
    openids.remember("user3", "oid3")
    assert len(openids) == 3
    assert openids.openid(claims_token(id="user0")) == "oid0" and openids.openid(claims_token(id="user3")) == "oid3"
    with pytest.raises(PocketBaseRefusal):
        openids.openid(claims_token(id="user1"))  # evicted, and no record has that id


def test_concurrent_use_keeps_the_bound(gateway):
    openids = Openids(gateway, capacity=50)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: openids.remember(f"user{n}", f"oid{n}"), range(1000)))
    assert len(openids) == 50
    assert openids.openid(claims_token(id="user999")) == "oid999"
