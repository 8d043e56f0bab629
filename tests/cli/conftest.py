"""The ``cli`` fixture: ``layer-builder ARGS`` run in-process (modules may define their own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from layer_builder.cli import main
from tests.cli.test_cli import Outcome


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run ``layer-builder ARGS`` in-process; the exit code, stdout and stderr."""

    def run(*args: str | Path) -> Outcome:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's refusals and --help
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run
