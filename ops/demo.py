"""Demo records for a dev stack: a company, an attachment with a small image, and documents, the records only
an admin can create, so the README's walk-through and the docs page's examples read real answers.

    make demo          # python -m ops.demo: into the running PocketBase of this checkout's settings

`make run` adds them by itself in dev mode when it starts on a new data dir (ops/cli.py). Never in live mode:
with WECHAT_APPID set both refuse, so a production database never gets a demo row. Their business ids are the
contract's own examples (spec/openapi-wx.yaml), so the docs page's filters find them; adding them again
changes nothing (a record whose business id exists is left as it is).
"""
from __future__ import annotations

import base64
import sys

import requests

from ops.admin import admin_pb_url, superuser_client
from ops.stack_config import StackConfig, StackError
from sidecar import domain

TIMEOUT = 15
DEMO_COMPANY_ID = "WX-COMPANY-10001"
DEMO_ATTACHMENT_ID = "ATT-1774599142438-8n1UcU"
DEMO_DICT_ID = "DICT-1774599144591-hAEFQj"
# A 1x1 PNG: the demo attachment's file, served at /pb/api/files/... like any upload.
DEMO_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

# (collection, business id field, record); the attachment's file is sent with its record.
DEMO_RECORDS = [
    (domain.COMPANY, "company_id", {
        "company_id": DEMO_COMPANY_ID, "company_name": "演示企业(开发模式)", "company_type": "渠道商",
        "company_status": "有效", "company_remark": "ops/demo.py 的演示数据"}),
    (domain.ATTACHMENTS, "attachments_id", {
        "attachments_id": DEMO_ATTACHMENT_ID, "attachments_status": domain.ATTACHMENT_VALID,
        "attachments_remark": "ops/demo.py 的演示数据"}),
    (domain.DOCUMENT, "document_id", {
        "document_id": "DOC-1774599144591-demo01", "document_title": "演示文档:UT1 之一",
        "document_type": f"{DEMO_DICT_ID}@UT1", "document_status": "有效"}),
    (domain.DOCUMENT, "document_id", {
        "document_id": "DOC-1774599144591-demo02", "document_title": "演示文档:UT1 之二",
        "document_type": f"{DEMO_DICT_ID}@UT1|{DEMO_DICT_ID}@UT2", "document_status": "有效"}),
    (domain.DOCUMENT, "document_id", {
        "document_id": "DOC-1774599144591-demo03", "document_title": "演示文档:UT2",
        "document_type": f"{DEMO_DICT_ID}@UT2", "document_status": "过期"}),
]
DEMO_FILES = {domain.ATTACHMENTS: {"attachments_link": ("demo.png", DEMO_PNG, "image/png")}}


def refuse_live(config: StackConfig) -> None:
    """StackError unless the stack is in dev mode (no WECHAT_APPID): demo rows never reach a live database."""
    if not config.dev_mode:
        raise StackError("demo records are for dev stacks only: WECHAT_APPID is set (live mode), nothing was added")


def seed(pb_url: str, token: str) -> list[str]:
    """Create the demo records missing from the PocketBase at pb_url (superuser token); one line per record,
    saying whether it was added or already there. StackError when PocketBase refuses one."""
    try:
        # A token PocketBase does not accept makes a guest, who may list and even create companies: refuse first.
        check = requests.get(f"{pb_url}/api/collections/_superusers/records", headers={"Authorization": token},
                             params={"perPage": 1, "fields": "id"}, timeout=TIMEOUT)
        if check.status_code != 200:
            raise StackError(f"demo: PocketBase at {pb_url} refused the superuser token (HTTP {check.status_code})")
        return [_seed_one(pb_url, token, *demo) for demo in DEMO_RECORDS]
    except requests.RequestException as exc:
        raise StackError(f"demo: PocketBase at {pb_url} did not answer ({type(exc).__name__})") from None


def _seed_one(pb_url: str, token: str, collection: str, id_field: str, record: dict) -> str:
    """Add one demo record unless its business id exists; the line saying which."""
    url = f"{pb_url}/api/collections/{collection}/records"
    headers = {"Authorization": token}
    business_id = record[id_field]
    found = requests.get(url, headers=headers, timeout=TIMEOUT,
                         params={"filter": f'{id_field}="{business_id}"', "perPage": 1, "fields": "id"})
    if found.status_code != 200:
        raise StackError(f"demo: listing {collection} failed with HTTP {found.status_code}")
    if found.json()["items"]:
        return f"{collection} {business_id}: already there"
    files = DEMO_FILES.get(collection)
    created = requests.post(url, headers=headers, timeout=TIMEOUT,
                            **({"data": record, "files": files} if files else {"json": record}))
    if created.status_code != 200:
        raise StackError(f"demo: creating {collection} {business_id} failed with HTTP {created.status_code}: "
                         f"{created.text[:300]}")
    return f"{collection} {business_id}: added"


def main() -> int:
    """`make demo`: the demo records into the running PocketBase (PB_URL, superuser from .env or pb_data)."""
    try:
        config = StackConfig.from_env()
        refuse_live(config)
        pb_url = admin_pb_url(config)
        lines = seed(pb_url, superuser_client(pb_url, config).auth_store.token)
    except (StackError, requests.RequestException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join([f"Demo records in {pb_url}:", *(f"  {line}" for line in lines)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
