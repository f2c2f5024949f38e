"""nginx's one-second cache of the public lists (ops/nginx_cache.py), through the real nginx of the stack:
only requests without Authorization, at most one evaluation per URL and second, a write seen within a second
(at once by its writer, who sends Authorization). nginx's access log says how each request was answered
(cache=HIT / MISS / BYPASS)."""
from __future__ import annotations

import concurrent.futures as cf
import time
from datetime import datetime
from urllib.parse import quote

import pytest
import requests

from ops.nginx_cache import cached_collections

FEED = "/pb/api/collections/tbl_document/records"


@pytest.mark.parametrize("rules, cached", [
    ({"list": "", "create": "x", "update": "x", "delete": "x"}, True),
    ({"list": "", "create": "", "update": "x", "delete": "x"}, False),   # a guest writes: could miss its write
    ({"list": "", "create": None, "update": "x", "delete": ""}, False),
    ({"list": "x", "create": None, "update": None, "delete": None}, False),
    ({"list": None, "create": None, "update": None, "delete": None}, False),
])
def test_only_public_lists_that_no_guest_writes_are_cached(rules, cached):
    assert cached_collections({"collections": [{"name": "c", "rules": rules}]}) == (["c"] if cached else [])


def test_schema_yaml_caches_the_document_feed_only():
    assert cached_collections() == ["tbl_document"]


def feed_url(stack, dict_id: str) -> str:
    """The mini-program's feed of one type (the spec's filter form), newest first, with totalItems."""
    flt = quote(f'document_type ~ "{dict_id}" && document_type ~ "@UT1"')
    return f"{stack.base_url}{FEED}?sort=-document_create&filter={flt}"


def add_document(stack_pb, dict_id: str) -> None:
    r = stack_pb.create("tbl_document", {"document_title": "cache test", "document_type": f"{dict_id}@UT1",
                                         "document_status": "有效"})
    assert r.status_code == 200, r.text


def log_lines(stack, marker: str, count: int) -> list[str]:
    """The access log's lines of the requests whose URL holds marker, once there are count of them."""
    path = stack.run_dir / "nginx-access.log"   # flushed every second
    deadline = time.monotonic() + 15
    while True:
        found = [line for line in path.read_text().splitlines() if marker in line]
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) == count, found
            return found
        time.sleep(0.1)


def cache_status(line: str) -> str:
    return line.rsplit("cache=", 1)[1].strip()


def test_a_request_with_authorization_never_takes_nor_fills_the_cache(stack, stack_pb, unique):
    dict_id = f"DICT-auth{unique}"
    token = stack_pb.superuser_token
    anonymous = requests.get(feed_url(stack, dict_id), timeout=15)
    assert anonymous.status_code == 200 and anonymous.json()["totalItems"] == 0
    add_document(stack_pb, dict_id)
    # The same URL with a token is evaluated now: the write shows whatever the cache holds.
    authorized = requests.get(feed_url(stack, dict_id), headers={"Authorization": token}, timeout=15)
    assert authorized.json()["totalItems"] == 1
    # A token's answer is not stored: the next anonymous request of a URL only tokens asked for is evaluated.
    other = f"DICT-auth2{unique}"
    requests.get(feed_url(stack, other), headers={"Authorization": token}, timeout=15).raise_for_status()
    requests.get(feed_url(stack, other), timeout=15).raise_for_status()
    # (Each nginx worker buffers its own log lines: the file's order is not the requests'.)
    assert sorted(cache_status(line) for line in log_lines(stack, dict_id, 2)) == ["BYPASS", "MISS"]
    assert sorted(cache_status(line) for line in log_lines(stack, other, 2)) == ["BYPASS", "MISS"]


def test_a_burst_costs_one_evaluation_per_url_and_second(stack, unique):
    dict_id = f"DICT-burst{unique}"
    url = feed_url(stack, dict_id)
    n = 300
    with requests.Session() as session, cf.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: session.get(url, timeout=15).status_code, range(n)))
    assert statuses == [200] * n
    lines = log_lines(stack, dict_id, n)
    seconds = [datetime.strptime(line.split("[", 1)[1].split("]", 1)[0], "%d/%b/%Y:%H:%M:%S %z").timestamp()
               for line in lines]
    evaluations = [line for line in lines if cache_status(line) != "HIT"]
    # A request is keyed by the second it started in, at most one before the first logged line.
    assert 1 <= len(evaluations) <= max(seconds) - min(seconds) + 2, evaluations


def test_an_anonymous_answer_is_at_most_one_second_old(stack, stack_pb, unique):
    dict_id = f"DICT-age{unique}"
    url = feed_url(stack, dict_id)
    assert requests.get(url, timeout=15).json()["totalItems"] == 0   # cached now
    add_document(stack_pb, dict_id)
    written = time.monotonic()
    with requests.Session() as session:
        while True:  # ask again until a request starts more than a second (and a margin) after the write
            started = time.monotonic()
            total = session.get(url, timeout=15).json()["totalItems"]
            if started - written > 1.2:
                break
            assert total in (0, 1)
    assert total == 1
