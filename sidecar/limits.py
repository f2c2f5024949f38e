"""Every input limit of our routes: constants here, and the stored fields' from schema.yaml (read by create_app)."""
from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema.yaml"

# A wx.login code is 32 characters today: room for WeChat to lengthen it, none for a body of junk.
WX_CODE_MAX_LENGTH = 128
# A getPhoneNumber code, likewise.
WX_PHONE_CODE_MAX_LENGTH = 128
# A PocketBase auth token is a few hundred bytes: a longer Authorization is not worth asking PocketBase about.
MAX_TOKEN_LENGTH = 4096
# The largest picture an upload may decode to (sidecar/uploads.py): a 48-megapixel phone photo
# (8064 x 6048) fits; anything larger is refused before decoding (a decompression bomb).
UPLOAD_MAX_PIXELS = 50_000_000
# An upload's body is its file plus multipart framing (boundaries, part headers, wx.uploadFile's
# formData fields): nginx and the sidecar read this much more than UPLOAD_MAX_BYTES, so a file one
# byte over the limit reaches the sidecar and is answered there, naming the file.
UPLOAD_FRAMING_BYTES = 64 * 1024


def upload_body_limit(upload_max_bytes: int) -> int:
    """The largest request body of the upload route (nginx's client_max_body_size there, and the sidecar's)."""
    return upload_max_bytes + UPLOAD_FRAMING_BYTES


def largest_file_size(schema_path: Path | None = None) -> int:
    """The largest max_size, in bytes, of any file field schema.yaml declares (what PocketBase accepts of one file)."""
    schema = _schema(schema_path or SCHEMA_PATH)
    return max(f["max_size"] for c in schema["collections"] for f in c.get("fields", ())
               if f["type"] == "file")


def pocketbase_body_limit(schema_path: Path | None = None) -> int:
    """The largest request body nginx passes to PocketBase (client_max_body_size of /pb/): the largest file a
    file field takes (schema.yaml) plus the same multipart framing allowance as the upload route."""
    return largest_file_size(schema_path) + UPLOAD_FRAMING_BYTES


@functools.cache
def _schema(schema_path: Path) -> dict:
    # Read once per process, on first use: importing the sidecar reads no file (tests/test_limits.py).
    return yaml.safe_load(schema_path.read_text(encoding="utf-8"))


def declared_max_lengths(collection: str, schema_path: Path = SCHEMA_PATH) -> dict[str, int]:
    """Field name -> max length of the text fields schema.yaml declares for collection."""
    schema = _schema(schema_path)
    fields = next(c for c in schema["collections"] if c["name"] == collection)["fields"]
    return {f["name"]: f["max"] for f in fields if f["type"] == "text" and f.get("max")}


def profile_max_lengths(collection: str, fields: Iterable[str], phone_code_field: str,
                        schema_path: Path = SCHEMA_PATH) -> dict[str, int]:
    """The profile route's fields -> longest accepted value: WeChat's phone code, and the stored ones as
    schema.yaml declares them (PocketBase would refuse longer)."""
    declared = declared_max_lengths(collection, schema_path)
    return {name: WX_PHONE_CODE_MAX_LENGTH if name == phone_code_field else declared[name] for name in fields}
