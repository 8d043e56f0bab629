"""What a build selects from the manifest: extras and groups the project defines, and at
least one dependency (an empty layer is refused, never published)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from layer_builder.errors import ConfigurationError, NoDependenciesError
from layer_builder.installers.base import InstallOptions
from layer_builder.model.manifest import Manifest, Tool

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Lines of a requirements file that add dependencies although they start with "-".
_INCLUDES = ("-r", "--requirement", "-e", "--editable")
# uv 0.13: "Extra `x` is not defined in the `optional-dependencies` table for `app`",
# "Group `x` is not defined in the project's `dependency-groups` table".
_UV_UNDEFINED = re.compile(r"(?P<kind>Extra|Group) `(?P<name>[^`]+)` is not defined")


def has_requirements(text: str) -> bool:
    """Whether a requirements file's text asks for anything (not only options, comments)."""
    for line in text.splitlines():
        stripped = line.split(" #", 1)[0].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not stripped.startswith("-") or stripped.startswith(_INCLUDES):
            return True
    return False


def require_dependencies(
    requirements: str, manifest: Manifest, options: InstallOptions | None = None
) -> None:
    """Refuse ``requirements`` (what ``manifest`` gave, exported if a lock) when empty."""
    if has_requirements(requirements):
        return
    options = options or InstallOptions()
    asked = [f"extra {e!r}" for e in options.extras] + [f"group {g!r}" for g in options.groups]
    selection = f" (main dependencies and {', '.join(asked)})" if asked else ""
    add = {
        Tool.UV: "`uv add NAME`, then `uv lock`",
        Tool.POETRY: "`poetry add NAME`, then `poetry lock`",
        Tool.PIP: "a line per package in requirements.txt",
        Tool.PYLOCK: "`uv add NAME` or `pdm add NAME`, then write pylock.toml again",
        Tool.PIPENV: "`pipenv install NAME`, which locks again",
        Tool.PYPROJECT: "in [project] dependencies of pyproject.toml",
    }[manifest.tool]
    raise NoDependenciesError(
        f"{manifest.path} lists no dependencies{selection}, so there is nothing to publish: "
        f"add the packages the layer should hold ({add})"
    )


def refuse_selection_for_requirements(manifest: Manifest, options: InstallOptions) -> None:
    """A requirements file has no extras or groups: asking for one is a mistake to report."""
    if options.extras or options.groups:
        asked = [f"--extra {e}" for e in options.extras] + [f"--group {g}" for g in options.groups]
        raise ConfigurationError(
            f"{manifest.path} has no extras or dependency groups, so {' '.join(asked)} cannot "
            f"apply: list the packages in requirements.txt, or drop the option"
        )


def _pyproject(project_dir: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(
            (project_dir / "pyproject.toml").read_text(encoding="utf-8")
        )
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return data


def _keys(table: object) -> list[str]:
    return sorted(table) if isinstance(table, dict) else []


def defined_extras(pyproject: dict[str, Any]) -> list[str]:
    """``[project.optional-dependencies]`` and ``[tool.poetry.extras]`` names."""
    project = pyproject.get("project", {})
    poetry = pyproject.get("tool", {}).get("poetry", {})
    return sorted({*_keys(project.get("optional-dependencies")), *_keys(poetry.get("extras"))})


def defined_groups(pyproject: dict[str, Any], tool: Tool) -> list[str]:
    """``[dependency-groups]`` names, plus ``main`` and ``[tool.poetry.group.*]`` for Poetry,
    plus ``dev`` for uv's legacy ``tool.uv.dev-dependencies``."""
    tools = pyproject.get("tool", {})
    groups = set(_keys(pyproject.get("dependency-groups")))
    if tool is Tool.POETRY:
        groups |= {"main", *_keys(tools.get("poetry", {}).get("group"))}
    if tool is Tool.UV and tools.get("uv", {}).get("dev-dependencies"):
        groups.add("dev")
    return sorted(groups)


def _unknown_error(
    manifest: Manifest, kind: str, name: str, known: list[str]
) -> ConfigurationError:
    flag = "--extra" if kind == "extra" else "--group"
    table = "optional-dependencies" if kind == "extra" else "dependency groups"
    listed = ", ".join(known) if known else "none"
    return ConfigurationError(
        f"unknown {kind} {name!r} ({flag}): {manifest.project_dir / 'pyproject.toml'} defines "
        f"these {table}: {listed}; use one of them, or add it and lock again"
    )


def check_poetry_selection(manifest: Manifest, options: InstallOptions) -> None:
    """Refuse an extra or group the Poetry project does not define (reading the lock
    directly would silently install nothing for it; ``poetry export`` fails in 2 lines)."""
    pyproject = _pyproject(manifest.project_dir)
    for kind, asked, known in (
        ("extra", options.extras, defined_extras(pyproject)),
        ("group", options.groups, defined_groups(pyproject, Tool.POETRY)),
    ):
        canonical = {canonicalize_name(k) for k in known}
        for name in asked:
            if canonicalize_name(name) not in canonical:
                raise _unknown_error(manifest, kind, name, known)


def uv_selection_error(output: str, manifest: Manifest) -> ConfigurationError | None:
    """uv export's refusal of an undefined extra or group, as one line with the known ones."""
    undefined = _UV_UNDEFINED.search(output)
    if undefined is None:
        return None
    kind = undefined["kind"].lower()
    pyproject = _pyproject(manifest.project_dir)
    known = defined_extras(pyproject) if kind == "extra" else defined_groups(pyproject, Tool.UV)
    return _unknown_error(manifest, kind, undefined["name"], known)
