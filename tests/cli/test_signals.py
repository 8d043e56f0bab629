"""SIGTERM unwinds the stack like Ctrl-C, in a real process receiving a real signal."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from layer_builder.cli.signals import TerminatedBySignal

CHILD = textwrap.dedent(
    """
    import sys, time
    from layer_builder.cli.signals import TerminatedBySignal, stop_signals_raise
    try:
        with stop_signals_raise():
            try:
                print("ready", flush=True)
                time.sleep(60)
            finally:
                print("cleanup ran", flush=True)
    except TerminatedBySignal as exc:
        sys.exit(exc.exit_code)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_runs_finally_blocks_and_exits_143() -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGTERM)
    rest, _ = child.communicate(timeout=30)
    assert rest.strip() == "cleanup ran"
    assert child.returncode == 128 + signal.SIGTERM


def test_exit_code_follows_the_shell_convention() -> None:
    assert TerminatedBySignal(signal.SIGTERM).exit_code == 143
    assert isinstance(TerminatedBySignal(signal.SIGTERM), KeyboardInterrupt)
