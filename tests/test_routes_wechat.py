"""POST /pb/api/wechat/login and /profile: envelopes, validation, what is (and is not) written."""
from __future__ import annotations

import json
import time

import pytest

from tests.helpers import login_through, route

LOGIN, PROFILE = "/pb/api/wechat/login", "/pb/api/wechat/profile"


def test_first_login_registers_then_logs_in(client, conforms, spec, unique):
    first = client.post(LOGIN, json={"users_wx_code": f"new-{unique}.1"})
    assert first.status_code == 200
    conforms("AuthSuccessResponse", first.json)
    assert (first.json["code"], first.json["msg"]) == (200, "注册成功")
    data = first.json["data"]
    assert data["status"] == "register_success" and data["is_info_complete"] is False
    user = data["user"]
    assert set(user) == set(spec["components"]["schemas"]["UserInfo"]["properties"])
    assert user["openid"] == f"oid-new-{unique}"
    assert (user["users_idtype"], user["users_type"], user["company"]) == ("WeChat", "游客", None)
    assert user["users_id"].startswith("USR-") and first.json["token"].count(".") == 2

    second = client.post(LOGIN, json={"users_wx_code": f"new-{unique}.2"})
    assert second.json["data"]["status"] == "login_success" and second.json["msg"] == "登录成功"
    assert second.json["data"]["user"]["pb_id"] == user["pb_id"]


# Info complete is decided by PocketBase alone (lib/wechat_users.js infoComplete): a name set elsewhere (the
# dashboard) that shows nothing makes no complete info here either, as it makes no 注册用户 there.
@pytest.mark.parametrize("name, complete", [("张三", True), ("\u3164\u200b", False), ("\u2800", False), ("", False)])
def test_login_answers_info_complete_as_pocketbase_decides_it(client, pb, unique, name, complete):
    phone = f"158{int(unique, 16) % 10**8:08d}"
    user = pb.create_user(openid=f"oid-complete-{unique}", users_name=name, users_phone=phone)
    response = client.post(LOGIN, json={"users_wx_code": f"complete-{unique}"})
    assert response.json["data"]["is_info_complete"] is complete
    assert (pb.user(user["id"])["users_type"] == "注册用户") is complete


def test_login_keeps_unionid_and_never_answers_secrets(client, pb, wechat, unique):
    response = client.post(LOGIN, json={"users_wx_code": f"secret-{unique}"})
    assert pb.user(response.json["data"]["user"]["pb_id"])["unionid"] == f"uid-secret-{unique}"
    text = response.get_data(as_text=True)
    for secret in (wechat.SESSION_KEY, "password", "tokenKey", "session_key", "unionid"):
        assert secret not in text


def test_login_answers_company_and_picture_links_and_adds_a_missing_unionid(client, pb, unique):
    upload = upload_attachment(pb, "card.png")
    company = pb.create("tbl_company", {"company_name": f"co-{unique}"}).json()
    user = pb.create_user(openid=f"oid-known-{unique}", company_id=company["company_id"],
                          users_id_pic_a=upload["attachments_id"])
    response = client.post(LOGIN, json={"users_wx_code": f"known-{unique}"})
    info = response.json["data"]["user"]
    assert info["pb_id"] == user["id"] and response.json["data"]["status"] == "login_success"
    assert info["company"]["pb_id"] == company["id"] and info["company"]["company_name"] == f"co-{unique}"
    assert info["users_id_pic_a_url"] == file_url(upload) and info["users_picture_url"] == ""
    assert pb.user(user["id"])["unionid"] == f"uid-known-{unique}"


@pytest.mark.parametrize("kwargs, status", [
    ({}, 400),
    ({"json": {}}, 400),
    ({"json": {"users_wx_code": ""}}, 400),
    ({"json": {"users_wx_code": "   "}}, 400),
    ({"json": {"users_wx_code": None}}, 400),
    ({"json": {"users_wx_code": 123}}, 400),
    ({"json": {"users_wx_code": ["a"]}}, 400),
    ({"json": {"users_wx_code": {"a": 1}}}, 400),
    ({"json": {"users_wx_code": "x" * 129}}, 400),
    ({"json": ["users_wx_code"]}, 400),
    ({"json": "users_wx_code"}, 400),
    ({"data": "users_wx_code=abc", "content_type": "application/x-www-form-urlencoded"}, 415),
    ({"data": '{"users_wx_code": "abc"}', "content_type": "text/plain"}, 415),
    ({"data": '{"users_wx_code": ', "content_type": "application/json"}, 415),
    ({"data": b"\xff\xfe\x00", "content_type": "application/json"}, 400),  # not UTF-8
    ({"data": '{"users_wx_code": "ab\\ud83d"}', "content_type": "application/json"}, 400),  # half an emoji
    ({"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"}, 415),
    ({"data": "x" * (65 * 1024), "content_type": "application/json"}, 413),
])
def test_bad_login_requests_get_an_envelope_and_write_nothing(client, wechat, kwargs, status):
    response = client.post(LOGIN, **kwargs)
    assert response.status_code == status
    assert response.json["code"] == status and response.json["msg"] and isinstance(response.json["data"], dict)
    # No openid was asked for, so no user can have been made (a login writes only after jscode2session).
    assert not [c for c in wechat.calls if c.startswith("jscode2session")]


@pytest.mark.parametrize("errcode, status", [
    (40029, 400), (40163, 400), (40226, 400), (45011, 429), (-1, 502), (40013, 502),
])
def test_wechat_refusals_map_to_envelopes_and_write_nothing(client, pb, wechat, unique, errcode, status):
    wechat.errors[f"refused-{unique}"] = errcode
    response = client.post(LOGIN, json={"users_wx_code": f"refused-{unique}"})
    assert (response.status_code, response.json["code"]) == (status, status)
    assert "token" not in response.json
    assert pb.total("tbl_auth_users", f'openid = "oid-refused-{unique}"') == 0  # the user it would have made


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_other_methods_are_405_envelopes(client, method):
    response = getattr(client, method)(LOGIN)
    assert response.status_code == 405 and response.json["code"] == 405


def test_unknown_route_is_404_envelope(client):
    response = client.post("/pb/api/wechat/nope", json={})
    assert response.status_code == 404 and response.json == {"code": 404, "msg": "接口不存在", "data": {}}


# ---------------------------------------------------------------- profile

def profile(client, token, body, scheme="Bearer "):
    # json.dumps escapes what is not ASCII, lone surrogates included, as a JSON client may send them.
    return client.post(PROFILE, data=json.dumps(body), content_type="application/json",
                       headers={"Authorization": scheme + token})


def test_profile_updates_given_fields_only(client, login, conforms, pb):
    token, user = login()
    first = profile(client, token, {"users_name": "张三", "users_tag": "核心客户"})
    assert first.status_code == 200
    conforms("WechatProfileResponse", first.json)
    assert first.json["data"]["status"] == "update_success" and first.json["msg"] == "资料更新成功"
    second = profile(client, token, {"users_name": "", "users_tag": None, "users_phone": "13900139000"}, scheme="")
    updated = second.json["data"]["user"]
    assert (updated["users_name"], updated["users_tag"], updated["users_phone"]) == ("张三", "核心客户", "13900139000")
    assert updated["users_phone_masked"] == "139****9000"
    assert updated["users_type"] == "注册用户"
    assert pb.user(user["pb_id"])["users_type"] == "注册用户"


def test_profile_phone_code_wins_over_phone(client, login, wechat, unique):
    token, _ = login()
    wechat.phones[f"pc-{unique}"] = "13700137000"
    response = profile(client, token, {"users_phone_code": f"pc-{unique}", "users_phone": "13600136000"})
    assert response.json["data"]["user"]["users_phone"] == "13700137000"
    assert f"phone:pc-{unique}" in wechat.calls


def test_profile_ignores_every_other_key(client, login, pb):
    token, user = login()
    attack = {"openid": "stolen", "users_type": "注册用户", "users_idtype": "ManagePlatform", "company_id": "CMP-x",
              "users_rank_level": 9, "tokenKey": "x" * 50, "password": "p" * 20, "passwordConfirm": "p" * 20,
              "email": "a@b.cd", "verified": True, "users_id": "USR-x", "id": "aaaaaaaaaaaaaaa", "unionid": "u"}
    before = pb.user(user["pb_id"])
    response = profile(client, token, attack)
    assert response.status_code == 200
    after = pb.user(user["pb_id"])
    for key in ("openid", "users_type", "users_idtype", "company_id", "users_rank_level", "email", "verified",
                "users_id", "unionid", "id"):
        assert after.get(key) == before.get(key), key
    assert after == before  # nothing the route takes was given: nothing written, `updated` included
    assert profile(client, token, {}).status_code == 200  # the old token still works: tokenKey unchanged


def test_an_empty_profile_answers_the_user_and_writes_nothing(client, login, pb):
    """What a client does to read its UserInfo (miniprogram's profile({})): no save, `updated` stays."""
    token, user = login()
    before = pb.user(user["pb_id"])
    response = profile(client, token, {})
    assert response.status_code == 200 and response.json["data"]["user"]["pb_id"] == user["pb_id"]
    assert response.json["data"]["user"]["updated"] == before["updated"]
    assert pb.user(user["pb_id"]) == before


def test_profile_phone_taken_by_another_user_is_refused(client, login, pb, unique):
    phone = "135" + str(int(unique, 16) % 10**8).zfill(8)
    first_token, _ = login(f"owner-{unique}")
    second_token, second = login(f"taker-{unique}")
    assert profile(client, first_token, {"users_phone": phone}).status_code == 200
    response = profile(client, second_token, {"users_phone": phone, "users_name": "李四"})
    assert response.status_code == 400 and response.json["msg"] == "手机号已被其他账号使用"
    assert pb.user(second["pb_id"])["users_name"] == ""


# WeChat's phone_info (countryCode as a number or a string) -> the stored number, or None: WeChat's answer is not
# a number (checked as a client's input is), a 502 and nothing changed (issue #31)
@pytest.mark.parametrize("answer, stored, masked", [
    (("86", "13700137001"), "13700137001", "137****7001"),
    ((86, "13700137002"), "13700137002", "137****7002"),
    ((852, "51234567"), "+85251234567", "+852****4567"),
    (("853", "66123456"), "+85366123456", "+853****3456"),
    (("1", "6502530001"), "+16502530001", "+1******0001"),
    (("1", "13800138073"), None, None),
    (("86", "   "), None, None),
    (("86", ""), None, None),
    (("86", "１３７００１３７００３"), None, None),
    (("86", "1370013700" + "4" * 10), None, None),
    (("86", "137-0013-7005"), None, None),
])
def test_profile_takes_a_verified_number_with_its_country(client, login, pb, wechat, unique, answer, stored, masked):
    token, user = login()
    before = pb.user(user["pb_id"])
    wechat.phones[f"cc-{unique}"] = answer
    response = profile(client, token, {"users_phone_code": f"cc-{unique}"})
    if stored is None:
        assert (response.status_code, response.json) == (502, {"code": 502, "msg": "微信服务异常,请稍后再试",
                                                               "data": {}})
        assert pb.user(user["pb_id"]) == before
        return
    assert response.status_code == 200, response.json
    assert (response.json["data"]["user"]["users_phone"], response.json["data"]["user"]["users_phone_masked"]) == (
        stored, masked)
    assert pb.user(user["pb_id"])["users_phone_verified"] is True


@pytest.mark.parametrize("ahead, leeway, status", [(30, 60, 200), (30, 0, 401), (90, 60, 401)])
def test_profile_precheck_allows_a_clock_ahead_within_the_leeway(client, login, pb, wechat, monkeypatch, unique,
                                                                  ahead, leeway, status):
    _, user = login()
    token = pb.user_token(user["pb_id"], duration=10)  # PocketBase accepts it for 10 s more
    real_time = time.time
    monkeypatch.setattr("sidecar.users.time.time", lambda: real_time() + ahead)
    monkeypatch.setattr(client.application.extensions["users"], "token_leeway", leeway)
    wechat.phones[f"lw-{unique}"] = "13700137003"
    response = profile(client, token, {"users_name": "钟", "users_phone_code": f"lw-{unique}"})
    assert response.status_code == status, response.json
    # A token refused locally spends no (paid) WeChat phone call.
    assert (f"phone:lw-{unique}" in wechat.calls) is (status == 200)


@pytest.mark.parametrize("body, fragment", [
    ({"users_phone": "12345"}, "手机号"),
    ({"users_phone": "1380013800a"}, "手机号"),
    ({"users_phone": "23800138000"}, "手机号"),
    ({"users_phone": "+852 2123 4567"}, "手机号"),
    ({"users_name": "ab\ud83d"}, "users_name"),
    ({"users_picture": "\udc80"}, "users_picture"),
    ({"users_name": 42}, "users_name"),
    ({"users_tag": ["a"]}, "users_tag"),
    ({"users_phone": 13800138000}, "users_phone"),
    ({"users_name": "名" * 101}, "users_name"),
    ({"users_picture": "ATT-does-not-exist"}, "users_picture"),
    ({"users_id_pic_a": "x" * 65}, "users_id_pic_a"),
    ({"users_phone_code": True}, "users_phone_code"),
])
def test_bad_profile_values_are_400_and_change_nothing(client, login, pb, body, fragment):
    token, user = login()
    before = pb.user(user["pb_id"])
    response = profile(client, token, {"users_tag": "should-not-be-written", **body})
    assert response.status_code == 400 and fragment in response.json["msg"]
    assert response.json["data"] == {"field": next(iter(body))}
    assert pb.user(user["pb_id"]) == before


def test_profile_phone_code_refused_by_wechat_changes_nothing(client, login, pb, wechat, unique):
    token, user = login()
    wechat.errors[f"badphone-{unique}"] = 40029
    response = profile(client, token, {"users_phone_code": f"badphone-{unique}", "users_name": "王五"})
    assert response.status_code == 400
    assert pb.user(user["pb_id"])["users_name"] == ""


def upload_attachment(pb, filename: str, owner: str = "") -> dict:
    """An attachment made by a superuser (as in the dashboard), owned by the openid owner ("" = nobody)."""
    return pb.request("POST", "/api/collections/tbl_attachments/records", data={"attachments_owner": owner},
                      files={"attachments_link": (filename, b"\x89PNG-" + filename.encode(), "image/png")}).json()


def file_url(attachment: dict) -> str:
    return (f"https://api.example.test/pb/api/files/{attachment['collectionId']}/{attachment['id']}/"
            f"{attachment['attachments_link']}")


def test_profile_resolves_attachment_links_and_company(client, login, pb, unique):
    token, user = login()
    upload = upload_attachment(pb, "face.png", owner=user["openid"])
    company = pb.create("tbl_company", {"company_name": f"co-{unique}"}).json()
    pb.request("PATCH", f"/api/collections/tbl_auth_users/records/{user['pb_id']}",
               json={"company_id": company["company_id"]})
    response = profile(client, token, {"users_picture": upload["attachments_id"]})
    info = response.json["data"]["user"]
    assert info["users_picture_url"] == file_url(upload)
    assert info["users_id_pic_a_url"] == ""
    assert info["company"]["pb_id"] == company["id"] and info["company"]["company_name"] == f"co-{unique}"
    again = profile(client, token, {"users_picture": upload["attachments_id"], "users_tag": "again"})
    assert again.status_code == 200 and again.json["data"]["user"]["users_picture_url"] == file_url(upload)


def test_profile_refuses_its_current_picture_once_the_attachment_is_gone(client, login, pb):
    token, user = login()
    upload = upload_attachment(pb, "gone.png", owner=user["openid"])
    assert profile(client, token, {"users_id_pic_b": upload["attachments_id"]}).status_code == 200
    pb.request("DELETE", f"/api/collections/tbl_attachments/records/{upload['id']}")
    response = profile(client, token, {"users_id_pic_b": upload["attachments_id"], "users_tag": "x"})
    assert response.status_code == 400 and "users_id_pic_b" in response.json["msg"]
    assert pb.user(user["pb_id"])["users_tag"] == ""


@pytest.mark.parametrize("moved", ["company_id", "users_title_picture"])
def test_profile_answers_what_an_admin_changed_meanwhile(client, login, pb, app, monkeypatch, unique, moved):
    token, user = login()
    company = pb.create("tbl_company", {"company_name": f"co-{unique}"}).json()
    upload = upload_attachment(pb, "title.png")
    admin_edit = {"company_id": company["company_id"], "users_title_picture": upload["attachments_id"]}[moved]
    gateway = app.extensions["pocketbase"]
    save = gateway.internal

    def save_after_an_admin_edit(method, name, body=None, client=None):
        pb.request("PATCH", f"/api/collections/tbl_auth_users/records/{user['pb_id']}", json={moved: admin_edit})
        return save(method, name, body, client)

    monkeypatch.setattr(gateway, "internal", save_after_an_admin_edit)
    info = profile(client, token, {"users_name": "赵六"}).json["data"]["user"]
    assert info["users_name"] == "赵六" and info[moved] == admin_edit
    if moved == "company_id":
        assert info["company"]["pb_id"] == company["id"]
    else:
        assert info["users_title_picture_url"] == file_url(upload)


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Bearer junk", "Basic abc", "Bearer a.b.c", "x" * 10000,
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJpZCI6ImFiYyJ9.c2ln",
])
def test_profile_without_a_valid_token_is_401(client, header):
    headers = {} if header is None else {"Authorization": header}
    response = client.post(PROFILE, json={"users_name": "x"}, headers=headers)
    assert response.status_code == 401 and response.json["code"] == 401


def test_typed_phone_numbers_are_bounded_per_user(client, login, pb, wechat, unique):
    token, user = login()
    base = int(unique, 16) % 10**6
    numbers = [f"158{base:06d}{i:02d}" for i in range(7)]
    for taken in numbers[0], numbers[3]:
        pb.create_user(openid="", users_phone=taken)
    statuses = [profile(client, token, {"users_phone": n}).status_code for n in numbers[:5]]
    assert statuses == [400, 200, 200, 400, 200]  # five distinct numbers, taken or accepted
    refused = profile(client, token, {"users_phone": numbers[5], "users_name": "探测"})
    assert refused.status_code == 429 and refused.json["code"] == 429 and refused.json["data"] == {"field": "users_phone"}
    assert (pb.user(user["pb_id"])["users_phone"], pb.user(user["pb_id"])["users_name"]) == (numbers[4], "")
    # Numbers already tried, the current one and WeChat-verified ones are not new attempts.
    assert profile(client, token, {"users_phone": numbers[1]}).status_code == 200
    assert profile(client, token, {"users_phone": numbers[1], "users_tag": "t"}).status_code == 200
    wechat.phones[f"pc-{unique}"] = numbers[6]
    assert profile(client, token, {"users_phone_code": f"pc-{unique}"}).json["data"]["user"]["users_phone"] == numbers[6]
    other_token, _ = login(f"other-{unique}")
    assert profile(client, other_token, {"users_phone": numbers[5]}).status_code == 200


def test_rate_limits_off_lifts_the_phone_bound(stack, unique):
    token, _ = login_through(stack, f"prober-{unique}")
    base = int(unique, 16) % 10**6
    statuses = {route(stack, "wechat/profile", token, json={"users_phone": f"157{base:06d}{i:02d}"}).status_code
                for i in range(7)}
    assert statuses == {200}


# WeChat's answer checked as a client's input is (issue #31): an openid or unionid that is empty, blank, padded, too
# long or of characters WeChat never writes is a 502, and no user is created or logged into. The example:
# "   " registered a user, and every later blank answer logged into it.
@pytest.mark.parametrize("answer", [
    {"openid": "   "}, {"openid": ""}, {"openid": " oid-padded"}, {"openid": "o" * 129}, {"openid": "张三"},
    {"openid": "oid\u2028x"}, {"openid": None}, {"openid": 7},
    {"unionid": "   "}, {"unionid": "u" * 129}, {"unionid": "uid/x"}, {"unionid": 7},
    {"session_key": "   "}, {"session_key": ""},
], ids=lambda answer: repr(answer)[:24])
@pytest.mark.parametrize("path", ["/pb/api/wechat/login", "/pb/api/system/refresh-token"])
def test_an_answer_of_wechat_that_is_not_an_id_is_a_502_and_nothing_is_created(client, pb, wechat, unique, answer,
                                                                                 path):
    code = f"odd-{unique}"
    wechat.sessions[code] = {"openid": f"oid-odd-{unique}", "unionid": f"uid-odd-{unique}",
                             "session_key": wechat.SESSION_KEY, **answer}
    before = count_users(pb)
    response = client.post(path, json={"users_wx_code": code})
    assert (response.status_code, response.json) == (502, {"code": 502, "msg": "微信服务异常,请稍后再试", "data": {}})
    assert "token" not in response.json and count_users(pb) == before


def count_users(pb) -> int:
    return pb.request("GET", "/api/collections/tbl_auth_users/records", params={"perPage": 1}).json()["totalItems"]
