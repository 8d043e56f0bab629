"""Manifest detection, reading and hashing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from layer_builder import Manifest, ProjectError, Tool
from layer_builder.model.manifest import DETECTION_ORDER, parse_tool

UV_LOCK = b'version = 1\n[[package]]\nname = "tinyutil"\nversion = "1.0.0"\n'
POETRY_LOCK = b'[[package]]\nname = "tinyutil"\nversion = "1.0.0"\n'
REQUIREMENTS = b"tinyutil==1.0.0\n"
PYLOCK = b'lock-version = "1.0"\ncreated-by = "uv"\n'


def write(project: Path, **files: bytes) -> Path:
    project.mkdir(parents=True, exist_ok=True)
    names = {
        "uv": "uv.lock",
        "poetry": "poetry.lock",
        "pylock": "pylock.toml",
        "pip": "requirements.txt",
    }
    for tool, content in files.items():
        (project / names[tool]).write_bytes(content)
    return project


def test_detection_order_is_uv_then_poetry_then_pylock_then_pipenv_then_pip() -> None:
    assert DETECTION_ORDER == (Tool.UV, Tool.POETRY, Tool.PYLOCK, Tool.PIPENV, Tool.PIP)


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        ({"uv": UV_LOCK, "poetry": POETRY_LOCK, "pip": REQUIREMENTS}, Tool.UV),
        ({"poetry": POETRY_LOCK, "pip": REQUIREMENTS}, Tool.POETRY),
        ({"uv": UV_LOCK, "pip": REQUIREMENTS}, Tool.UV),
        ({"pip": REQUIREMENTS}, Tool.PIP),
        ({"uv": UV_LOCK}, Tool.UV),
        ({"uv": UV_LOCK, "pylock": PYLOCK}, Tool.UV),
        ({"poetry": POETRY_LOCK, "pylock": PYLOCK}, Tool.POETRY),
        ({"pylock": PYLOCK, "pip": REQUIREMENTS}, Tool.PYLOCK),
    ],
)
def test_from_project_detects_the_tool(
    tmp_path: Path, present: dict[str, bytes], expected: Tool
) -> None:
    manifest = Manifest.from_project(write(tmp_path / "p", **present))
    assert manifest.tool is expected
    assert manifest.filename == expected.manifest_filename
    assert manifest.content == present[expected.value]
    assert manifest.project_dir == (tmp_path / "p").resolve()


@pytest.mark.parametrize("tool", ["pip", Tool.PIP])
def test_tool_override_wins_over_detection(tmp_path: Path, tool: str | Tool) -> None:
    project = write(tmp_path / "p", uv=UV_LOCK, pip=REQUIREMENTS)
    manifest = Manifest.from_project(project, tool=tool)
    assert manifest.tool is Tool.PIP
    assert manifest.filename == "requirements.txt"
    assert manifest.content == REQUIREMENTS


def test_tool_override_to_a_missing_file_names_the_file(tmp_path: Path) -> None:
    project = write(tmp_path / "p", pip=REQUIREMENTS)
    with pytest.raises(ProjectError) as info:
        Manifest.from_project(project, tool="poetry")
    path = project.resolve() / "poetry.lock"
    assert str(info.value) == (
        f"manifest {path} does not exist: create it or point --project at the folder that holds it"
    )


def test_unknown_tool_lists_the_choices(tmp_path: Path) -> None:
    project = write(tmp_path / "p", pip=REQUIREMENTS)
    with pytest.raises(ProjectError) as info:
        Manifest.from_project(project, tool="hatch")
    assert str(info.value) == (
        "unknown tool 'hatch': choose one of pip, uv, poetry, pylock, pipenv, pyproject"
    )
    assert parse_tool("uv") is Tool.UV


def test_no_manifest_says_what_to_create(tmp_path: Path) -> None:
    project = tmp_path / "empty"
    project.mkdir()
    with pytest.raises(ProjectError) as info:
        Manifest.from_project(project)
    assert str(info.value) == (
        f"no dependency manifest in {project.resolve()}: expected one of uv.lock, "
        f"poetry.lock, pylock.toml, Pipfile.lock, requirements.txt, or a pyproject.toml with "
        f"[project] dependencies; lock the project first (e.g. `uv lock` or "
        f"`pip-compile --generate-hashes`)"
    )


@pytest.mark.parametrize("name", ["pylock.toml", "pylock.lambda.toml"])
def test_a_pep_751_lock_is_known_by_its_name(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(PYLOCK)
    assert Manifest.from_file(path).tool is Tool.PYLOCK
    other = tmp_path / "pylock.toml.bak"
    other.write_bytes(PYLOCK)
    assert Manifest.from_file(other).tool is not Tool.PYLOCK


def test_missing_project_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ProjectError) as info:
        Manifest.from_project(missing)
    assert str(info.value) == (
        f"project folder {missing.resolve()} does not exist: pass the folder that holds "
        f"pyproject.toml and the lock file (--project DIR)"
    )


def test_a_folder_named_like_a_manifest_is_not_one(tmp_path: Path) -> None:
    project = write(tmp_path / "p", pip=REQUIREMENTS)
    (project / "uv.lock").mkdir()
    assert Manifest.from_project(project).tool is Tool.PIP


def test_unreadable_manifest_is_a_project_error(tmp_path: Path) -> None:
    project = write(tmp_path / "p", pip=REQUIREMENTS)
    (project / "poetry.lock").mkdir()
    with pytest.raises(ProjectError, match=r"cannot read manifest .*poetry\.lock: "):
        Manifest.from_file(project / "poetry.lock")


def test_hashes_are_of_the_exact_bytes(tmp_path: Path) -> None:
    content = b"tinyutil==1.0.0 \\\n    --hash=sha256:" + b"a" * 64 + b"\n"
    manifest = Manifest.from_project(write(tmp_path / "p", pip=content))
    assert manifest.sha256 == hashlib.sha256(content).hexdigest()
    assert len(manifest.sha256) == 64
    other = Manifest.from_project(write(tmp_path / "q", pip=content + b"\n"))
    assert other.sha256 != manifest.sha256


def test_has_hashes_only_for_requirements_with_hash_options(tmp_path: Path) -> None:
    hashed = b"tinyutil==1.0.0 --hash=sha256:" + b"0" * 64 + b"\n"
    assert Manifest.from_project(write(tmp_path / "a", pip=hashed)).has_hashes
    assert not Manifest.from_project(write(tmp_path / "b", pip=REQUIREMENTS)).has_hashes
    # A uv.lock always carries hashes, but pip never reads it, so it needs no --require-hashes.
    uv_lock = UV_LOCK + b'wheels = [{ hash = "sha256:' + b"0" * 64 + b'" }]\n--hash=\n'
    assert not Manifest.from_project(write(tmp_path / "c", uv=uv_lock)).has_hashes


def test_from_file_infers_the_tool_from_the_name(tmp_path: Path) -> None:
    project = write(tmp_path / "p", uv=UV_LOCK, poetry=POETRY_LOCK)
    assert Manifest.from_file(project / "uv.lock").tool is Tool.UV
    assert Manifest.from_file(project / "poetry.lock").tool is Tool.POETRY
    other = project / "requirements-lambda.txt"
    other.write_bytes(REQUIREMENTS)
    manifest = Manifest.from_file(other)
    assert manifest.tool is Tool.PIP
    assert manifest.filename == "requirements-lambda.txt"


def test_manifest_is_a_frozen_value_without_content_in_repr(tmp_path: Path) -> None:
    secret_line = b"--index-url https://user:s3cret@example.invalid/simple\ntinyutil==1.0.0\n"
    manifest = Manifest.from_project(write(tmp_path / "p", pip=secret_line))
    assert "s3cret" not in repr(manifest)
    assert manifest == Manifest.from_project(tmp_path / "p")
    with pytest.raises(AttributeError):
        manifest.content = b""  # type: ignore[misc]
