"""SIGTERM handled like Ctrl-C, so that every ``finally`` and ``with`` block cleans up.

CI systems and ``timeout`` cancel a job with SIGTERM, whose default action ends the process
on the spot: the publish lock would stay held, partial files and scratch folders would stay,
an unfinished multipart upload would never be aborted. Raised as an exception in the main
thread instead, the signal unwinds the stack like a ``KeyboardInterrupt`` does.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class TerminatedBySignal(KeyboardInterrupt):
    """The process was asked to stop by ``signum`` (SIGTERM, SIGHUP)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (143 for SIGTERM)."""
        return 128 + self.signum


#: The signals that stop a run cleanly (SIGINT already raises ``KeyboardInterrupt``).
STOP_SIGNALS = tuple(
    s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s
)


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``TerminatedBySignal`` in the main thread.

    A second stop signal while the first unwinds is ignored, so that cleanup (releasing the
    publish lock, aborting an upload) is not cut short; SIGKILL remains the hard stop.
    Outside the main thread (``main()`` called from a worker thread) nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_once(signum: int, _: FrameType | None) -> None:
        for s in STOP_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        raise TerminatedBySignal(signum)

    saved = {s: signal.signal(s, raise_once) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
