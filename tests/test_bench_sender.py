"""bench/sender.py: a small run through its own stack measures every message sent, and writes its line."""
from __future__ import annotations

import pytest

from bench import sender

pytestmark = pytest.mark.slow


def test_a_small_run_sends_every_message_and_writes_its_figures(tmp_path, capsys):
    output = tmp_path / "sender.md"
    assert sender.main(["--messages", "30", "--output", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    assert "30 messages in" in text and "messages/s" in text and "ms per message" in text
    assert "bench.sender: 30 messages" in capsys.readouterr().out
