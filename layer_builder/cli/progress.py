"""A one-line upload progress display for terminals (used by the CLI, not the library)."""

from __future__ import annotations

import threading
import time
from typing import TextIO


class TerminalProgress:
    """``progress(sent, total)`` callback that redraws ``uploading 12.0/86.1 MB (14%)``.

    Redraws at most every ``interval`` seconds (parts report from several threads) and ends
    the line when the upload completes.
    """

    def __init__(self, stream: TextIO, label: str = "uploading", interval: float = 0.2):
        self.stream = stream
        self.label = label
        self.interval = interval
        self._lock = threading.Lock()
        self._last = float("-inf")

    def __call__(self, sent: int, total: int) -> None:
        """Called by the upload with the bytes sent so far (from several threads)."""
        with self._lock:
            now = time.monotonic()
            done = sent >= total
            if not done and now - self._last < self.interval:
                return
            self._last = now
            percent = 100 * sent // total if total else 100
            line = f"\r{self.label} {sent / 1e6:.1f}/{total / 1e6:.1f} MB ({percent}%)"
            self.stream.write(line + ("\n" if done else ""))
            self.stream.flush()
