"""deploy/env.example and the settings table of docs/operations.md, generated from ops/settings.py; and the
dev stub's code table (docs/operations.md) and summary (README.md), generated from ops/wechat_stub/codes.py.

    python -m ops.settings_docs write    # rewrite them (make docs)
    python -m ops.settings_docs check    # exit 1 naming each stale one (make docs-check, tests/test_settings.py)
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from ops.processes import ROOT
from ops.settings import SETTINGS
from ops.wechat_stub import codes

ENV_EXAMPLE = ROOT / "deploy" / "env.example"
TABLE_DOCUMENTS = (ROOT / "docs" / "operations.md",)
TABLE_BEGIN = "<!-- settings table: generated from ops/settings.py by `make docs`; edit it there -->"
TABLE_END = "<!-- end of the settings table -->"
# The dev stub's codes: document -> what goes between codes.MARKDOWN_BEGIN and codes.MARKDOWN_END there.
STUB_CODE_BLOCKS = {ROOT / "docs" / "operations.md": codes.operations_table,
                    ROOT / "README.md": codes.readme_summary}
ENV_HEADER = """\
# Environment of the BAI WeChat backend. For `make run`, copy to .env at the repository's root; on a
# server, to /etc/bai-wechat/env (owner root, group bai, mode 0640). Never commit real values.
# Empty means "not set": the default applies. Generated from ops/settings.py by `make docs`.
"""


def env_value(value: str) -> str:
    """A value as sh and python-dotenv both read it (the file is also sourced by sh)."""
    return f'"{value}"' if any(c in value for c in " $#'\"") else value


def env_example() -> str:
    """deploy/env.example: each setting under its section, its meaning as a comment."""
    lines = [ENV_HEADER.rstrip("\n")]
    section = None
    for setting in SETTINGS:
        if setting.section != section:
            section = setting.section
            lines += ["", f"# -- {section} ".ljust(104, "-")]
        meaning = setting.meaning.replace("`", "")
        value = setting.default if setting.example is None else setting.example
        if setting.shown_default and value != setting.shown_default:
            meaning += f" (default {setting.shown_default})"
        lines += textwrap.wrap(meaning, 102, initial_indent="# ", subsequent_indent="# ")
        lines.append(("# " if setting.server_only else "") + f"{setting.name}={env_value(value)}")
    return "\n".join(lines) + "\n"


def settings_table() -> str:
    """The Markdown table of every setting, between its markers."""
    rows = [TABLE_BEGIN, "| setting | default | read by | meaning |", "| --- | --- | --- | --- |"]
    for setting in SETTINGS:
        default = f"`{setting.shown_default}`" if setting.shown_default else "empty"
        secret = " Secret: never printed." if setting.secret else ""
        rows.append(f"| `{setting.name}` | {default} | {', '.join(setting.read_by)} | "
                    f"{setting.meaning.replace('|', '&#124;')}.{secret} |")
    return "\n".join(rows + [TABLE_END])


def with_table(text: str) -> str:
    """text with the part between the table's markers replaced by the current table."""
    head, found, rest = text.partition(TABLE_BEGIN)
    if not found or TABLE_END not in rest:
        raise ValueError("no settings table markers")
    return head + settings_table() + rest.split(TABLE_END, 1)[1]


def with_block(text: str, begin: str, end: str, body: str) -> str:
    """text with the part between the markers begin and end replaced by body."""
    head, found, rest = text.partition(begin)
    if not found or end not in rest:
        raise ValueError(f"no markers {begin}")
    return f"{head}{begin}\n{body}\n{end}{rest.split(end, 1)[1]}"


def with_stub_codes(path: Path, text: str) -> str:
    """text of path with its dev stub code block current."""
    return with_block(text, codes.MARKDOWN_BEGIN, codes.MARKDOWN_END, STUB_CODE_BLOCKS[path]())


def stale_stub_code_documents() -> list[str]:
    """The documents whose dev stub code block differs from what ops/wechat_stub/codes.py gives."""
    stale = []
    for path in STUB_CODE_BLOCKS:
        text = path.read_text()
        if codes.MARKDOWN_BEGIN not in text or with_stub_codes(path, text) != text:
            stale.append(str(path.relative_to(ROOT)))
    return stale


def stale_documents() -> list[str]:
    """The generated documents that differ from what ops/settings.py gives."""
    stale = [] if ENV_EXAMPLE.read_text() == env_example() else [str(ENV_EXAMPLE.relative_to(ROOT))]
    for path in TABLE_DOCUMENTS:
        text = path.read_text()
        if TABLE_BEGIN not in text or with_table(text) != text:
            stale.append(str(path.relative_to(ROOT)))
    return stale


def write() -> None:
    """Rewrite deploy/env.example and the tables."""
    ENV_EXAMPLE.write_text(env_example())
    for path in TABLE_DOCUMENTS:
        path.write_text(with_table(path.read_text()))
    for path in STUB_CODE_BLOCKS:
        path.write_text(with_stub_codes(path, path.read_text()))


def main(argv: list[str]) -> int:
    """Entry point of `python -m ops.settings_docs write|check`."""
    if argv[:1] == ["write"]:
        write()
        return 0
    if argv[:1] == ["check"]:
        stale = stale_documents()
        for name in stale:
            print(f"{name} is stale: run `make docs` (the settings live in ops/settings.py)", file=sys.stderr)
        stale_codes = stale_stub_code_documents()
        for name in stale_codes:
            print(f"{name} is stale: run `make docs` (the dev stub's codes live in ops/wechat_stub/codes.py)",
                  file=sys.stderr)
        return 1 if stale or stale_codes else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
