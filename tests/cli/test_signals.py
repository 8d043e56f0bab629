"""SIGTERM unwinds the stack like Ctrl-C, in a real process receiving a real signal; a
reader that leaves early ends the command as SIGPIPE ends Unix tools."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from layer_builder.cli.signals import TerminatedBySignal
from tests.conftest import MakeProject

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


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_a_reader_gone_early_ends_the_command_quietly_with_sigpipe_s_code(
    make_project: MakeProject,
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -1` that has read its line and left, before any output
    try:
        child = subprocess.run(
            [sys.executable, "-m", "layer_builder.cli", "matrix", "--project", str(project),
             "--python", "3.12", "--arch", "arm64"],
            stdout=write_end, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert child.stderr == ""
    assert child.returncode == 128 + signal.SIGPIPE == 141
