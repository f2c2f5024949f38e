"""The README as a front door and the reference pages under docs/: short, every link resolves, the first hour's
facts on its first screens. (Its walk is run by tests/test_readme_walk.py; the settings table by test_settings.)"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from ops.processes import ROOT

README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
DOCUMENTS = [README, ROOT / "deploy" / "README.md", *PAGES]
# [text](target) outside code; external links (a scheme) are not checked here.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lowercased, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    return {slug(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}


def links(path: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_names_a_file_and_heading_that_exist(document):
    for target in links(document):
        name, _, fragment = target.partition("#")
        linked = (document.parent / name).resolve() if name else document
        assert linked.exists(), f"{document.relative_to(ROOT)}: {target} names no file"
        if fragment:
            assert fragment in anchors(linked), f"{document.relative_to(ROOT)}: {target} names no heading"


def test_the_readme_is_a_front_door():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    # The two commands at the top, then the first hour's facts on the first screens (the first 60 lines).
    top = "\n".join(text.splitlines()[:20])
    assert "make run" in top and "make test" in top
    first_screens = "\n".join(text.splitlines()[:60])
    for fact in ("dev-openid-alice", "dev-openid-devtools", "phone-13800138000", "pb_data/.superuser_password",
                 "注册用户", '{"code"', '"message"', "LAN=1"):
        assert fact in first_screens, fact
    # Every reference page is linked from it.
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in links(README)}
    assert set(PAGES) <= linked, sorted(str(p) for p in set(PAGES) - linked)


def test_the_slugs_are_githubs():
    assert slug("WeChat dev stub") == "wechat-dev-stub"
    assert slug("A phone on the LAN") == "a-phone-on-the-lan"
    assert slug("Development: `make run`") == "development-make-run"
