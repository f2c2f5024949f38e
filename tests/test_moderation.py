"""sidecar/moderation.py with a real PocketBase, WeChat faked: profile text checks, submit_picture, the verdicts of
pb_hooks/moderation.pb.js, and the push route (sidecar/routes/wechat.py)."""
from __future__ import annotations

import dataclasses
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ops.stack_config import new_aes_key
from ops.wechat_stub.security import PushTarget, media_check_event
from sidecar import create_app
from sidecar.wechat.push import signature
from tests.test_openids import claims_token

TEXT_FIELDS = ("users_name", "users_tag")
PUSH_TOKEN, PUSH_AES_KEY = "push-token-" + new_aes_key()[:8], new_aes_key()
PUSH, DUE = "/api/internal/wechat-push", "/api/internal/media-due"


def profile(client, token: str, body: dict):
    return client.post("/pb/api/wechat/profile", json=body, headers={"Authorization": f"Bearer {token}"})


# ------------------------------------------------------------ profile text


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_risky_text_is_a_400_naming_the_field_and_nothing_is_written(client, pb, wechat, login, unique, field):
    token, user = login()
    before = pb.user(user["pb_id"])
    wechat.verdicts[f"坏内容-{unique}"] = "risky"
    other = "users_tag" if field == "users_name" else "users_name"
    response = profile(client, token, {field: f"坏内容-{unique}", other: f"好内容-{unique}",
                                       "users_phone": f"137{int(unique, 16) % 10**8:08d}"})
    assert response.status_code == 400
    assert response.json == {"code": 400, "msg": "内容含有违规信息,请修改", "data": {"field": field}}
    assert pb.user(user["pb_id"]) == before
    # WeChat was asked with the user's openid, scene 1, version 2 (the body itself: tests/test_wechat_security.py).
    assert f"msg_sec_check:坏内容-{unique}" in wechat.calls


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("suggest", ["pass", "review"])
def test_pass_and_review_are_written(client, pb, wechat, login, unique, field, suggest):
    token, user = login()
    wechat.verdicts[f"内容-{unique}"] = suggest
    response = profile(client, token, {field: f"内容-{unique}"})
    assert response.status_code == 200, response.json
    assert response.json["data"]["user"][field] == f"内容-{unique}"
    assert pb.user(user["pb_id"])[field] == f"内容-{unique}"


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("failure", ["timeout", "errcode", "rate limit"])
def test_text_wechat_cannot_check_is_a_503_and_nothing_is_written(client, pb, wechat, login, unique, field, failure):
    token, user = login()
    before = pb.user(user["pb_id"])
    text = f"未检查-{unique}"
    if failure == "timeout":
        wechat.timeouts.add(text)
    else:
        wechat.errors[text] = -1 if failure == "errcode" else 45011
    response = profile(client, token, {field: text, "users_phone": f"136{int(unique, 16) % 10**8:08d}"})
    assert response.status_code == 503
    assert response.json == {"code": 503, "msg": "内容安全检查暂不可用,请稍后再试", "data": {}}
    assert pb.user(user["pb_id"]) == before


def test_the_check_uses_the_users_openid_and_comes_before_the_phone_code(client, wechat, login, unique):
    token, _ = login(f"orderly-{unique}")
    wechat.phones["pc-1"] = "13500135000"
    wechat.verdicts[f"坏-{unique}"] = "risky"
    assert profile(client, token, {"users_name": f"坏-{unique}", "users_phone_code": "pc-1"}).status_code == 400
    # The phone code was not spent on a request that writes nothing.
    assert "phone:pc-1" not in wechat.calls


def test_a_worker_that_never_saw_the_user_reads_the_openid_once(sidecar_config, pb, wechat, unique):
    user = pb.create_user(openid=f"oid-unseen-{unique}")
    token = pb.user_token(user["id"])
    fresh = create_app(sidecar_config)
    calls = []
    gateway = fresh.extensions["pocketbase"]
    original = gateway.as_user  # the read is made with the caller's own token (sidecar/openids.py)
    gateway.as_user = lambda method, path, token, **kw: calls.append(path) or original(method, path, token, **kw)
    client = fresh.test_client()
    for name in (f"名字-{unique}", f"名字二-{unique}"):
        assert profile(client, token, {"users_name": name}).status_code == 200
    assert calls.count(f"/api/collections/tbl_auth_users/records/{user['id']}") == 1


def test_a_forged_token_sends_nothing_to_wechat_under_its_victims_openid(sidecar_config, pb, wechat, unique):
    """The token's claims are unverified until PocketBase reads the record with it: a forger learns no openid and
    WeChat hears nothing in the victim's name (a worker that never saw the victim)."""
    victim = pb.create_user(openid=f"oid-victim-{unique}")
    forged = claims_token(id=victim["id"], collectionName="tbl_auth_users", refreshable=True)
    wechat.phones["pc-forged"] = "13500135001"
    response = profile(create_app(sidecar_config).test_client(), forged,
                       {"users_name": f"名字-{unique}", "users_phone_code": "pc-forged"})
    assert (response.status_code, response.json["code"]) == (401, 401)
    assert not [call for call in wechat.calls if call.startswith(("msg_sec_check", "phone:"))]
    assert pb.user(victim["id"])["users_name"] == ""


def test_content_security_off_skips_the_check(sidecar_config, pb, wechat, unique):
    app = create_app(dataclasses.replace(sidecar_config, CONTENT_SECURITY="off"))
    token, user = login_with(app)
    wechat.verdicts[f"risky-{unique}"] = "risky"
    assert profile(app.test_client(), token, {"users_name": f"risky-{unique}"}).status_code == 200
    assert not [c for c in wechat.calls if c.startswith("msg_sec_check")]


def login_with(app, code: str = "content-off") -> tuple[str, dict]:
    """(token, UserInfo) of a login through that app."""
    response = app.test_client().post("/pb/api/wechat/login", json={"users_wx_code": code})
    assert response.status_code == 200, response.json
    return response.json["token"], response.json["data"]["user"]


# ------------------------------------------------------------ pictures: submission and verdicts


def attachment(pb, trace_id: str = "", status: str = "审核中", name: str = "face.png", owner: str = "") -> dict:
    """An attachment created by a superuser, with a file, a trace id, a status and its owner's openid."""
    response = pb.request("POST", "/api/collections/tbl_attachments/records",
                          data={"attachments_trace_id": trace_id, "attachments_status": status,
                                "attachments_owner": owner},
                          files={"attachments_link": (name, b"\x89PNG-moderation", "image/png")})
    assert response.status_code == 200, response.text
    return response.json()


def record(pb, att: dict) -> dict:
    response = pb.request("GET", f"/api/collections/tbl_attachments/records/{att['id']}")
    assert response.status_code == 200, response.text
    return response.json()


def file_status(pb, att: dict, name: str | None = None) -> int:
    return pb.request("GET", f"/api/files/{att['collectionId']}/{att['id']}/{name or att['attachments_link']}",
                      token="").status_code


def test_submit_picture_sends_the_public_url_and_stores_trace_id_and_under_review(app, pb, wechat, unique):
    att = attachment(pb, status="")
    trace_id = app.extensions["moderation"].submit_picture(f"oid-{unique}", att)
    url = f"https://api.example.test/pb/api/files/{att['collectionId']}/{att['id']}/{att['attachments_link']}"
    assert wechat.calls[-1] == f"media_check_async:{url}"
    stored_att = record(pb, att)
    assert trace_id.startswith("fake-trace-") and stored_att["attachments_trace_id"] == trace_id
    assert stored_att["attachments_status"] == "审核中" and stored_att["attachments_suggest"] == ""


def test_submit_picture_with_content_security_off_sends_and_writes_nothing(sidecar_config, pb, wechat):
    app = create_app(dataclasses.replace(sidecar_config, CONTENT_SECURITY="off"))
    att = attachment(pb, status="有效")
    assert app.extensions["moderation"].submit_picture("oid-x", att) == ""
    assert wechat.calls == [] and record(pb, att)["attachments_status"] == "有效"


def pushed(pb, trace_id: str, suggest: str = "", errcode: int = 0, nonce: str | None = None,
           timestamp: int | str | None = None, verdict: bool = True):
    """A push through the internal route, as the sidecar sends it after checking its signature."""
    body = {"timestamp": str(int(time.time()) if timestamp is None else timestamp),
            "nonce": nonce or secrets.token_hex(8),
            "verdict": {"trace_id": trace_id, "suggest": suggest, "errcode": errcode} if verdict else None}
    return pb.request("POST", PUSH, json=body)


@pytest.mark.parametrize("suggest, status, file_kept", [("pass", "有效", True), ("risky", "违规", False),
                                                         ("review", "待人工审核", True)])
def test_a_verdict_is_applied_once(pb, unique, suggest, status, file_kept):
    att = attachment(pb, trace_id=f"trace-{suggest}-{unique}")
    answer = pushed(pb, f"trace-{suggest}-{unique}", suggest)
    assert (answer.status_code, answer.json()) == (200, {"result": "applied"})
    after = record(pb, att)
    assert (after["attachments_status"], after["attachments_suggest"]) == (status, suggest)
    assert after["attachments_trace_id"] == f"trace-{suggest}-{unique}"
    assert (after["attachments_link"] == att["attachments_link"]) is file_kept
    assert (file_status(pb, att) == 200) is file_kept
    # A second verdict (WeChat's resend, or another suggest) changes nothing.
    again = pushed(pb, f"trace-{suggest}-{unique}", "pass")
    assert again.json() == {"result": "repeated"}
    assert record(pb, att) == after


def test_a_verdict_for_an_unknown_trace_id_changes_nothing(pb, unique):
    att = attachment(pb, trace_id=f"known-{unique}")
    answer = pushed(pb, f"unknown-{unique}", "risky")
    assert answer.json() == {"result": "unknown"}
    assert record(pb, att) == att


# Only a verdict is a verdict: WeChat could not check the picture (errcode, e.g. -1008: it could not download it),
# whatever else the event carries. The picture stays 审核中 and is due for a submission again at once.
@pytest.mark.parametrize("errcode, suggest", [(-1008, "pass"), (-1008, ""), (-1, "pass"), (1, "review"),
                                              (-1008, "risky"), (0, "")])
def test_a_push_without_a_verdict_never_passes_and_makes_the_picture_due(pb, unique, errcode, suggest):
    att = attachment(pb, trace_id=f"unchecked-{unique}")
    answer = pushed(pb, f"unchecked-{unique}", suggest, errcode)
    assert answer.json() == {"result": "resubmit"}
    after = record(pb, att)
    assert (after["attachments_status"], after["attachments_suggest"]) == ("审核中", "")
    assert 0 < after["attachments_check_due"] <= time.time() + 1
    assert file_status(pb, att) == 200


# A push's freshness (pb_hooks/lib/media_checks.js): a timestamp more than 300 s either side of now, or one that is
# not a timestamp, is refused 401 and nothing is applied. Just outside is 305 s, not 301: PocketBase reads its clock
# a moment after this test (up to a few seconds on a loaded machine), so 301 s ahead can arrive as 300.
@pytest.mark.parametrize("offset", [-305, 305, -600, 86400, "", "abc", "1e9", "-5", " 1", "1" * 13])
def test_a_push_outside_the_window_is_refused_and_changes_nothing(pb, unique, offset):
    att = attachment(pb, trace_id=f"stale-{unique}")
    timestamp = int(time.time()) + offset if isinstance(offset, int) else offset
    answer = pushed(pb, f"stale-{unique}", "pass", timestamp=timestamp)
    assert (answer.status_code, answer.json()) == (401, {"reason": "push_stale"})
    assert record(pb, att) == att


@pytest.mark.parametrize("nonce", ["n" * 65, "a b", "nonce\u2028", "张三", "a;b"])
def test_a_push_whose_nonce_is_not_one_is_refused(pb, unique, nonce):
    att = attachment(pb, trace_id=f"nonce-{unique}")
    answer = pushed(pb, f"nonce-{unique}", "pass", nonce=nonce)
    assert answer.status_code == 401 and record(pb, att) == att


def test_a_nonce_is_used_once_whatever_the_push_carries(pb, unique):
    first, second = attachment(pb, trace_id=f"first-{unique}"), attachment(pb, trace_id=f"second-{unique}")
    nonce = f"n{unique}"
    assert pushed(pb, f"first-{unique}", "review", nonce=nonce).json() == {"result": "applied"}
    before = record(pb, second)
    for trace_id, suggest, verdict in ((f"second-{unique}", "pass", True), (f"first-{unique}", "pass", True),
                                        ("", "", False)):
        again = pushed(pb, trace_id, suggest, nonce=nonce, verdict=verdict)
        assert (again.status_code, again.json()) == (401, {"reason": "push_replayed"})
    assert record(pb, second) == before and record(pb, first)["attachments_status"] == "待人工审核"


def test_a_push_without_a_verdict_remembers_its_nonce(pb, unique):
    assert pushed(pb, "", nonce=f"other-{unique}", verdict=False).json() == {"result": "acknowledged"}
    assert pushed(pb, "", nonce=f"other-{unique}", verdict=False).status_code == 401


def test_the_push_routes_are_superusers_only(pb, unique):
    att = attachment(pb, trace_id=f"guarded-{unique}")
    user_token = pb.user_token(pb.create_user()["id"])
    for token in ("", user_token):
        for path, body in ((PUSH, {"timestamp": str(int(time.time())), "nonce": f"g{unique}",
                                   "verdict": {"trace_id": f"guarded-{unique}", "suggest": "risky"}}),
                           (DUE, {"limit": 10})):
            assert pb.request("POST", path, token=token, json=body).status_code in (401, 403)
    assert record(pb, att) == att


# ------------------------------------------------------------ resubmission


def due(pb, att: dict, seconds_ago: int = 5, attempts: int = 0) -> dict:
    """Make an attachment due for a submission again (as a push without a verdict, or the review bound, would)."""
    response = pb.request("PATCH", f"/api/collections/tbl_attachments/records/{att['id']}",
                          json={"attachments_check_due": int(time.time()) - seconds_ago,
                                "attachments_check_attempts": attempts})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_due_picture_is_claimed_once_and_a_late_one_goes_to_the_operator(pb, unique):
    fresh = attachment(pb, trace_id=f"fresh-{unique}")
    waiting, spent = due(pb, attachment(pb, trace_id=f"due-{unique}")), \
        due(pb, attachment(pb, trace_id=f"spent-{unique}"), attempts=3)
    judged = due(pb, attachment(pb, trace_id=f"judged-{unique}", status="有效"))
    claimed = pb.request("POST", DUE, json={"limit": 100}).json()
    ids = [item["id"] for item in claimed["due"]]
    assert waiting["id"] in ids and fresh["id"] not in ids and spent["id"] not in ids and judged["id"] not in ids
    assert claimed["manual"] >= 1
    assert record(pb, waiting)["attachments_check_attempts"] == 1
    assert record(pb, waiting)["attachments_check_due"] > time.time() + 1700  # due again after the review bound
    assert record(pb, spent)["attachments_status"] == "待人工审核"
    assert record(pb, fresh) == fresh and record(pb, judged) == judged
    # Claimed: another worker asking now does not get it.
    assert waiting["id"] not in [item["id"] for item in pb.request("POST", DUE, json={"limit": 100}).json()["due"]]


def test_resubmit_due_submits_the_picture_again_with_a_new_trace_id(app, pb, wechat, unique):
    att = due(pb, attachment(pb, trace_id=f"again-{unique}", owner=f"oid-{unique}"))
    assert app.extensions["moderation"].resubmit_due(limit=100) >= 1
    after = record(pb, att)
    assert after["attachments_trace_id"].startswith("fake-trace-") and after["attachments_status"] == "审核中"
    url = f"https://api.example.test/pb/api/files/{att['collectionId']}/{att['id']}/{att['attachments_link']}"
    assert f"media_check_async:{url}" in wechat.calls


def test_a_failed_resubmission_leaves_the_picture_due_later(app, pb, wechat, unique):
    att = due(pb, attachment(pb, trace_id=f"failing-{unique}", owner=f"oid-{unique}"))
    wechat.media_errcode = -1
    app.extensions["moderation"].resubmit_due(limit=100)
    after = record(pb, att)
    assert after["attachments_trace_id"] == f"failing-{unique}" and after["attachments_status"] == "审核中"
    assert after["attachments_check_attempts"] == 1


def test_a_risky_picture_leaves_the_users_picture_url_empty(client, pb, wechat, login, unique):
    token, user = login()
    att = attachment(pb, trace_id=f"avatar-{unique}", owner=user["openid"])
    assert profile(client, token, {"users_picture": att["attachments_id"]}).json["data"]["user"]["users_picture_url"]
    pushed(pb, f"avatar-{unique}", "risky")
    info = profile(client, token, {}).json["data"]["user"]
    assert info["users_picture"] == att["attachments_id"] and info["users_picture_url"] == ""


# ------------------------------------------------------------ the push route


@pytest.fixture(scope="module")
def push_app(sidecar_config):
    """A sidecar set up for safe mode (token and EncodingAESKey)."""
    return create_app(dataclasses.replace(sidecar_config, WECHAT_PUSH_TOKEN=PUSH_TOKEN,
                                          WECHAT_PUSH_AES_KEY=PUSH_AES_KEY))


@pytest.fixture(scope="module")
def push_apps(push_app, sidecar_config):
    """mode -> a sidecar set up for it: safe (token and key) or plain (the token only)."""
    return {"safe": push_app, "plain": create_app(dataclasses.replace(sidecar_config, WECHAT_PUSH_TOKEN=PUSH_TOKEN))}


def push(app, event: dict, aes_key: str = PUSH_AES_KEY, token: str = PUSH_TOKEN, **query_changes):
    query, body = PushTarget("", token, aes_key, app.config["SIDECAR"].WECHAT_APPID).signed(event)
    return app.test_client().post("/pb/api/wechat/push", query_string={**query, **query_changes}, data=body,
                                  content_type="application/json")


def verdict_event(app, trace_id: str, suggest: str) -> dict:
    return media_check_event(app.config["SIDECAR"].WECHAT_APPID, "oid-push", trace_id, suggest)


def test_url_verification_echoes_echostr(push_app):
    query = {"timestamp": "1700000000", "nonce": "abc", "echostr": "hello-wechat"}
    good = push_app.test_client().get("/pb/api/wechat/push", query_string={
        **query, "signature": signature(PUSH_TOKEN, "1700000000", "abc")})
    assert (good.status_code, good.data, good.mimetype) == (200, b"hello-wechat", "text/plain")
    bad = push_app.test_client().get("/pb/api/wechat/push", query_string={**query, "signature": "0" * 40})
    assert bad.status_code == 401 and bad.json == {"code": 401, "msg": "签名无效", "data": {}}


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_a_signed_verdict_push_is_applied_and_answered_success(push_apps, pb, unique, mode):
    push_app = push_apps[mode]
    att = attachment(pb, trace_id=f"pushed-{mode}-{unique}")
    response = push(push_app, verdict_event(push_app, f"pushed-{mode}-{unique}", "pass"),
                    aes_key=PUSH_AES_KEY if mode == "safe" else "")
    assert (response.status_code, response.data) == (200, b"success")
    assert record(pb, att)["attachments_status"] == "有效"
    # Another push (new nonce) for the same trace id: answered success, nothing changes.
    assert push(push_app, verdict_event(push_app, f"pushed-{mode}-{unique}", "risky"),
                aes_key=PUSH_AES_KEY if mode == "safe" else "").data == b"success"
    assert record(pb, att)["attachments_status"] == "有效"


def replay(app, query: dict, body: bytes):
    return app.test_client().post("/pb/api/wechat/push", query_string=query, data=body,
                                  content_type="application/json")


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_a_replayed_push_is_a_401_with_no_effect_from_any_worker(push_apps, sidecar_config, pb, unique, mode):
    """The nonce is kept in PocketBase: a second sidecar (another worker or host) refuses it as the first does,
    and the same URL with another body (plain mode signs no body) is refused too."""
    push_app = push_apps[mode]
    other_worker = create_app(push_app.config["SIDECAR"])
    first = attachment(pb, trace_id=f"replay1-{mode}-{unique}")
    second = attachment(pb, trace_id=f"replay2-{mode}-{unique}")
    aes_key = PUSH_AES_KEY if mode == "safe" else ""
    target = PushTarget("", PUSH_TOKEN, aes_key, push_app.config["SIDECAR"].WECHAT_APPID)
    query, body = target.signed(verdict_event(push_app, f"replay1-{mode}-{unique}", "review"))
    assert replay(push_app, query, body).data == b"success"
    after = record(pb, first)
    _, other_body = target.signed(verdict_event(push_app, f"replay2-{mode}-{unique}", "pass"))
    for app in (push_app, other_worker):
        for sent in (body, other_body):
            response = replay(app, query, sent)
            assert response.status_code == 401, response.data
            assert response.json in ({"code": 401, "msg": "推送已过期或重复", "data": {}},
                                     {"code": 401, "msg": "签名无效", "data": {}})
    assert record(pb, first) == after and record(pb, second) == second


@pytest.mark.parametrize("mode", ["plain", "safe"])
@pytest.mark.parametrize("age", [-600, -305, 305])  # 305: see the window test above
def test_a_push_signed_outside_the_window_is_a_401_with_no_effect(push_apps, pb, unique, mode, age, monkeypatch):
    push_app = push_apps[mode]
    att = attachment(pb, trace_id=f"old-{mode}-{age}-{unique}")
    monkeypatch.setattr(time, "time", lambda real=time.time: real() + age)  # the stub signs with time.time()
    query, body = PushTarget("", PUSH_TOKEN, PUSH_AES_KEY if mode == "safe" else "",
                             push_app.config["SIDECAR"].WECHAT_APPID).signed(
        verdict_event(push_app, f"old-{mode}-{age}-{unique}", "pass"))
    monkeypatch.undo()
    response = replay(push_app, query, body)
    assert (response.status_code, response.json) == (401, {"code": 401, "msg": "推送已过期或重复", "data": {}})
    assert record(pb, att) == att


def test_one_push_sent_to_two_workers_at_once_is_applied_once(push_apps, pb, unique):
    push_app = push_apps["safe"]
    workers = [push_app, create_app(push_app.config["SIDECAR"])]
    att = attachment(pb, trace_id=f"race-{unique}")
    query, body = PushTarget("", PUSH_TOKEN, PUSH_AES_KEY, push_app.config["SIDECAR"].WECHAT_APPID).signed(
        verdict_event(push_app, f"race-{unique}", "pass"))
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda i: replay(workers[i % 2], query, body).status_code, range(4)))
    assert sorted(statuses) == [200, 401, 401, 401]
    assert record(pb, att)["attachments_status"] == "有效"


@pytest.mark.parametrize("mode", ["plain", "safe"])
@pytest.mark.parametrize("forgery", ["wrong token", "no signature"])
def test_a_push_not_signed_with_our_token_is_a_401_with_no_effect(push_apps, pb, unique, mode, forgery):
    push_app = push_apps[mode]
    att = attachment(pb, trace_id=f"forged-{mode}-{unique}")
    event = verdict_event(push_app, f"forged-{mode}-{unique}", "risky")
    aes_key = PUSH_AES_KEY if mode == "safe" else ""
    if forgery == "wrong token":
        response = push(push_app, event, aes_key=aes_key, token="not-our-token")
    else:
        response = push(push_app, event, aes_key=aes_key, signature="", msg_signature="")
    assert response.status_code == 401 and response.json["msg"] == "签名无效"
    assert record(pb, att) == att and file_status(pb, att) == 200


def test_a_plain_push_to_a_sidecar_in_safe_mode_is_a_401_with_no_effect(push_app, pb, unique):
    """Plain mode signs no body: once an EncodingAESKey is set, a plain verdict is not WeChat's."""
    att = attachment(pb, trace_id=f"plain-{unique}")
    response = push(push_app, verdict_event(push_app, f"plain-{unique}", "pass"), aes_key="")
    assert (response.status_code, response.json["code"]) == (401, 401)
    assert record(pb, att) == att


def test_a_push_nested_past_the_stack_is_an_envelope_not_a_500(push_app):
    response = push_app.test_client().post("/pb/api/wechat/push", data=b"[" * 60_000,
                                           content_type="application/json")
    assert response.status_code == 401 and response.json["code"] == 401


def test_other_events_and_other_apps_are_acknowledged_and_change_nothing(push_app, pb, unique):
    att = attachment(pb, trace_id=f"other-{unique}")
    for event in ({"Event": "subscribe_msg_popup_event", "MsgType": "event"},
                  {**verdict_event(push_app, f"other-{unique}", "risky"), "appid": "wx-another-app"},
                  {**verdict_event(push_app, f"other-{unique}", "risky"), "trace_id": ""}):
        assert push(push_app, event).data == b"success"
    assert record(pb, att) == att


# The example and its kind: an event whose errcode is not 0 (or whose result is no verdict) is not a pass.
@pytest.mark.parametrize("changes", [
    {"errcode": -1008, "errmsg": "download failed"},
    {"errcode": -1008, "result": {"suggest": "pass", "label": 100}},
    {"errcode": "0", "result": {"suggest": "pass", "label": 100}},
    {"errcode": True},
    {"errcode": 0, "result": {}},
    {"errcode": 0, "result": {"suggest": "PASS"}},
    {"result": None},
], ids=["-1008", "-1008-with-pass", "errcode-text", "errcode-bool", "no-suggest", "unknown-suggest", "no-result"])
def test_a_push_without_a_verdict_is_answered_success_and_the_picture_is_due_again(push_app, pb, unique, changes):
    att = attachment(pb, trace_id=f"failed-{unique}")
    event = {**verdict_event(push_app, f"failed-{unique}", "pass"), **changes}
    assert push(push_app, event).data == b"success"
    after = record(pb, att)
    assert (after["attachments_status"], after["attachments_suggest"]) == ("审核中", "")
    assert after["attachments_check_due"] > 0
