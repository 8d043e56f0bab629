"""Run an installer subprocess: stream its output to the log with secrets masked, stop it
when the run is interrupted, fail with its (masked) command and output."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from layer_builder.errors import InstallerFailedError, ToolMissingError
from layer_builder.installers.redaction import (
    environment_secrets,
    redact,
    secrets_to_mask,
    text_secrets,
)

logger = logging.getLogger(__name__)

#: How long an interrupted installer gets to exit after SIGTERM before it is killed.
STOP_GRACE_SECONDS = 5.0

_POSIX = os.name == "posix"
_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)


def run_command(
    command: Sequence[str],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    secrets: Iterable[str] = (),
) -> str:
    """Run ``command``, logging each output line at DEBUG; return the combined output.

    ``env`` is added to the current environment; it is the only place secrets (index
    credentials) may travel. ``secrets``, the credentials of any URL in the child's
    environment or command line, and the values of its ``*PASSWORD*``/``*TOKEN*``/
    ``*SECRET*`` variables are masked in everything this function logs, returns or raises.

    The child runs in its own process group, and is stopped (SIGTERM, then SIGKILL after
    ``STOP_GRACE_SECONDS``) with everything it started when anything interrupts the
    reading: Ctrl-C, SIGTERM (``TerminatedBySignal``) or an error. No installer outlives
    the call.
    """
    full_env = {**os.environ, **(env or {})}
    # Credentials belong in the environment only, but a URL with them in the command line
    # (a requirement given by hand) is masked all the same.
    in_command = (s for part in command for s in text_secrets(part))
    masked = secrets_to_mask((*secrets, *environment_secrets(full_env), *in_command))
    shown = tuple(redact(part, masked) for part in command)
    # The full command (19 --platform flags for pip) only with -v; failures always carry it.
    logger.info("%s", what)
    logger.debug("command: %s", " ".join(shown))
    try:
        process = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            env=full_env,
            cwd=cwd,
            # Its own group: a terminal's Ctrl-C reaches only us, and stopping the group
            # also stops what the installer started (build backends, a container CLI).
            start_new_session=_POSIX,
        )
    except FileNotFoundError:
        raise ToolMissingError(
            f"{command[0]!r} was not found on PATH, so {what} cannot run: install it "
            f"(e.g. `python -m pip install {Path(command[0]).name}`)"
        ) from None
    lines = []
    assert process.stdout is not None
    try:
        for line in process.stdout:
            line = redact(line, masked)
            lines.append(line)
            logger.debug("  %s", line.rstrip())
        returncode = process.wait()
    except BaseException:
        stop_process(process, what)
        raise
    finally:
        process.stdout.close()
    output = "".join(lines)
    if returncode != 0:
        raise InstallerFailedError(f"{what} failed", shown, output, returncode)
    return output


def stop_process(process: subprocess.Popen[str], what: str) -> None:
    """SIGTERM to ``process``'s group, SIGKILL after ``STOP_GRACE_SECONDS``; returns once
    the process is reaped."""
    # Signalled before any wait: until it is reaped, even an exited leader keeps its group
    # id from being reused, so the signal cannot reach a stranger.
    logger.info("stopping %s (pid %d)", what, process.pid)
    _signal(process, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _signal(process, _KILL)
        process.wait()
    except BaseException:  # a second Ctrl-C cuts the grace short
        _signal(process, _KILL)
        process.wait()
        raise


def _signal(process: subprocess.Popen[str], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if _POSIX:
            os.killpg(process.pid, signum)
        else:  # pragma: no cover
            process.send_signal(signum)
