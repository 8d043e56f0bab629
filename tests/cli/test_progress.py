"""The CLI's upload progress line."""

from __future__ import annotations

import io

from layer_builder.cli.progress import TerminalProgress


def test_progress_redraws_one_line_and_ends_it_when_done() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream, interval=0)
    progress(8_000_000, 20_000_000)
    progress(20_000_000, 20_000_000)
    assert stream.getvalue() == ("\ruploading 8.0/20.0 MB (40%)\ruploading 20.0/20.0 MB (100%)\n")


def test_progress_skips_redraws_between_intervals_but_not_the_last() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream, interval=3600)
    progress(1_000_000, 3_000_000)
    progress(2_000_000, 3_000_000)
    progress(3_000_000, 3_000_000)
    assert stream.getvalue() == "\ruploading 1.0/3.0 MB (33%)\ruploading 3.0/3.0 MB (100%)\n"
