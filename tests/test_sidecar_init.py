"""sidecar/__init__.py's request class: an uploaded file is read into memory, never into a temp file.

It overrides werkzeug's Request._get_file_stream, the hook werkzeug documents for where a file part goes
(by default a temp file once the body passes 500 KB): if werkzeug renamed or stopped calling it, a photo's
original (EXIF with GPS) would reach the disk, and this fails."""
from __future__ import annotations

import io

from flask import Flask, request

from sidecar import InMemoryUploadRequest


def test_a_file_part_larger_than_werkzeugs_memory_bound_is_read_into_memory():
    app = Flask(__name__)
    app.request_class = InMemoryUploadRequest
    data = {"file": (io.BytesIO(b"x" * 600_000), "big.jpg", "image/jpeg")}
    with app.test_request_context("/", method="POST", data=data, content_type="multipart/form-data"):
        stream = request.files["file"].stream
        assert type(stream) is io.BytesIO and stream.getbuffer().nbytes == 600_000
