"""Running an installer subprocess: output captured and masked, failures carry command and
output, and an interrupted child is stopped with everything it started."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from layer_builder.cli.signals import TerminatedBySignal, stop_signals_raise
from layer_builder.errors import InstallerFailedError, ToolMissingError
from layer_builder.installers import process
from layer_builder.installers.process import run_command


def test_output_is_returned() -> None:
    assert run_command([sys.executable, "-c", "print('hello')"], what="a test") == "hello\n"


def test_a_failure_carries_the_command_its_output_and_exit_code() -> None:
    command = [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"]
    with pytest.raises(InstallerFailedError) as caught:
        run_command(command, what="the installer")
    assert caught.value.returncode == 3
    assert caught.value.command == tuple(command)
    assert str(caught.value).startswith("the installer failed\ncommand (exit code 3): ")
    assert str(caught.value).endswith("output (last lines):\nboom")


def test_a_missing_tool_names_it_and_the_fix() -> None:
    with pytest.raises(ToolMissingError) as caught:
        run_command(["layer-builder-no-such-tool", "--version"], what="the export")
    assert str(caught.value) == (
        "'layer-builder-no-such-tool' was not found on PATH, so the export cannot run: "
        "install it (e.g. `python -m pip install layer-builder-no-such-tool`)"
    )


# -- secrets: masked in one place ------------------------------------------------------------

ECHO = (
    "import os, sys\n"
    "print('index', os.environ['PIP_INDEX_URL'])\n"
    "print('password', os.environ['POETRY_HTTP_BASIC_CORP_PASSWORD'])\n"
    "print('argument', sys.argv[1])\n"
    "print('given', 'explicit-s3cret')\n"
    "sys.exit(int(sys.argv[2]))\n"
)
SECRETS = ("s3cr3t-Tok3n", "hunter2-is-long", "arg-pa55word", "explicit-s3cret")


@pytest.mark.parametrize("exit_code", [0, 4])
def test_secrets_never_reach_the_log_the_output_or_the_error(
    exit_code: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="layer_builder")
    command = [sys.executable, "-c", ECHO, "https://ci:arg-pa55word@idx.example/simple/"]
    env = {
        "PIP_INDEX_URL": "https://builder:s3cr3t-Tok3n@idx.example/simple/",
        "POETRY_HTTP_BASIC_CORP_PASSWORD": "hunter2-is-long",
    }
    try:
        shown = run_command(
            [*command, str(exit_code)], what="the echo", env=env, secrets=["explicit-s3cret"]
        )
    except InstallerFailedError as exc:
        assert exit_code != 0
        shown = f"{exc}\n{exc.output}\n{' '.join(exc.command)}"
        assert "https://****@idx.example/simple/ 4" in " ".join(exc.command)
    for secret in SECRETS:
        assert secret not in shown
        assert secret not in caplog.text
    # What the child printed is there, masked (so the lines were not simply dropped).
    for text in (shown, caplog.text):
        assert "index https://****@idx.example/simple/" in text
        assert "password ****" in text
        assert "given ****" in text
    assert "command: " in caplog.text and "https://****@idx.example/simple/" in caplog.text


def test_short_values_and_plain_urls_are_left_alone() -> None:
    output = run_command(
        [sys.executable, "-c", "print('1 https://idx.example/simple/')"],
        what="the echo",
        env={"UV_NO_TOKEN": "1", "PIP_INDEX_URL": "https://idx.example/simple/"},
    )
    assert output == "1 https://idx.example/simple/\n"


# -- interruption: the child never outlives the call -----------------------------------------

SLEEPER = (
    "import os, pathlib, signal, subprocess, sys, time\n"
    "if sys.argv[2] == 'ignore-term':\n"
    "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "pathlib.Path(sys.argv[1]).write_text(f'{os.getpid()} {grandchild.pid}')\n"
    "print('started', flush=True)\n"
    "time.sleep(600)\n"
)


def _gone(pid: int) -> bool:
    """No such process, or only its zombie, waiting for init to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + 30
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _sigterm_once_started(pid_file: Path) -> threading.Thread:
    def send() -> None:
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("mode", ["plain", "ignore-term"])
def test_sigterm_stops_the_child_and_what_it_started(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "STOP_GRACE_SECONDS", 0.5)  # the ignore-term child's wait
    pid_file = tmp_path / "pids"
    sender = _sigterm_once_started(pid_file)
    with pytest.raises(TerminatedBySignal), stop_signals_raise():
        run_command([sys.executable, "-c", SLEEPER, str(pid_file), mode], what="the sleeper")
    sender.join()
    child, grandchild = (int(p) for p in pid_file.read_text().split())
    assert _gone(child), "run_command reaped its child before re-raising"
    assert _wait_gone(grandchild), "the child's own child was stopped with its group"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_an_error_while_reading_stops_the_child(tmp_path: Path) -> None:
    class Boom(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "  started":
                raise RuntimeError("the log broke")

    handler = Boom()
    logger = logging.getLogger("layer_builder.installers.process")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    pid_file = tmp_path / "pids"
    try:
        with pytest.raises(RuntimeError, match="the log broke"):
            run_command([sys.executable, "-c", SLEEPER, str(pid_file), "plain"], what="it")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    child, grandchild = (int(p) for p in pid_file.read_text().split())
    assert _gone(child)
    assert _wait_gone(grandchild)
