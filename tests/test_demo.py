"""ops/demo.py: the dev stack's demo records (make demo, and make run on a new data dir), never in live mode."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
import requests

from ops import demo
from ops.pbserver import PocketBaseServer
from ops.processes import ROOT
from tests.helpers import PB


@pytest.fixture(scope="module")
def fresh_pb(tmp_path_factory):
    """A PocketBase of its own, so the demo's fixed ids meet no other test's records."""
    base = tmp_path_factory.mktemp("demo")
    server = PocketBaseServer(base / "pb_data", "demo@example.com", "Demo-superuser-password-1",
                              log_path=base / "pocketbase.log")
    server.start()
    yield server
    server.stop()


def make_demo(server: PocketBaseServer, **settings) -> subprocess.CompletedProcess:
    """`make demo` (python -m ops.demo) against server, dev mode unless settings say otherwise."""
    env = dict(os.environ, PB_URL=server.url, PB_DATA_DIR=str(server.data_dir), PB_SUPERUSER_EMAIL=server.superuser_email,
               PB_SUPERUSER_PASSWORD=server.superuser_password)
    env.update({"WECHAT_APPID": "", "WECHAT_SECRET": "", **settings})
    return subprocess.run([sys.executable, "-m", "ops.demo"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def demo_counts(server: PocketBaseServer) -> list[int]:
    pb = PB(server)
    return [pb.total(collection, f'{id_field}="{record[id_field]}"')
            for collection, id_field, record in demo.DEMO_RECORDS]


def test_demo_ids_are_the_contracts_examples(spec):
    """So the docs page's filter examples find the demo records on a dev stack."""
    examples = [parameter["schema"].get("example", "") for item in spec["paths"].values()
                for operation in item.values() if isinstance(operation, dict)
                for parameter in operation.get("parameters", []) if parameter["name"] == "filter"]
    assert f'company_id="{demo.DEMO_COMPANY_ID}"' in examples
    assert f'attachments_id="{demo.DEMO_ATTACHMENT_ID}"' in examples
    assert any(demo.DEMO_DICT_ID in example and "@UT1" in example for example in examples)


def test_make_demo_refuses_in_live_mode_and_adds_nothing(fresh_pb):
    refused = make_demo(fresh_pb, WECHAT_APPID="wx-live-app", WECHAT_SECRET="live-secret")
    assert refused.returncode == 1 and "WECHAT_APPID" in refused.stderr, refused.stderr
    assert demo_counts(fresh_pb) == [0] * len(demo.DEMO_RECORDS)
    assert "live-secret" not in refused.stdout + refused.stderr


def test_make_demo_adds_the_records_once(fresh_pb):
    first = make_demo(fresh_pb)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count(": added") == len(demo.DEMO_RECORDS)
    assert fresh_pb.superuser_password not in first.stdout + first.stderr
    again = make_demo(fresh_pb)
    assert again.returncode == 0 and again.stdout.count(": already there") == len(demo.DEMO_RECORDS), again.stdout
    assert demo_counts(fresh_pb) == [1] * len(demo.DEMO_RECORDS)


def test_demo_records_read_as_a_guest_reads_them(fresh_pb):
    """The attachment by its exact id with its file, the documents by the contract's dictionary filter."""
    assert demo.seed(fresh_pb.url, fresh_pb.superuser_token())  # idempotent: whatever ran before
    guest = PB(fresh_pb)
    listed = guest.request("GET", "/api/collections/tbl_attachments/records", "",
                           params={"filter": f'attachments_id="{demo.DEMO_ATTACHMENT_ID}"'}).json()["items"]
    assert len(listed) == 1
    attachment = listed[0]
    assert attachment["attachments_md5"] == hashlib.md5(demo.DEMO_PNG).hexdigest()
    assert attachment["attachments_filetype"] == "image/png"
    file = requests.get(f"{fresh_pb.url}/api/files/{attachment['collectionId']}/{attachment['id']}/"
                        f"{attachment['attachments_link']}", timeout=15)
    assert file.status_code == 200 and file.content == demo.DEMO_PNG
    documents = guest.request("GET", "/api/collections/tbl_document/records", "", params={
        "filter": f'document_type ~ "{demo.DEMO_DICT_ID}" && document_type ~ "@UT1"',
        "sort": "-document_create"}).json()["items"]
    assert len(documents) == 2


def test_seed_names_the_failure_when_pocketbase_refuses(fresh_pb):
    with pytest.raises(demo.StackError, match="HTTP 401|HTTP 403"):
        demo.seed(fresh_pb.url, "not-a-token")
