"""The seed of `make bench`: records created through PocketBase's batch API on a running stack."""
from __future__ import annotations

import concurrent.futures as cf
import json
import secrets
import time
from contextlib import contextmanager

import requests

from bench.output import log
from bench.seed_sql import TINY_PNG, attachment_bid, company_bid, registered_user_fields

N_USERS, N_COMPANIES, N_DOCUMENTS = 10_000, 1_000, 5_000
N_ATTACHMENTS = (N_USERS // 2) * 3  # users 0, 2, 4, ... have three attachments each
N_FILE_ATTACHMENTS = 600          # attachment records with a real (tiny) uploaded file; the rest have none
BATCH = 500                       # records per /api/batch call during the seed
COLLECTIONS = ("tbl_auth_users", "tbl_company", "tbl_attachments", "tbl_document")


class Seeder:
    """A superuser's client for PocketBase's batch API and record counts."""

    def __init__(self, pb_url: str, token: str):
        self.url = pb_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = token
        self.token = token

    def batch(self, reqs: list[dict], files: dict | None = None) -> None:
        """One /api/batch call (multipart when files are uploaded)."""
        if files:
            r = requests.post(self.url + "/api/batch", headers={"Authorization": self.token},
                              data={"@jsonPayload": json.dumps({"requests": reqs})}, files=files, timeout=300)
        else:
            r = requests.post(self.url + "/api/batch", headers={"Authorization": self.token},
                              json={"requests": reqs}, timeout=300)
        if r.status_code != 200:
            raise RuntimeError(f"batch failed: HTTP {r.status_code} {r.text[:600]}")

    def create_many(self, collection: str, bodies: list[dict], workers: int = 2) -> None:
        """Create the records in batches of BATCH, a few batches at once."""
        url = f"/api/collections/{collection}/records"
        chunks = [bodies[i:i + BATCH] for i in range(0, len(bodies), BATCH)]
        with cf.ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda chunk: self.batch([{"method": "POST", "url": url, "body": b} for b in chunk]),
                          chunks))

    def count(self, collection: str) -> int:
        """The collection's totalItems."""
        r = self.session.get(f"{self.url}/api/collections/{collection}/records",
                             params={"perPage": 1, "fields": "id"}, timeout=30)
        r.raise_for_status()
        return r.json()["totalItems"]


@contextmanager
def raised_batch_limit(s: Seeder):
    """batch.maxRequests raised to BATCH for the seed, then back to the project's limit: the benchmark
    measures the stack as configured."""
    settings = s.session.get(s.url + "/api/settings", timeout=10).json()
    batch_before = settings.get("batch", {})
    r = s.session.patch(s.url + "/api/settings", json={"batch": {
        "enabled": True, "maxRequests": BATCH, "timeout": 120, "maxBodySize": 128 << 20}}, timeout=10)
    r.raise_for_status()
    log(f"batch settings {batch_before} -> maxRequests={BATCH} for the seed")
    yield
    s.session.patch(s.url + "/api/settings", json={"batch": batch_before}, timeout=10).raise_for_status()


def company_body(i: int) -> dict:
    """Company i, owned by user 2i."""
    return {
        "company_id": company_bid(i), "company_name": f"基准测试公司{i}有限公司",
        "company_type": "有限责任公司",
        "company_entity": f"法人{i}", "company_usci": f"91310000{i:010d}", "company_nationality": "中国",
        "company_nationality_code": "CN", "company_province": "上海市", "company_province_code": "310000",
        "company_city": "上海市", "company_city_code": "310100", "company_district": "浦东新区",
        "company_district_code": "310115", "company_postalcode": "200120",
        "company_add": f"世纪大道{i}号", "company_status": "有效", "company_level": "A",
        "company_owner_openid": f"dev-openid-benchuser{i * 2}", "company_remark": "bench seed",
    }


def attachment_body(i: int) -> dict:
    """Attachment i, the (i mod 3)th of user 2(i // 3)."""
    return {
        "attachments_id": attachment_bid(i), "attachments_filename": f"bench{i}.png",
        "attachments_filetype": "image/png", "attachments_size": len(TINY_PNG),
        "attachments_owner": f"dev-openid-benchuser{(i // 3) * 2}", "attachments_status": "有效",
    }


def user_body(i: int) -> dict:
    """User i; the even ones are registered, with a company and three attachments."""
    password = secrets.token_urlsafe(18)
    body = {"openid": f"dev-openid-benchuser{i}", "unionid": f"dev-unionid-benchuser{i}",
            "users_idtype": "WeChat", "users_type": "游客", "users_status": "正常", "users_rank_level": 1,
            "users_auth_type": 0, "users_level": "1", "users_tag": "seed",
            "password": password, "passwordConfirm": password}
    if i % 2 == 0:
        body.update(registered_user_fields(i, N_COMPANIES))
    return body


def seed_attachments(s: Seeder) -> None:
    """The first N_FILE_ATTACHMENTS with an uploaded file (multipart batches of 100), the rest metadata only."""
    plain = [attachment_body(i) for i in range(N_ATTACHMENTS)]
    with_file, without_file = plain[:N_FILE_ATTACHMENTS], plain[N_FILE_ATTACHMENTS:]
    url = "/api/collections/tbl_attachments/records"
    for start in range(0, len(with_file), 100):
        chunk = with_file[start:start + 100]
        files = [(f"requests.{j}.attachments_link", (f"bench{start + j}.png", TINY_PNG, "image/png"))
                 for j in range(len(chunk))]
        s.batch([{"method": "POST", "url": url, "body": b} for b in chunk], files=files)
    s.create_many("tbl_attachments", without_file)


def seed(pb_url: str, token: str) -> dict:
    """Seed companies, attachments, users and documents: {seconds, counts}."""
    s = Seeder(pb_url, token)
    t0 = time.monotonic()
    with raised_batch_limit(s):
        s.create_many("tbl_company", [company_body(i) for i in range(N_COMPANIES)])
        log(f"seeded {N_COMPANIES} companies")
        seed_attachments(s)
        log(f"seeded {N_ATTACHMENTS} attachments ({N_FILE_ATTACHMENTS} with an uploaded file, "
            "the rest metadata only)")
        s.create_many("tbl_auth_users", [user_body(i) for i in range(N_USERS)])
        log(f"seeded {N_USERS} users")
        docs = [{"document_title": f"基准文档 {i}", "document_type": "合同", "document_status": "有效",
                 "document_owner": f"dev-openid-benchuser{i % N_USERS}"} for i in range(N_DOCUMENTS)]
        s.create_many("tbl_document", docs)
        log(f"seeded {N_DOCUMENTS} documents")
    counts = {c: s.count(c) for c in COLLECTIONS}
    return {"seconds": round(time.monotonic() - t0, 1), "counts": counts}
