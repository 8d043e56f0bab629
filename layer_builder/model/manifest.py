"""The project's dependency manifest (lock or requirements file) as a value object."""

from __future__ import annotations

import enum
import hashlib
import re
import sys
from pathlib import Path

import attrs

from layer_builder.choices import check_choice
from layer_builder.errors import ProjectError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class Tool(str, enum.Enum):
    """The dependency tool a project locks with."""

    PIP = "pip"
    UV = "uv"
    POETRY = "poetry"
    #: A PEP 751 lock file, ``pylock.toml``, whatever wrote it (pip, uv, PDM).
    PYLOCK = "pylock"
    #: Pipenv's ``Pipfile.lock``.
    PIPENV = "pipenv"
    #: A ``pyproject.toml`` with ``[project] dependencies`` and no lock: resolved by uv.
    PYPROJECT = "pyproject"

    @property
    def manifest_filename(self) -> str:
        """The file a project of this tool locks in (``uv.lock``, ``requirements.txt`` ...)."""
        return _MANIFEST_FILENAMES[self]


_MANIFEST_FILENAMES = {
    Tool.UV: "uv.lock",
    Tool.POETRY: "poetry.lock",
    Tool.PYLOCK: "pylock.toml",
    Tool.PIPENV: "Pipfile.lock",
    Tool.PYPROJECT: "pyproject.toml",
    Tool.PIP: "requirements.txt",
}

#: When several manifests are present, the first one found in this order wins: a tool's
#: own lock first (it is the source the others are exported from, and its tool checks it
#: against pyproject.toml), then the standard lock, then a requirements file.
DETECTION_ORDER: tuple[Tool, ...] = (Tool.UV, Tool.POETRY, Tool.PYLOCK, Tool.PIPENV, Tool.PIP)

# PEP 751 also names locks ``pylock.<name>.toml``.
_NAMED_PYLOCK = re.compile(r"pylock\.[^.]+\.toml")


def declares_dependencies(pyproject: Path) -> bool:
    """Whether ``pyproject`` (a file) has a ``[project]`` table with ``dependencies``."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    project = data.get("project")
    return isinstance(project, dict) and "dependencies" in project


def parse_tool(value: str | Tool) -> Tool:
    """``"uv"`` -> ``Tool.UV``, with a clear error for anything else."""
    if isinstance(value, Tool):
        return value
    return Tool(check_choice(value, [t.value for t in Tool], "tool", error=ProjectError))


@attrs.frozen
class Manifest:
    """The bytes of a project's lock/requirements file and where they came from."""

    tool: Tool
    path: Path
    content: bytes = attrs.field(repr=False)
    #: ``(path, sha256 of its source)`` of each local package it installs (a folder of the
    #: project): part of the build's identity, since no lock hash pins that code.
    local_sources: tuple[tuple[str, str], ...] = ()
    #: The project folder, when the manifest lives elsewhere (a resolution of a lock-less
    #: pyproject.toml, kept under ``build/``).
    project: Path | None = None

    @property
    def filename(self) -> str:
        """The manifest's file name, as the S3 backups name it."""
        return self.path.name

    @property
    def project_dir(self) -> Path:
        """The project's folder (the one holding the manifest, unless ``project`` says)."""
        return self.project or self.path.parent

    @property
    def sha256(self) -> str:
        """The sha256 (hex) of the manifest's exact bytes."""
        return hashlib.sha256(self.content).hexdigest()

    @property
    def has_hashes(self) -> bool:
        """Whether a requirements file pins hashes (pip then needs ``--require-hashes``)."""
        return self.tool is Tool.PIP and b"--hash=" in self.content

    @classmethod
    def from_file(cls, path: Path | str, tool: Tool | str | None = None) -> Manifest:
        """Read a manifest file; the tool is inferred from its name unless given."""
        path = Path(path).resolve()
        if tool is None:
            by_name = {t.manifest_filename: t for t in Tool}
            named_lock = _NAMED_PYLOCK.fullmatch(path.name)
            tool = by_name.get(path.name, Tool.PYLOCK if named_lock else Tool.PIP)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise ProjectError(
                f"manifest {path} does not exist: create it or point --project at the "
                f"folder that holds it"
            ) from None
        except OSError as exc:
            raise ProjectError(f"cannot read manifest {path}: {exc.strerror}") from None
        tool = parse_tool(tool)
        # Imported here: reading requirements files is needed only for a manifest read.
        from layer_builder.model.local_sources import local_sources
        from layer_builder.model.requirements_file import decode_requirements

        if tool is Tool.PIP:
            decode_requirements(content, path)  # not UTF-8: one line now, whatever the command

        local = local_sources(tool.value, path, content)
        return cls(tool=tool, path=path, content=content, local_sources=local)

    @classmethod
    def from_project(cls, project_dir: Path | str, tool: Tool | str | None = None) -> Manifest:
        """Find the manifest of ``project_dir``: the given tool's file, else the first present."""
        project_dir = Path(project_dir).resolve()
        if not project_dir.is_dir():
            raise ProjectError(
                f"project folder {project_dir} does not exist: pass the folder that holds "
                f"pyproject.toml and the lock file (--project DIR)"
            )
        if tool is not None:
            tool = parse_tool(tool)
            return cls.from_file(project_dir / tool.manifest_filename, tool)
        for candidate in DETECTION_ORDER:
            path = project_dir / candidate.manifest_filename
            if path.is_file():
                return cls.from_file(path, candidate)
        if declares_dependencies(project_dir / "pyproject.toml"):
            return cls.from_file(project_dir / "pyproject.toml", Tool.PYPROJECT)
        names = ", ".join(t.manifest_filename for t in DETECTION_ORDER)
        raise ProjectError(
            f"no dependency manifest in {project_dir}: expected one of {names}, or a "
            f"pyproject.toml with [project] dependencies; lock the project first (e.g. "
            f"`uv lock` or `pip-compile --generate-hashes`)"
        )
