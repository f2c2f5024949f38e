"""Realtime through nginx: each actor receives exactly the events schema.yaml's rules allow (tests/access_model.py)."""
from __future__ import annotations

import json
import threading
import time
from urllib.parse import quote

import requests

from tests.access_model import (ACTORS, SAMPLE_BODIES, SUPERUSER, WECHAT, allowed, sample_body,
                                world, writable)  # noqa: F401 (world is a fixture)


def _realtime_reader(base: str, token: str, topics: list[str], events: list, ready: threading.Event,
                     stop: threading.Event) -> None:
    with requests.get(base + "/pb/api/realtime", stream=True, timeout=(5, 3)) as stream:
        # Bytes, decoded line by line as UTF-8: text/event-stream has no charset, so requests would decode it as
        # ISO-8859-1, where the byte 0x85 of a Chinese character (待 is E5 BE 85) is NEL, a line break to splitlines.
        lines = stream.iter_lines()
        name, data = "", ""
        try:
            for raw in lines:
                line = raw.decode("utf-8")
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and name:
                    if name == "PB_CONNECT":
                        headers = {"Authorization": token} if token else {}
                        response = requests.post(base + "/pb/api/realtime", headers=headers, timeout=5,
                                                 json={"clientId": json.loads(data)["clientId"],
                                                       "subscriptions": topics})
                        assert response.status_code == 204, response.text
                        ready.set()
                    else:
                        payload = json.loads(data)
                        events.append((name, payload["action"], payload["record"]["id"]))
                    name, data = "", ""
                if stop.is_set():
                    return
        except requests.exceptions.ConnectionError:
            return  # the read timeout after the last event


def test_realtime_delivers_exactly_what_the_rules_allow(world, stack):
    su, rows, owners = world["su"], world["rows"], world["owners"]
    topics = [t for name in SAMPLE_BODIES for t in (f"{name}/*", f"{name}/{rows[name]}")]
    # A subscription whose options carry the exact-id filter: the list's door for it is closed on realtime.
    business_id = su.call("GET", f"/api/collections/tbl_attachments/records/{rows['tbl_attachments']}").json()[
        "attachments_id"]
    by_id = "tbl_attachments/*?options=" + quote(json.dumps({"query": {"filter": f'attachments_id="{business_id}"'}}))
    topics.append(by_id)
    tokens = {actor: world["apis"][actor].session.headers.get("Authorization", "") for actor in ACTORS}
    events = {actor: [] for actor in ACTORS}
    stop, threads, readies = threading.Event(), [], []
    for actor in ACTORS:
        ready = threading.Event()
        thread = threading.Thread(target=_realtime_reader, daemon=True,
                                  args=(stack.base_url, tokens[actor], topics, events[actor], ready, stop))
        thread.start()
        threads.append(thread)
        readies.append(ready)
    assert all(ready.wait(10) for ready in readies), "a realtime subscription did not complete"
    new_rows = {}
    for name in SAMPLE_BODIES:
        if not writable(name):
            continue
        created = su.call("POST", f"/api/collections/{name}/records", json=sample_body(name))
        assert created.status_code == 200, created.text
        new_rows[name] = created.json()["id"]
        world["created"].append((name, new_rows[name]))
        assert su.call("PATCH", f"/api/collections/{name}/records/{rows[name]}", json={}).status_code == 200
    expected = {actor: set() for actor in ACTORS}
    for actor in ACTORS:
        for name in SAMPLE_BODIES:
            if not writable(name):
                continue  # a view's rows are never saved, so no event is ever sent for them
            if allowed(name, "list", actor, None, "realtime"):
                expected[actor].add((f"{name}/*", "create", new_rows[name]))
            if allowed(name, "list", actor, owners[name], "realtime"):
                expected[actor].add((f"{name}/*", "update", rows[name]))
            if allowed(name, "view", actor, owners[name], "realtime"):
                expected[actor].add((f"{name}/{rows[name]}", "update", rows[name]))
            if name == "tbl_attachments" and allowed(name, "list", actor, owners[name], "realtime"):
                expected[actor].add((by_id, "update", rows[name]))
    mine = set(rows.values()) | set(new_rows.values())

    # The sender settles a new notification (its template "access" is not configured: 失败), an update of its own
    # that reaches whoever may list the collection.
    settled = ("tbl_notifications/*", "update", new_rows["tbl_notifications"])

    def got(actor: str) -> set:
        seen = {event for event in list(events[actor]) if event[2] in mine}
        return seen - {settled} if allowed("tbl_notifications", "list", actor, None, "realtime") else seen

    # Until every allowed event has arrived: one not allowed would come with them (the same writes send both).
    deadline = time.monotonic() + 30
    while not all(expected[actor] <= got(actor) for actor in ACTORS) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for actor in ACTORS:
        unexpected, missing = got(actor) - expected[actor], expected[actor] - got(actor)
        assert not unexpected and not missing, f"{actor}: unexpected {sorted(unexpected)}, missing {sorted(missing)}"
    # Attachments reach their owner (WECHAT owns the shared row) and superusers only.
    assert not any(e[0].startswith("tbl_attachments") for a in ACTORS if a not in (SUPERUSER, WECHAT) for e in events[a])
    assert {e[2] for e in events[WECHAT] if e[0].startswith("tbl_attachments")} == {rows["tbl_attachments"]}
