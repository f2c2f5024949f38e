"""The bench's upload cell: its photo (bench/photo.py) and its two wrk scripts, run for a second against a stack
(our route and PocketBase's native create of the same file), each answering 2xx only."""
from __future__ import annotations

import io

import pytest
import requests
from PIL import ExifTags, Image

from bench.cells import cell_env, run_cell
from bench.photo import phone_photo
from bench.scenarios import SCENARIOS
from bench.wrk import wrk_installed
from bench.wrk_inputs import upload_files


def test_the_photo_is_a_phone_photo_of_about_300_kb():
    data = phone_photo()
    assert 250_000 <= len(data) <= 350_000
    with Image.open(io.BytesIO(data)) as photo:
        exif = photo.getexif()
        assert exif[ExifTags.Base.Orientation] == 6 and exif[ExifTags.Base.Model]
        assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude]
        assert {"xmp", "comment"} <= set(photo.info)


@pytest.mark.skipif(not wrk_installed(), reason="wrk is not installed")
def test_the_upload_cells_run_against_a_stack(make_stack, tmp_path, monkeypatch):
    monkeypatch.setattr("bench.wrk.RAW", tmp_path)  # wrk's output stays out of bench/raw/
    stack = make_stack(UPLOAD_RATE="off")  # as bench/stack_setup.py runs it
    tokens = tmp_path / "tokens.txt"
    login = stack.base_url + "/pb/api/wechat/login"
    tokens.write_text(requests.post(login, json={"users_wx_code": "bench-upload"}, timeout=30).json()["token"] + "\n")
    files = {"tokens": tokens, "companies": tmp_path / "none.txt",
             **upload_files(tmp_path, stack.pb.superuser_token())}
    for scenario in (s for s in SCENARIOS if s[0] in ("upload", "native_upload_nginx")):
        r = run_cell(stack, scenario, 2, cell_env(files, 2, scenario[3], 1), 1, "test-")
        assert r["ok"] > 0 and r["non2xx"] == 0 and r["socket_errors"] == 0, (scenario[0], r["statuses"])
        assert r["cpu_ms"]["pocketbase"] > 0
