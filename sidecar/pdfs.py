"""Whether a PDF can act: JavaScript, actions that launch, import, submit or embed, files inside it.

Issue #31: a document users upload is read by other people's viewers; one whose opening (or a click) runs script,
starts a program, sends form data or carries files is refused (uploads.check_pdf: 400, data.field "file"), never
stored. Refused rather than rewritten without it: the user learns why, and their document is never silently changed.

What acts (PDF 32000-1:2008, 12.6 Actions, 12.7 Forms, 7.11.4 Embedded file streams, and Adobe's XFA):
- a key /JS or /JavaScript (a script, or the document's script name tree), /AA (actions run on events: opening a
  page, focusing a field), /EmbeddedFile(s), /XFA (XML forms, which script), /RichMedia;
- an action (/S) of type JavaScript, Launch, SubmitForm, ImportData, GoToE (into an embedded file), Rendition
  (may run script), RichMediaExecute.
Plain links (/URI), bookmarks and /OpenAction to a page stay: they do nothing a reader did not click for.

Every object is looked at, in the cross-reference table and in object streams alike (pypdf reads both and
decodes #xx escapes in names); the file's bytes are also searched for those names outside object streams, so an
object the table does not list (viewers rebuild a broken table and find it) is seen too.
"""
from __future__ import annotations

import re

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, NameObject

ACTIVE_KEYS = frozenset({"/JS", "/JavaScript", "/AA", "/EmbeddedFile", "/EmbeddedFiles", "/XFA", "/RichMedia"})
ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToE", "/Rendition",
                            "/RichMediaExecute"})
# A name in the file's bytes: "/" and regular characters, #xx escapes included (7.3.5).
NAME = re.compile(rb"/[^\s/\[\]()<>{}%]+")
HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
# A stream's data (pictures, compressed content): random bytes there would spell a name now and then.
STREAM_DATA = re.compile(rb"\bstream\r?\n.*?\bendstream\b", re.S)
# Object numbers beyond this are not looked up (a table may claim millions): more than any upload holds.
MAX_OBJECTS = 200_000


def active_content(reader: PdfReader, data: bytes | memoryview) -> str:
    """The first thing in the PDF that can act ("/JavaScript", "action /Launch", ...); "" when none."""
    found = _active_name_in_bytes(bytes(data))
    if found:
        return found
    for number in _object_numbers(reader):
        try:
            obj = reader.get_object(number)
        except Exception:  # noqa: BLE001 - pypdf parsing untrusted bytes; an unreadable object cannot act
            continue
        found = _active_in(obj)
        if found:
            return found
    return ""


def _active_name_in_bytes(data: bytes) -> str:
    """An active key or action name written in the file's bytes outside stream data."""
    for match in NAME.finditer(STREAM_DATA.sub(b" ", data)):
        text = HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group()).decode("latin-1")
        if text in ACTIVE_KEYS or text in ACTIVE_ACTIONS:
            return text
    return ""


def _object_numbers(reader: PdfReader) -> list[int]:
    numbers = {number for table in reader.xref.values() for number in table}
    numbers.update(reader.xref_objStm)
    return sorted(n for n in numbers if 0 < n <= MAX_OBJECTS)


def _active_in(obj: object) -> str:
    """An active key or action in obj or the direct objects inside it (indirect ones are looked at on their own)."""
    if isinstance(obj, DictionaryObject):
        for key, value in obj.items():
            if key in ACTIVE_KEYS:
                return key
            if key == "/S" and isinstance(value, NameObject) and value in ACTIVE_ACTIONS:
                return f"action {value}"
            found = _active_in(value)
            if found:
                return found
    elif isinstance(obj, ArrayObject):
        for item in obj:
            found = _active_in(item)
            if found:
                return found
    return ""
