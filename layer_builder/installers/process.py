"""Run an installer subprocess, stream its output to the log, fail with its command and output."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from layer_builder.errors import InstallerFailedError, ToolMissingError

logger = logging.getLogger(__name__)


def run_command(
    command: Sequence[str],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run ``command``, logging each output line at DEBUG; return the combined output.

    ``env`` is added to the current environment; it is the only place secrets (index
    credentials) may travel, so it is never logged.
    """
    # The full command (19 --platform flags for pip) only with -v; failures always carry it.
    logger.info("%s", what)
    logger.debug("command: %s", " ".join(command))
    full_env = {**os.environ, **(env or {})}
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
        )
    except FileNotFoundError:
        raise ToolMissingError(
            f"{command[0]!r} was not found on PATH, so {what} cannot run: install it "
            f"(e.g. `python -m pip install {Path(command[0]).name}`)"
        ) from None
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        logger.debug("  %s", line.rstrip())
    returncode = process.wait()
    output = "".join(lines)
    if returncode != 0:
        raise InstallerFailedError(f"{what} failed", command, output, returncode)
    return output
