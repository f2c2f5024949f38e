"""Uploads: what a file is (decided by its bytes), the copy of it that is stored, and the upload use case.

The file work is pure functions of bytes (sniff, clean); UploadService asks PocketBase whether the caller
may upload (token, ban, the per-user UPLOAD_RATE count) before any picture work, then stores the clean copy
through one more PocketBase request (pb_hooks/lib/uploads.js: the same checks again, and the create).
Issue #17: JPEG, PNG, WebP pictures and PDF documents; nothing else, whatever the name or declared type.
"""
from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass
from typing import Callable

from PIL import ExifTags, Image, JpegImagePlugin
from pypdf import PdfReader

from sidecar.errors import BadRequest, PayloadTooLarge, Unauthorized
from sidecar.limits import UPLOAD_MAX_PIXELS
from sidecar.domain import ATTACHMENT_MANUAL_REVIEW, ATTACHMENT_UNDER_REVIEW, ATTACHMENT_VALID, ATTACHMENTS
from sidecar.moderation import ModerationService
from sidecar.offload import run_off_loop
from sidecar.pdfs import active_content
from sidecar.pocketbase import ClientInfo, MultipartBody, PocketBaseFault, PocketBaseGateway
from sidecar.users import token_may_be_valid
from sidecar.wechat import WeChatError

log = logging.getLogger(__name__)
# pypdf logs each repair it makes while reading a damaged PDF: a user's file must not fill our logs.
logging.getLogger("pypdf").setLevel(logging.ERROR)

# The attachment fields the route answers (the spec's Attachment), besides `url`.
ATTACHMENT_FIELDS = ("attachments_id", "attachments_filename", "attachments_filetype", "attachments_size",
                     "attachments_md5", "attachments_owner", "attachments_status")

JPEG, PNG, WEBP, PDF = "image/jpeg", "image/png", "image/webp", "application/pdf"
# MIME type -> (the extension of stored files, Pillow's format name; None for documents).
KINDS = {JPEG: ("jpg", "JPEG"), PNG: ("png", "PNG"), WEBP: ("webp", "WEBP"), PDF: ("pdf", None)}
# A JPEG re-encoded without its own quantization tables (none readable) gets this quality.
JPEG_FALLBACK_QUALITY = 90
# Pillow's WebP quality for a lossy original (lossless ones stay lossless).
WEBP_QUALITY = 90
# EXIF Orientation -> the transpose that displays the picture upright (as ImageOps.exif_transpose).
ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# A PDF ends with %%EOF; writers may put a few bytes (newlines, padding) after it.
PDF_TAIL_BYTES = 1024


class UploadRejected(BadRequest):
    """The file is not one we store (its type, or it does not decode): 400 with data.field = "file"."""

    def __init__(self, msg: str):
        super().__init__(msg, {"field": "file"})


@dataclass(frozen=True)
class CleanFile:
    """What is stored: the sniffed MIME type, the bytes (metadata removed from pictures), and their MD5."""

    mime: str
    data: memoryview
    md5: str

    @property
    def extension(self) -> str:
        return KINDS[self.mime][0]


def sniff(data: bytes | memoryview) -> str | None:
    """The MIME type the leading bytes (magic numbers) say, among the accepted ones; None for anything else."""
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def clean(data: bytes | memoryview) -> CleanFile:
    """The copy of an uploaded file that is stored; UploadRejected when it is not an accepted, whole file.

    Pictures are decoded completely (a truncated or corrupt one is refused), turned as their EXIF
    Orientation says and encoded again without any metadata (EXIF with GPS, XMP, comments, text chunks),
    keeping only the ICC colour profile: how the picture looks, and nothing about who took it, where or
    with what. A picture of more than UPLOAD_MAX_PIXELS pixels (a decompression bomb) is refused before
    decoding. A PDF is checked (whole, and nothing in it can act) and stored as it came.
    """
    mime = sniff(data)
    if mime is None:
        raise UploadRejected("仅支持 JPEG、PNG、WebP 图片或 PDF 文件")
    cleaned = check_pdf(data) if mime == PDF else strip_picture(data, mime)
    return CleanFile(mime, cleaned, hashlib.md5(cleaned).hexdigest())


def strip_picture(data: bytes | memoryview, mime: str) -> memoryview:
    """The picture re-encoded in its own format without metadata, displayed as before (see clean)."""
    pillow_format = KINDS[mime][1]
    try:
        with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
            width, height = image.size
            if width * height > UPLOAD_MAX_PIXELS:
                raise UploadRejected(f"图片像素过多(最多 {UPLOAD_MAX_PIXELS} 像素)")
            if getattr(image, "n_frames", 1) > 1:
                raise UploadRejected("不支持动图")
            options = _encoder_options(image, data)
            image.load()  # the whole picture: a truncated or corrupt one fails here
            turned = upright(image)
            # JPEG's encoder would carry a comment over from info; nothing but the options below is written.
            turned.info = {}
            out = io.BytesIO()
            turned.save(out, format=pillow_format, **options)
    except UploadRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - see unreadable()
        raise unreadable(exc, "图片文件已损坏或不完整") from None
    return out.getbuffer()


def unreadable(exc: Exception, msg: str) -> UploadRejected:
    """The refusal of a file Pillow or pypdf could not read. They parse untrusted bytes: whatever they raise
    (OSError, SyntaxError, struct.error, TypeError... on a crafted or damaged file) means it is not a file we
    store, never a 500. The request's log line names the exception's type, not its text (it may quote the file)."""
    refused = UploadRejected(msg)
    refused.detail = f"{type(exc).__name__} while reading it"
    return refused


def upright(image: Image.Image) -> Image.Image:
    """The picture turned as its EXIF Orientation tag says it is displayed (EXIF 2.32, tag 0x0112; the table
    of Pillow's ImageOps.exif_transpose, which also rewrites the EXIF this copy drops, and fails on a damaged
    one). A damaged EXIF says nothing about how to turn the picture: it is kept as stored."""
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # noqa: BLE001 - Pillow parsing an untrusted EXIF block
        orientation = 1
    method = ORIENTATIONS.get(orientation) if isinstance(orientation, int) else None
    return image.transpose(method) if method is not None else image


def _encoder_options(image: Image.Image, data: bytes | memoryview) -> dict:
    """How to encode the picture again: its own JPEG tables and subsampling (so the quality stays), WebP's
    lossless mode when it was lossless, PNG's transparency; and its ICC profile. Never exif, xmp or comment."""
    options: dict = {}
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]
    if image.format == "JPEG":
        if getattr(image, "quantization", None):
            options["qtables"] = image.quantization
        else:
            options["quality"] = JPEG_FALLBACK_QUALITY
        sampling = JpegImagePlugin.get_sampling(image)
        if sampling != -1:
            options["subsampling"] = sampling
    elif image.format == "WEBP":
        if _webp_lossless(data):
            options["lossless"] = True
        else:
            options["quality"] = WEBP_QUALITY
    elif image.format == "PNG" and "transparency" in image.info:
        options["transparency"] = image.info["transparency"]
    return options


def _webp_lossless(data: bytes | memoryview) -> bool:
    """Whether a WebP file holds a lossless (VP8L) bitstream: its first chunk, or one after VP8X's."""
    return b"VP8L" in bytes(data[12:16]) or (bytes(data[12:16]) == b"VP8X" and b"VP8L" in bytes(data[30:64]))


def check_pdf(data: bytes | memoryview) -> memoryview:
    """The PDF as it came, when it is a whole one (ends with %%EOF, pypdf reads its pages) that cannot act (no
    script, launch, submit, import or embedded file: sidecar/pdfs.py); else UploadRejected."""
    if b"%%EOF" not in bytes(data[-PDF_TAIL_BYTES:]):
        raise UploadRejected("PDF 文件已损坏或不完整")
    try:
        reader = PdfReader(io.BytesIO(data))  # not strict: scanners write PDFs with small, recoverable faults
        if reader.is_encrypted and not reader.decrypt(""):
            raise UploadRejected("不支持加密的 PDF 文件")
        if len(reader.pages) < 1:
            raise UploadRejected("PDF 文件没有页面")
        acting = active_content(reader, data)
        if acting:
            log.info("upload refused: PDF with active content (%s)", acting)
            raise UploadRejected("不支持含脚本、附件或表单提交等可执行内容的 PDF 文件")
    except UploadRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - see unreadable()
        raise unreadable(exc, "PDF 文件已损坏或不完整") from None
    return memoryview(data)


def display_name(client_filename: str, extension: str) -> str:
    """attachments_filename: the name the client gave (its last path part, without control characters),
    ending with the extension of what the file is; "upload.<ext>" when it gave none."""
    name = re.split(r"[/\\]", client_filename or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    stem = name.rsplit(".", 1)[0].strip() if "." in name else name
    return f"{(stem or 'upload')[:200]}.{extension}"


class UploadService:
    """A user's upload: the clean copy stored as a tbl_attachments record the user owns."""

    def __init__(self, pb: PocketBaseGateway, max_bytes: int, attachment_url: Callable[[str, str], str],
                 moderation: ModerationService, token_leeway: float = 0):
        self.pb = pb
        self.max_bytes = max_bytes
        # (record id, stored file name) -> the file's URL, as UserInfo's *_url fields give it.
        self.attachment_url = attachment_url
        self.moderation = moderation
        self.token_leeway = token_leeway  # seconds, as UserService's: never refuse what PocketBase accepts

    def upload(self, bearer: str, data: bytes | memoryview, client_filename: str,
               client: ClientInfo | None = None) -> dict:
        """The spec's Attachment of the new record; 413 over max_bytes, UploadRejected, the token's 401, the
        ban's 403 and the UPLOAD_RATE's 429 (PocketBaseRefusal), these three before any picture work."""
        if not token_may_be_valid(bearer, self.token_leeway):  # not even a PocketBase request for a dead token
            raise Unauthorized()
        if not data:
            raise UploadRejected("文件为空")
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(f"文件过大(最多 {self.max_bytes} 字节)", {"field": "file"})
        # No picture work for a token PocketBase would refuse: token_may_be_valid reads only the token's
        # unverified claims (a forged one passes), so PocketBase checks the token, the ban and the
        # UPLOAD_RATE before clean() decodes anything (up to UPLOAD_MAX_PIXELS). The create checks again.
        self.check(bearer, client)
        file = run_off_loop(clean, data)
        record = self.store(bearer, file, display_name(client_filename, file.extension), self.new_status(file),
                            client)
        if self.moderation.enabled and file.mime != PDF:
            self.submit(record)
        return self.attachment(record)

    def new_status(self, file: CleanFile) -> str:
        """The status an upload is created with: 有效 without content security; with it, a picture is 审核中 until
        WeChat's verdict, and a PDF goes to the operator's queue (待人工审核): WeChat's media check reads
        pictures only (media_type 2), so its verdict on a PDF would say nothing (docs/security.md)."""
        if not self.moderation.enabled:
            return ATTACHMENT_VALID
        return ATTACHMENT_MANUAL_REVIEW if file.mime == PDF else ATTACHMENT_UNDER_REVIEW

    def check(self, bearer: str, client: ClientInfo | None = None) -> None:
        """Whether the bearer's user may upload now (pb_hooks/uploads.pb.js, upload-check: reads only); the
        token's 401, the ban's 403 and the UPLOAD_RATE's 429 raised (PocketBaseRefusal)."""
        self.pb.internal("POST", "upload-check", {"token": bearer}, client)

    def submit(self, record: dict) -> None:
        """WeChat's media check of the stored file (CONTENT_SECURITY, issue #19): the record was created 审核中 and
        stays so until the verdict arrives by message push. When WeChat does not take the file (timeout, errcode),
        or PocketBase fails to store the trace id (the verdict could then never be applied: 审核中 forever), the
        record is deleted and the error raised (errors.py: 503, or 502/503 for PocketBase's): a picture nobody
        checks is not kept."""
        try:
            self.moderation.submit_picture(record["attachments_owner"], record)
        except (WeChatError, PocketBaseFault):
            try:
                self.pb.call("DELETE", f"/api/collections/{ATTACHMENTS}/records/{record['id']}")
            except PocketBaseFault:
                log.warning("upload %s: unchecked attachment not deleted; it stays 审核中", record["id"])
            raise

    def store(self, bearer: str, file: CleanFile, filename: str, status: str = ATTACHMENT_VALID,
              client: ClientInfo | None = None) -> dict:
        """Create the attachment of the bearer's user, with status, in one PocketBase request; answer its record."""
        body = MultipartBody(
            fields={"token": bearer, "filename": filename, "filetype": file.mime, "size": str(len(file.data)),
                    "md5": file.md5, "status": status},
            file_field="file", file_name=f"upload.{file.extension}", file_type=file.mime, file_data=file.data)
        return self.pb.internal("POST", "upload", body, client)["attachment"]

    def attachment(self, record: dict) -> dict:
        """The spec's Attachment of a tbl_attachments record."""
        answer = {name: record.get(name, "") for name in ATTACHMENT_FIELDS}
        answer["url"] = self.attachment_url(record["id"], record.get("attachments_link", ""))
        return answer
