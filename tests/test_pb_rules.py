"""The access rules of schema.yaml, exercised on a real PocketBase by guest, WeChat user, ManagePlatform user."""
from __future__ import annotations

import pytest

WECHAT, MANAGER, GUEST, SUPERUSER = "wechat", "manager", "guest", "superuser"


@pytest.fixture(scope="module")
def actors(pb):
    """Tokens by actor name; the superuser is None (the PB helper's default)."""
    wechat = pb.create_user(openid="rules-wechat", users_idtype="WeChat")
    manager = pb.create_user(openid="rules-manager", users_idtype="ManagePlatform")
    return {
        WECHAT: pb.user_token(wechat["id"]),
        MANAGER: pb.user_token(manager["id"]),
        GUEST: "",
        SUPERUSER: None,
        "wechat_record": wechat,
        "manager_record": manager,
    }


@pytest.fixture
def company(pb, unique):
    response = pb.create("tbl_company", {"company_name": f"rules-{unique}"})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("actor", [GUEST, WECHAT])
def test_company_create_and_list_are_public(pb, actors, actor, unique):
    created = pb.create("tbl_company", {"company_name": f"public-{unique}"}, token=actors[actor])
    assert created.status_code == 200, created.text
    listed = pb.request("GET", "/api/collections/tbl_company/records", actors[actor],
                        params={"filter": f'company_id="{created.json()["company_id"]}"', "perPage": 1})
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [created.json()["id"]]


@pytest.mark.parametrize("actor, allowed", [(GUEST, False), (WECHAT, False), (MANAGER, True), (SUPERUSER, True)])
def test_company_update_only_by_admin(pb, actors, company, actor, allowed):
    response = pb.request("PATCH", f"/api/collections/tbl_company/records/{company['id']}", actors[actor],
                          json={"company_level": "S"})
    stored = pb.request("GET", f"/api/collections/tbl_company/records/{company['id']}").json()
    if allowed:
        assert response.status_code == 200, response.text
        assert stored["company_level"] == "S"
    else:
        assert response.status_code in (403, 404), response.text
        assert stored["company_level"] == ""


@pytest.mark.parametrize("actor, allowed", [(GUEST, False), (WECHAT, False), (MANAGER, True)])
def test_company_view_and_delete_only_by_admin(pb, actors, company, actor, allowed):
    view = pb.request("GET", f"/api/collections/tbl_company/records/{company['id']}", actors[actor])
    assert (view.status_code == 200) is allowed
    delete = pb.request("DELETE", f"/api/collections/tbl_company/records/{company['id']}", actors[actor])
    assert (delete.status_code == 204) is allowed
    still_there = pb.request("GET", f"/api/collections/tbl_company/records/{company['id']}").status_code == 200
    assert still_there is not allowed


@pytest.mark.parametrize("collection, owner_field, body", [
    ("tbl_attachments", "attachments_owner", {"attachments_remark": "x"}),
    ("tbl_document", "document_owner", {"document_title": "x", "document_status": "有效"}),
])
@pytest.mark.parametrize("actor, allowed", [(GUEST, False), (WECHAT, False), (MANAGER, True)])
def test_attachments_and_documents_written_only_by_admin(pb, actors, collection, owner_field, body, actor,
                                                         allowed, unique):
    response = pb.create(collection, {**body, owner_field: f"owner-{unique}"}, token=actors[actor])
    assert (response.status_code == 200) is allowed, response.text
    found = pb.request("GET", f"/api/collections/{collection}/records",
                       params={"filter": f'{owner_field}="owner-{unique}"'}).json()["items"]
    assert len(found) == (1 if allowed else 0)


def test_users_see_only_their_own_record(pb, actors):
    own, other = actors["wechat_record"], actors["manager_record"]
    listed = pb.request("GET", "/api/collections/tbl_auth_users/records", actors[WECHAT]).json()
    assert [item["id"] for item in listed["items"]] == [own["id"]]
    assert pb.request("GET", f"/api/collections/tbl_auth_users/records/{other['id']}",
                      actors[WECHAT]).status_code == 404
    guest = pb.request("GET", "/api/collections/tbl_auth_users/records", "").json()
    assert guest["items"] == []


def test_manager_sees_every_user(pb, actors):
    other = actors["wechat_record"]
    assert pb.request("GET", f"/api/collections/tbl_auth_users/records/{other['id']}",
                      actors[MANAGER]).status_code == 200


@pytest.mark.parametrize("actor, sees_wechat_row", [(WECHAT, True), (MANAGER, False), (GUEST, False),
                                                    (SUPERUSER, True)])
def test_user_info_view_row_is_read_by_its_owner_only(pb, actors, actor, sees_wechat_row):
    own = actors["wechat_record"]
    row = pb.request("GET", f"/api/collections/view_user_info/records/{own['id']}", actors[actor])
    assert row.status_code == (200 if sees_wechat_row else 404), row.text
    listed = pb.request("GET", "/api/collections/view_user_info/records", actors[actor])
    assert listed.status_code == (200 if actor == SUPERUSER else 403)


def test_user_info_view_joins_company_and_pictures(pb, unique):
    company = pb.create("tbl_company", {"company_name": f"view-{unique}"}).json()
    picture = pb.create("tbl_attachments", {"attachments_remark": "no file"}).json()
    user = pb.create_user(openid=f"view-{unique}", company_id=company["company_id"],
                          users_picture=picture["attachments_id"], users_id_pic_a="ATT-missing")
    row = pb.request("GET", f"/api/collections/view_user_info/records/{user['id']}").json()
    assert (row["openid"], row["company_pb_id"], row["company_name"]) == (f"view-{unique}", company["id"],
                                                                          f"view-{unique}")
    assert (row["users_picture_pb_id"], row["users_picture_link"]) == (picture["id"], "")
    assert (row["users_id_pic_a"], row["users_id_pic_a_pb_id"]) == ("ATT-missing", "")
    assert row["company_created"] == company["created"]


@pytest.mark.parametrize("actor", [WECHAT, MANAGER, GUEST])
def test_users_cannot_write_user_records(pb, actors, actor):
    own = actors["wechat_record"]
    patch = pb.request("PATCH", f"/api/collections/tbl_auth_users/records/{own['id']}", actors[actor],
                       json={"users_type": "注册用户"})
    assert patch.status_code == 403, patch.text
    create = pb.create("tbl_auth_users", {"openid": "sneaky", "password": "x" * 40, "passwordConfirm": "x" * 40},
                       token=actors[actor])
    assert create.status_code == 403
    stored = pb.request("GET", f"/api/collections/tbl_auth_users/records/{own['id']}").json()
    assert stored["users_type"] == ""


def test_password_login_is_off(pb):
    response = pb.request("POST", "/api/collections/tbl_auth_users/auth-with-password", "",
                          json={"identity": "x@example.com", "password": "whatever-123"})
    assert response.status_code in (400, 403)
