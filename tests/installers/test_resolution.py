"""A pyproject.toml without a lock: resolved by uv for every target, its pins the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from layer_builder import AwsClients, LayerTarget, LayerWorkflow, Manifest, Tool
from layer_builder.errors import PythonRangeError
from layer_builder.installers import InstallOptions, PyprojectInstaller
from layer_builder.installers.resolution import RESOLVED_FILENAME, resolve
from tests.aws_helpers import object_keys

ARM312 = LayerTarget("3.12", "arm64")


def lockless(tmp_path: Path, requires_python: str = ">=3.10") -> Path:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = "{requires_python}"\n'
        'dependencies = ["tinyhttp", "tinycli; python_version < \'3.12\'"]\n'
        '[project.optional-dependencies]\nyaml = ["tiny-yaml"]\n'
    )
    return project


def pins(manifest: Manifest) -> list[str]:
    return [line.split(" ")[0] for line in manifest.content.decode().splitlines() if "==" in line]


def test_a_lockless_project_is_detected_and_resolved_with_hashes(tmp_path: Path) -> None:
    project = lockless(tmp_path)
    found = Manifest.from_project(project)
    assert (found.tool, found.filename) == (Tool.PYPROJECT, "pyproject.toml")
    resolved = resolve(found)
    assert (resolved.filename, resolved.project_dir) == (RESOLVED_FILENAME, project)
    assert pins(resolved) == ["tinycli==1.0.0", "tinyhttp==2.0.0", "tinyutil==1.1.0"]
    assert b"--hash=sha256:" in resolved.content
    assert b"python_full_version < '3.12'" in resolved.content, "universal: markers kept"
    extra = resolve(found, InstallOptions(extras=["yaml"]))
    assert "tiny-yaml==6.0.0" in pins(extra)


def test_it_installs_for_the_target_without_a_lock(tmp_path: Path) -> None:
    project = lockless(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    PyprojectInstaller().install(Manifest.from_project(project), ARM312, out)
    installed = {p.name.removesuffix(".dist-info") for p in out.glob("*.dist-info")}
    assert installed == {"tinyhttp-2.0.0", "tinyutil-1.1.0"}


def test_a_target_outside_requires_python_is_refused(tmp_path: Path) -> None:
    project = lockless(tmp_path, ">=3.13")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(PythonRangeError) as refused:
        PyprojectInstaller().install(Manifest.from_project(project), ARM312, out)
    assert str(refused.value) == (
        f"{project / 'pyproject.toml'} is for Python >=3.13 (requires-python in "
        "pyproject.toml), which python3.12 is not: build for python3.13, python3.14 (e.g. "
        "--python 3.13), or widen the project's Python range and lock again"
    )


def test_the_resolution_is_what_publishing_compares_and_backs_up(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = lockless(tmp_path)
    s3dir = f"s3://{bucket}/app/lambda/"
    first = LayerWorkflow(project, layer_name, s3dir, ARM312, aws=aws).run()
    assert first.publish.published and first.publish.layer_version == 1
    keys = object_keys(aws, bucket, "app/lambda/layer/")
    assert f"app/lambda/layer/000001/{RESOLVED_FILENAME}" in keys
    assert f"app/lambda/layer/last-{RESOLVED_FILENAME}" in keys
    second = LayerWorkflow(project, layer_name, s3dir, ARM312, aws=aws).run()
    assert not second.publish.published and second.publish.layer_version == 1
    # A dependency range that resolves to other pins is a change, as a new lock would be.
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"tinyhttp"', '"tinyhttp", "tinyutil<1.1"'))
    third = LayerWorkflow(project, layer_name, s3dir, ARM312, aws=aws).run()
    assert third.publish.published and third.publish.layer_version == 2
