"""Concurrency through the whole stack (nginx -> gunicorn -> PocketBase): no duplicate users, no shared
phones, no lost profile updates."""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.helpers import login_through, route



def test_concurrent_first_logins_create_one_user(stack, stack_pb, unique):
    barrier = threading.Barrier(50)

    def one(i):
        barrier.wait()
        return route(stack, "wechat/login", json={"users_wx_code": f"race{unique}.{i}"})

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(one, range(50)))
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: 50}, [a.text for a in answers if a.status_code != 200][:3]
    bodies = [a.json() for a in answers]
    assert all(b["code"] == 200 and b["token"] for b in bodies)
    pb_ids = {b["data"]["user"]["pb_id"] for b in bodies}
    assert len(pb_ids) == 1, pb_ids
    assert Counter(b["data"]["status"] for b in bodies)["register_success"] == 1
    rows = stack_pb.users(f'openid = "dev-openid-race{unique}"')
    assert [r["id"] for r in rows] == list(pb_ids)


def test_two_users_claiming_one_phone_at_once(stack, stack_pb, unique):
    token_a = login_through(stack, f"pa{unique}")[0]
    token_b = login_through(stack, f"pb{unique}")[0]
    phones = []
    for round_ in range(20):
        phone = f"139{int(unique, 16) % 10000:04d}{round_:04d}"
        phones.append(phone)
        barrier = threading.Barrier(2)

        def claim(token):
            barrier.wait()
            return route(stack, "wechat/profile", token, json={"users_phone": phone})

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(claim, (token_a, token_b)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 400], (round_, [a.text for a in answers])
        loser = next(a for a in answers if a.status_code == 400).json()
        assert loser["code"] == 400 and loser["data"].get("field") == "users_phone"
    rows = stack_pb.users(" || ".join(f'users_phone = "{p}"' for p in phones))
    held = Counter(r["users_phone"] for r in rows)
    assert held and max(held.values()) == 1, held


def test_concurrent_profile_updates_of_different_fields(stack, stack_pb, unique):
    token = login_through(stack, f"pf{unique}")[0]
    picture_fields = ("users_picture", "users_id_pic_a", "users_id_pic_b", "users_title_picture")
    rounds = 10
    attachments = {}
    for r in range(rounds):
        for f in picture_fields:
            # The user's own (the profile route links no other): made for them as in the dashboard.
            created = stack_pb.request("POST", "/api/collections/tbl_attachments/records",
                                       json={"attachments_filename": f"{f}-{r}.jpg",
                                             "attachments_owner": f"dev-openid-pf{unique}"})
            assert created.status_code == 200, created.text
            attachments[(r, f)] = created.json()["attachments_id"]
            assert attachments[(r, f)]
    for r in range(rounds):
        wanted = {"users_name": f"name-{unique}-{r}", "users_tag": f"tag-{r}",
                  "users_phone": f"137{int(unique, 16) % 10000:04d}{r:04d}",
                  **{f: attachments[(r, f)] for f in picture_fields}}
        barrier = threading.Barrier(len(wanted))

        def update(item):
            barrier.wait()
            return route(stack, "wechat/profile", token, json={item[0]: item[1]})

        with ThreadPoolExecutor(len(wanted)) as pool:
            answers = list(pool.map(update, wanted.items()))
        assert [a.status_code for a in answers] == [200] * len(wanted), [a.text for a in answers]
        rows = stack_pb.users(f'openid = "dev-openid-pf{unique}"')
        assert len(rows) == 1
        stored = {k: rows[0][k] for k in wanted}
        assert stored == wanted, f"round {r}: lost update(s)"
