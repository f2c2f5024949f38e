"""bench/seed_api.py's record bodies: who owns what in the seed of `make bench`."""
from __future__ import annotations

from bench import seed_api
from bench.seed_sql import attachment_bid, company_bid


def test_even_users_are_registered_with_a_company_and_three_attachments():
    user = seed_api.user_body(4)
    assert user["openid"] == "dev-openid-benchuser4" and user["users_type"] == "注册用户"
    assert user["company_id"] == company_bid(2)
    assert [user["users_picture"], user["users_id_pic_a"], user["users_id_pic_b"]] == [
        attachment_bid(6), attachment_bid(7), attachment_bid(8)]
    assert user["password"] == user["passwordConfirm"] and len(user["password"]) >= 20


def test_odd_users_are_visitors_with_nothing_attached():
    user = seed_api.user_body(5)
    assert user["users_type"] == "游客" and "company_id" not in user and "users_phone" not in user
    assert seed_api.user_body(5)["password"] != user["password"]


def test_companies_and_attachments_belong_to_the_even_users():
    assert seed_api.company_body(3)["company_owner_openid"] == "dev-openid-benchuser6"
    assert [seed_api.attachment_body(i)["attachments_owner"] for i in (6, 7, 8, 9)] == [
        "dev-openid-benchuser4"] * 3 + ["dev-openid-benchuser6"]
    assert seed_api.N_ATTACHMENTS == seed_api.N_USERS // 2 * 3 > seed_api.N_FILE_ATTACHMENTS
