"""End to end through nginx, real processes: the README's walk-through, asserted against the spec."""
from __future__ import annotations

import requests

from tests.helpers import login_through, route

def superuser(stack_pb) -> dict:
    return {"Authorization": stack_pb.superuser_token}


def test_readme_flow(stack, conforms, unique):
    api = f"{stack.base_url}/pb/api"
    first = route(stack, "wechat/login", json={"users_wx_code": f"e2e{unique}"})
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("application/json")
    conforms("AuthSuccessResponse", first.json())
    assert first.json()["data"]["status"] == "register_success"
    assert first.headers["X-Request-Id"]

    again = route(stack, "wechat/login", json={"users_wx_code": f"e2e{unique}.2"})
    assert again.json()["data"]["status"] == "login_success"
    token = again.json()["token"]

    phone = "13" + str(int(unique, 16) % 10**9).zfill(9)
    profile = route(stack, "wechat/profile", token,
                    json={"users_name": "张三", "users_phone_code": f"phone-{phone}"})
    assert profile.status_code == 200, profile.text
    conforms("WechatProfileResponse", profile.json())
    user = profile.json()["data"]["user"]
    assert (user["users_phone"], user["users_type"]) == (phone, "注册用户")
    assert user["users_phone_masked"] == phone[:3] + "****" + phone[-4:]
    assert user["openid"] == f"dev-openid-e2e{unique}"

    refreshed = route(stack, "system/refresh-token", token)
    conforms("RefreshTokenResponse", refreshed.json())
    by_code = route(stack, "system/refresh-token", json={"users_wx_code": f"e2e{unique}.3"})
    assert refreshed.status_code == by_code.status_code == 200
    for new_token in (refreshed.json()["token"], by_code.json()["token"]):
        assert route(stack, "wechat/profile", new_token, json={}).json()["data"]["user"]["pb_id"] == user["pb_id"]

    count = route(stack, "system/users-count")
    conforms("UsersCountResponse", count.json())
    assert count.json()["data"]["total_users"] >= 1

    company = requests.post(f"{api}/collections/tbl_company/records", json={
        "company_name": "微信侧测试企业", "company_type": "渠道商", "company_id": "CMP-mine"}, timeout=15)
    assert company.status_code == 200
    conforms("PocketBaseCompanyRecord", company.json())
    assert company.json()["company_id"].startswith("CMP-") and company.json()["company_id"] != "CMP-mine"
    listed = requests.get(f"{api}/collections/tbl_company/records", timeout=15, params={
        "filter": f'company_id="{company.json()["company_id"]}"', "perPage": 1, "page": 1})
    conforms("PocketBaseCompanyListResponse", listed.json())
    assert [item["id"] for item in listed.json()["items"]] == [company.json()["id"]]


def test_documents_by_dict_and_enum_through_nginx(stack, stack_pb, conforms, unique):
    api = f"{stack.base_url}/pb/api"
    for title, type_ in (("old", f"DICT-{unique}@UT1"), ("skip", f"DICT-{unique}@UT2"), ("new", f"DICT-{unique}@UT1")):
        assert requests.post(f"{api}/collections/tbl_document/records", headers=superuser(stack_pb), timeout=15,
                             json={"document_title": title, "document_type": type_,
                                   "document_status": "有效"}).status_code == 200
    response = requests.get(f"{api}/collections/tbl_document/records", timeout=15, params={
        "filter": f'document_type ~ "DICT-{unique}" && document_type ~ "@UT1"', "sort": "-document_create"})
    conforms("PocketBaseDocumentListResponse", response.json())
    assert [item["document_title"] for item in response.json()["items"]] == ["new", "old"]


def test_attachment_file_is_served_at_the_userinfo_url(stack, stack_pb, conforms, unique):
    api = f"{stack.base_url}/pb/api"
    content = b"\x89PNG\r\n" + unique.encode() * 100
    token, login_user = login_through(stack, f"pic{unique}")
    # Made in the dashboard for the user: the profile route links only a user's own attachments.
    upload = requests.post(f"{api}/collections/tbl_attachments/records", headers=superuser(stack_pb), timeout=15,
                           data={"attachments_owner": login_user["openid"]},
                           files={"attachments_link": ("avatar.png", content, "image/png")})
    assert upload.status_code == 200, upload.text
    attachment = upload.json()
    listed = requests.get(f"{api}/collections/tbl_attachments/records", timeout=15,
                          params={"filter": f'attachments_id="{attachment["attachments_id"]}"', "perPage": 1})
    conforms("PocketBaseAttachmentListResponse", listed.json())
    assert listed.json()["items"][0]["attachments_md5"] == attachment["attachments_md5"]
    assert requests.get(f"{api}/collections/tbl_attachments/records", timeout=15).status_code == 400

    user = route(stack, "wechat/profile", token,
                 json={"users_picture": attachment["attachments_id"]}).json()["data"]["user"]
    url = user["users_picture_url"]
    assert url.endswith(f"/pb/api/files/{attachment['collectionId']}/{attachment['id']}/"
                        f"{attachment['attachments_link']}")
    path = url[url.index("/pb/api/files/"):]
    served = requests.get(stack.base_url + path, timeout=15)
    assert served.status_code == 200 and served.content == content


def test_manage_platform_user_may_patch_a_company_and_wechat_user_may_not(stack, stack_pb, unique):
    api = f"{stack.base_url}/pb/api"
    company = requests.post(f"{api}/collections/tbl_company/records", json={"company_name": f"c{unique}"},
                            timeout=15).json()
    password = "Manager-pass-" + unique
    manager = requests.post(f"{api}/collections/tbl_auth_users/records", headers=superuser(stack_pb), timeout=15,
                            json={"users_idtype": "ManagePlatform", "users_name": "管理员",
                                  "password": password, "passwordConfirm": password}).json()
    manager_token = requests.post(f"{api}/collections/tbl_auth_users/impersonate/{manager['id']}",
                                  headers=superuser(stack_pb), json={"duration": 600}, timeout=15).json()["token"]
    wechat_token = route(stack, "wechat/login", json={"users_wx_code": f"plain{unique}"}).json()["token"]
    record = f"{api}/collections/tbl_company/records/{company['id']}"

    refused = requests.patch(record, json={"company_level": "X"}, timeout=15,
                             headers={"Authorization": f"Bearer {wechat_token}"})
    assert refused.status_code in (403, 404) and "message" in refused.json()
    allowed = requests.patch(record, json={"company_level": "S"}, timeout=15,
                             headers={"Authorization": f"Bearer {manager_token}"})
    assert allowed.status_code == 200 and allowed.json()["company_level"] == "S"
