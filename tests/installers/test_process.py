"""Running an installer subprocess: output captured, failures carry command and output."""

from __future__ import annotations

import sys

import pytest

from layer_builder.errors import InstallerFailedError, ToolMissingError
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
