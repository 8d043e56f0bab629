"""Where the programs the installers run are: uv, Poetry."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from layer_builder.errors import ToolMissingError


def find_uv() -> str | None:
    """The uv executable: the ``uv`` Python package's binary first, then ``PATH``."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def require_uv(uv: str | None = None) -> str:
    """``uv`` or the one found, with the fix when there is none."""
    found = uv or find_uv()
    if not found:
        raise ToolMissingError(
            "uv is not installed, so uv.lock cannot be exported and installed: "
            "run `python -m pip install uv` (or `pip install 'lambda-layer-builder[uv]'`)"
        )
    return found


def find_poetry() -> str | None:
    """``poetry`` on PATH, else the one installed beside the running interpreter."""
    found = shutil.which("poetry")
    if found:
        return found
    beside = Path(sys.executable).parent / "poetry"
    return str(beside) if beside.is_file() else None
