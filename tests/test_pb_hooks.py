"""pb_hooks/: business ids, attachment list guard, upload metadata; plus indexes and field limits."""
from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

import pytest

ID_SHAPES = {
    "tbl_auth_users": ("users_id", r"^USR-\d{13}-[A-Za-z0-9]{6}$"),
    "tbl_company": ("company_id", r"^CMP-\d{13}-[A-Za-z0-9]{6}$"),
    "tbl_attachments": ("attachments_id", r"^ATT-\d{13}-[A-Za-z0-9]{6}$"),
    "tbl_document": ("document_id", r"^DOC-\d{13}-[A-Za-z0-9]{6}$"),
}
CREATE_BODIES = {
    "tbl_auth_users": {"password": "p" * 40, "passwordConfirm": "p" * 40},
    "tbl_company": {"company_name": "ids"},
    "tbl_attachments": {"attachments_remark": "ids"},
    "tbl_document": {"document_title": "ids"},
}


@pytest.mark.parametrize("collection", sorted(ID_SHAPES))
def test_business_id_generated_when_absent(pb, collection):
    field, shape = ID_SHAPES[collection]
    first = pb.create(collection, CREATE_BODIES[collection]).json()
    second = pb.create(collection, CREATE_BODIES[collection]).json()
    assert re.match(shape, first[field]), first[field]
    assert first[field] != second[field]


@pytest.mark.parametrize("collection", sorted(ID_SHAPES))
def test_superuser_supplied_business_id_is_kept(pb, collection, unique):
    field, _ = ID_SHAPES[collection]
    created = pb.create(collection, {**CREATE_BODIES[collection], field: f"KEEP-{unique}"})
    assert created.status_code == 200, created.text
    assert created.json()[field] == f"KEEP-{unique}"


@pytest.mark.parametrize("token_kind", ["guest", "user"])
def test_public_company_create_ignores_client_company_id(pb, token_kind, unique):
    token = "" if token_kind == "guest" else pb.user_token(pb.create_user(openid=f"cmp-{unique}")["id"])
    created = pb.create("tbl_company", {"company_name": "x", "company_id": f"CMP-TAKEOVER-{unique}"}, token=token)
    assert created.status_code == 200, created.text
    assert re.match(ID_SHAPES["tbl_company"][1], created.json()["company_id"])


@pytest.mark.parametrize("collection, field", [
    ("tbl_auth_users", "openid"), ("tbl_auth_users", "users_id"), ("tbl_auth_users", "users_phone"),
    ("tbl_company", "company_id"), ("tbl_attachments", "attachments_id"), ("tbl_document", "document_id"),
])
def test_business_keys_are_unique(pb, collection, field, unique):
    value = f"dup-{unique}"
    assert pb.create(collection, {**CREATE_BODIES[collection], field: value}).status_code == 200
    duplicate = pb.create(collection, {**CREATE_BODIES[collection], field: value})
    assert duplicate.status_code == 400
    assert duplicate.json()["data"][field]["code"] == "validation_not_unique"


def test_empty_phone_and_openid_are_not_unique_conflicts(pb):
    pb.create_user(users_phone="", openid="")
    pb.create_user(users_phone="", openid="")


@pytest.fixture(scope="module")
def attachment(pb):
    created = pb.create("tbl_attachments", {"attachments_remark": "guarded"})
    assert created.status_code == 200
    return created.json()


def _list_attachments(pb, token, filter_):
    params = {"perPage": 1} if filter_ is None else {"filter": filter_, "perPage": 1}
    return pb.request("GET", "/api/collections/tbl_attachments/records", token, params=params)


def test_attachment_listed_by_exact_id(pb, attachment):
    response = _list_attachments(pb, "", f'attachments_id="{attachment["attachments_id"]}"')
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [attachment["id"]]


@pytest.mark.parametrize("filter_", [
    None, "", 'attachments_id!=""', 'attachments_id~"ATT"', 'attachments_id="x" || attachments_id!=""',
    'attachments_id="x"||1=1', 'attachments_remark="guarded"', 'id!=""', 'attachments_id = "a" && id != ""',
])
def test_attachment_enumeration_is_refused(pb, filter_):
    response = _list_attachments(pb, "", filter_)
    assert response.status_code == 400
    assert response.json()["message"].startswith('Only the filter attachments_id="<id>"')


def test_superuser_may_list_attachments(pb, attachment):
    assert _list_attachments(pb, None, None).status_code == 200


# -- A WeChat user's own attachments ("my uploads"): the list rule's first door, the guard around its second --

@pytest.fixture(scope="module")
def uploads(pb):
    """Two WeChat users, three attachments of the first (created in this order), one of the second, one of nobody."""
    tag = secrets.token_hex(4)
    mine, theirs = f"mine-{tag}", f"theirs-{tag}"
    users = {name: pb.create_user(openid=name) for name in (mine, theirs)}
    tokens = {name: pb.user_token(user["id"]) for name, user in users.items()}

    def attachment(owner: str, status: str) -> dict:
        created = pb.create("tbl_attachments", {"attachments_owner": owner, "attachments_status": status,
                                                "attachments_remark": f"remark-{tag}"})
        assert created.status_code == 200, created.text
        return created.json()

    own = [attachment(mine, "有效"), attachment(mine, "审核中"), attachment(mine, "有效")]
    return {"tag": tag, "tokens": tokens, "mine": mine, "theirs": theirs, "own": own,
            "other": attachment(theirs, "有效"), "orphan": attachment("", "有效")}


def _list_as(pb, token, **params):
    return pb.request("GET", "/api/collections/tbl_attachments/records", token, params=params)


def test_a_user_lists_their_own_attachments_with_paging_and_sorting(pb, uploads):
    token, own = uploads["tokens"][uploads["mine"]], uploads["own"]
    first = _list_as(pb, token, sort="-created,-id", perPage=2, page=1)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["totalItems"] == 3 and body["totalPages"] == 2
    second = _list_as(pb, token, sort="-created,-id", perPage=2, page=2).json()
    listed = [item["id"] for item in body["items"] + second["items"]]
    assert sorted(listed) == sorted(item["id"] for item in own)
    assert all(item["attachments_owner"] == uploads["mine"] for item in body["items"] + second["items"])
    assert not any("attachments_trace_id" in item or "attachments_suggest" in item for item in body["items"])


def test_a_users_filter_reaches_only_their_own_attachments(pb, uploads):
    """The same filter that matches everyone's records (the shared remark) answers the caller's own only."""
    token, tag = uploads["tokens"][uploads["mine"]], uploads["tag"]
    valid = _list_as(pb, token, filter=f'attachments_remark = "remark-{tag}" && attachments_status = "有效"')
    assert valid.status_code == 200, valid.text
    assert sorted(i["id"] for i in valid.json()["items"]) == sorted(
        a["id"] for a in uploads["own"] if a["attachments_status"] == "有效")
    other = _list_as(pb, uploads["tokens"][uploads["theirs"]], filter=f'attachments_remark = "remark-{tag}"')
    assert [i["id"] for i in other.json()["items"]] == [uploads["other"]["id"]]
    # Naming another's record by its PocketBase id, owner or file finds nothing (their record, not the caller's).
    for probe in (f'id = "{uploads["other"]["id"]}"', f'attachments_owner = "{uploads["theirs"]}"',
                  f'id = "{uploads["orphan"]["id"]}"', 'attachments_owner = ""'):
        response = _list_as(pb, token, filter=probe)
        assert response.status_code == 200 and response.json()["totalItems"] == 0, (probe, response.text[:200])
    everything = _list_as(pb, token, filter='id != ""', perPage=500).json()
    assert sorted(i["id"] for i in everything["items"]) == sorted(a["id"] for a in uploads["own"])


@pytest.mark.parametrize("filter_", [
    'attachments_id != ""', 'attachments_id ~ "ATT"', 'id != "" || attachments_id != ""',
    'attachments_remark != "ATTACHMENTS-ID"',
    'attachments_remark != "attachments_id"', 'attachments_id = "a" && id != ""', 'attachments_id="x"||1=1',
])
def test_a_user_naming_attachments_id_other_than_exactly_is_refused(pb, uploads, filter_):
    """A filter naming attachments_id opens the rule's door to anyone's records: only the exact form may."""
    response = _list_as(pb, uploads["tokens"][uploads["mine"]], filter=filter_)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith("A filter on attachments_id must be exactly")


@pytest.mark.parametrize("form", ['attachments_id="{id}"', "attachments_id = '{id}'", ' attachments_id =  "{id}" '])
def test_a_user_still_finds_anyones_attachment_by_its_exact_id(pb, uploads, form):
    other = uploads["other"]
    response = _list_as(pb, uploads["tokens"][uploads["mine"]], filter=form.format(id=other["attachments_id"]))
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == [other["id"]]


def test_an_auth_record_without_openid_keeps_the_guard(pb, uploads):
    """Records owned by nobody ("") never become "theirs" for a user whose openid is empty."""
    token = pb.user_token(pb.create_user(openid="")["id"])
    for filter_ in (None, 'attachments_owner = ""'):
        response = _list_as(pb, token, **({} if filter_ is None else {"filter": filter_}))
        assert response.status_code == 400, response.text
        assert response.json()["message"].startswith('Only the filter attachments_id="<id>"')


def test_upload_fills_attachment_metadata(pb):
    content = bytes(range(256)) * 40 + b"\x89PNG\xff\xfe"
    response = pb.request("POST", "/api/collections/tbl_attachments/records",
                          files={"attachments_link": ("证件 scan.png", content, "image/png")},
                          data={"attachments_owner": "meta"})
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["attachments_filename"] == "证件 scan.png"
    assert record["attachments_size"] == len(content)
    assert record["attachments_filetype"] == "image/png"
    assert record["attachments_md5"] == hashlib.md5(content).hexdigest()
    assert record["attachments_link"].endswith(".png")


def test_upload_keeps_metadata_given_by_uploader(pb):
    response = pb.request("POST", "/api/collections/tbl_attachments/records",
                          files={"attachments_link": ("a.pdf", b"%PDF-1.4", "application/pdf")},
                          data={"attachments_filename": "合同.pdf", "attachments_md5": "0" * 32})
    record = response.json()
    assert (record["attachments_filename"], record["attachments_md5"]) == ("合同.pdf", "0" * 32)
    assert record["attachments_filetype"] == "application/pdf"


# An update without a new file (changes, other fields alike) -> what the metadata is afterwards
@pytest.mark.parametrize("update", [
    {"data": {"attachments_remark": "checked"}},
    {"data": {"attachments_remark": "checked", "attachments_md5": "1" * 32}},
])
def test_update_without_a_new_file_keeps_the_metadata(pb, update):
    content = b"%PDF-1.4 first"
    created = pb.request("POST", "/api/collections/tbl_attachments/records",
                         files={"attachments_link": ("first.pdf", content, "application/pdf")}).json()
    response = pb.request("PATCH", f"/api/collections/tbl_attachments/records/{created['id']}", **update)
    assert response.status_code == 200, response.text
    record = response.json()
    assert (record["attachments_filename"], record["attachments_size"], record["attachments_filetype"]) == (
        "first.pdf", len(content), "application/pdf")
    assert record["attachments_md5"] == update["data"].get("attachments_md5", hashlib.md5(content).hexdigest())


def test_replacing_the_file_recomputes_every_metadata_field(pb):
    first = b"%PDF-1.4 first"
    created = pb.request("POST", "/api/collections/tbl_attachments/records",
                         files={"attachments_link": ("first.pdf", first, "application/pdf")}).json()
    second = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3
    # As the dashboard sends it: the new file with the form's old values.
    response = pb.request("PATCH", f"/api/collections/tbl_attachments/records/{created['id']}",
                          files={"attachments_link": ("正面.png", second, "image/png")},
                          data={key: str(created[key]) for key in (
                              "attachments_filename", "attachments_size", "attachments_filetype", "attachments_md5")})
    assert response.status_code == 200, response.text
    record = response.json()
    assert (record["attachments_filename"], record["attachments_size"], record["attachments_filetype"],
            record["attachments_md5"]) == ("正面.png", len(second), "image/png", hashlib.md5(second).hexdigest())


def test_documents_filtered_by_dict_and_enum_newest_first(pb, unique):
    dict_id = f"DICT-{unique}"
    titles = ["first", "second", "other-enum", "third"]
    types = [f"{dict_id}@UT1", f"DICT-x@UT2|{dict_id}@UT1", f"{dict_id}@UT2", f"{dict_id}@UT1"]
    for title, type_ in zip(titles, types):
        assert pb.create("tbl_document", {"document_title": title, "document_type": type_,
                                          "document_status": "有效"}).status_code == 200
    response = pb.request("GET", "/api/collections/tbl_document/records", "", params={
        "filter": f'document_type ~ "{dict_id}" && document_type ~ "@UT1"', "sort": "-document_create",
        "page": 1, "perPage": 20,
    })
    assert response.status_code == 200
    body = response.json()
    assert [item["document_title"] for item in body["items"]] == ["third", "second", "first"]
    assert body["totalItems"] == 3
    stamps = [item["document_create"] for item in body["items"]]
    assert stamps == sorted(stamps, reverse=True) and all(stamps)


@pytest.mark.parametrize("collection, body", [
    ("tbl_document", {"document_status": "作废"}),
    ("tbl_company", {"company_name": "名" * 201}),
    ("tbl_company", {"company_remark": "x" * 2001}),
    ("tbl_auth_users", {**CREATE_BODIES["tbl_auth_users"], "users_name": "n" * 101}),
    ("tbl_attachments", {"attachments_md5": "f" * 33}),
])
def test_out_of_range_values_are_refused(pb, collection, body):
    response = pb.create(collection, body)
    assert response.status_code == 400, response.text


# A name that shows nothing never makes a registered user, whoever sets it (here a superuser, as the dashboard).
@pytest.mark.parametrize("name, users_type", [
    ("张三", "注册用户"), ("\u200b", "游客"), ("\u3164", "游客"), ("\ufeff\u2060 ", "游客"), ("\u2800\u115f", "游客"),
    ("\ufe0f", "游客"), ("\U000e0001", "游客"), ("a\u200b", "注册用户"), ("😀", "注册用户"),
])
def test_promotion_needs_a_visible_name(pb, unique, name, users_type):
    phone = f"159{secrets.randbelow(10**8):08d}"
    user = pb.create_user(openid=f"promo-{unique}", users_name=name, users_phone=phone, users_type="游客")
    assert pb.user(user["id"])["users_type"] == users_type


# PocketBase's convention: every hook file, and every module they require, carries the types reference line at
# its top (a generated module's note may come first: only comments may precede the line). No collection id is
# written into a hook: ids are looked up by name (schema.yaml derives them).
HOOKS_DIR = Path(__file__).resolve().parent.parent / "pb_hooks"


@pytest.mark.parametrize("path", sorted(HOOKS_DIR.rglob("*.js")), ids=lambda p: str(p.relative_to(HOOKS_DIR)))
def test_every_hook_file_has_the_types_reference_line_and_no_collection_id(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    reference = f'/// <reference path="{"../" * len(path.relative_to(HOOKS_DIR).parts)}pb_data/types.d.ts" />'
    top = [line for line in lines[:3] if not line.startswith("// ")]
    assert top and top[0] == reference, lines[:3]
    assert not re.search(r"\bpbc_\d+", "\n".join(lines)), "a collection id is written in"
