"""uv and Poetry projects made and locked at run time against the local wheel index."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from layer_builder.installers import find_poetry, find_uv


def _quoted(requirements: Sequence[str]) -> str:
    return ", ".join(f'"{r}"' for r in requirements)


def _run(command: list[str], cwd: Path) -> None:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "POETRY_VIRTUALENVS_CREATE": "false"}
    # Poetry caches a source's files by the source's name, not its URL: a fresh cache keeps
    # an earlier session's index (other port, other wheels) out of the lock.
    with tempfile.TemporaryDirectory(prefix="poetry-cache-") as cache:
        env["POETRY_CACHE_DIR"] = cache
        result = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
        )
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"


def write_uv_project(
    directory: Path,
    index_url: str,
    dependencies: Sequence[str],
    *,
    dev: Sequence[str] = (),
    groups: dict[str, Sequence[str]] | None = None,
    extras: dict[str, Sequence[str]] | None = None,
    lock: bool = True,
    requires_python: str = ">=3.10",
    python: str | None = None,
) -> Path:
    """A ``pyproject.toml`` whose only index is ``index_url``, locked with ``uv lock`` (by
    the interpreter ``python``, when given)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = (
        f'[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = "{requires_python}"\n'
        f"dependencies = [{_quoted(dependencies)}]\n"
    )
    if extras:
        text += "\n[project.optional-dependencies]\n"
        text += "".join(f"{name} = [{_quoted(reqs)}]\n" for name, reqs in extras.items())
    all_groups = {"dev": dev, **(groups or {})}
    text += "\n[dependency-groups]\n"
    text += "".join(f"{name} = [{_quoted(reqs)}]\n" for name, reqs in all_groups.items())
    text += f'\n[[tool.uv.index]]\nurl = "{index_url}"\ndefault = true\n'
    (directory / "pyproject.toml").write_text(text)
    if lock:
        uv = find_uv()
        assert uv, "uv is part of the test extra"
        _run([uv, "lock", "--no-progress", *(["--python", python] if python else [])], directory)
    return directory


def write_poetry_project(
    directory: Path,
    index_url: str,
    dependencies: Sequence[str],
    *,
    dev: Sequence[str] = (),
    extras: dict[str, Sequence[str]] | None = None,
    lock: bool = True,
) -> Path:
    """A Poetry 2 project (package-mode = false) whose only source is ``index_url``."""
    directory.mkdir(parents=True, exist_ok=True)
    text = (
        '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.10,<4"\n'
        f"dependencies = [{_quoted(dependencies)}]\n"
    )
    if extras:
        text += "\n[project.optional-dependencies]\n"
        text += "".join(f"{name} = [{_quoted(reqs)}]\n" for name, reqs in extras.items())
    text += "\n[tool.poetry]\npackage-mode = false\n"
    if dev:
        text += "\n[tool.poetry.group.dev.dependencies]\n"
        text += "".join(f'{name} = "*"\n' for name in dev)
    text += f'\n[[tool.poetry.source]]\nname = "local"\nurl = "{index_url}"\npriority = "primary"\n'
    (directory / "pyproject.toml").write_text(text)
    if lock:
        poetry = find_poetry()
        assert poetry, "poetry is part of the test extra"
        _run([poetry, "lock", "--no-interaction"], directory)
    return directory
