"""``PackageStep.select_files()`` overridden: files left out, added or put in another
file's place are zipped as returned, measured; a path or file that cannot be is refused."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from layer_builder import (
    BuildResult,
    BuildStep,
    LayerPathLayout,
    LayerTarget,
    Manifest,
    PackageError,
    PackageStep,
)
from tests.conftest import MakeProject

TARGET = LayerTarget("3.12", "x86_64")


class AddingStep(PackageStep):
    """Returns the selection with ``changes`` applied (a None value removes the path)."""

    changes: dict[str, Path | None] = {}

    def select_files(self, files: dict[str, Path]) -> dict[str, Path]:
        selected = dict(files)
        for relative, path in self.changes.items():
            if path is None:
                selected.pop(relative)
            else:
                selected[relative] = path
        return selected


def _step(path_zip: Path, changes: dict[str, Path | None]) -> PackageStep:
    step = AddingStep(path_zip)
    step.changes = changes
    return step


@pytest.fixture
def build(make_project: MakeProject) -> BuildResult:
    project = make_project({"tinyutil": "1.0.0"})
    return BuildStep(TARGET, Manifest.from_project(project), LayerPathLayout(project)).run()


def test_files_added_by_the_override_are_zipped_with_their_size_and_mode(
    build: BuildResult, tmp_path: Path
) -> None:
    config = tmp_path / "extra" / "settings.json"
    config.parent.mkdir()
    config.write_text('{"region": "eu-west-1"}\n')
    tool = tmp_path / "extra" / "tool.sh"
    tool.write_text("#!/bin/sh\necho hi\n")
    tool.chmod(0o755)
    patched = tmp_path / "extra" / "patched.py"
    patched.write_text("VERSION = 'patched'\n")
    plain = PackageStep(tmp_path / "plain.zip").run(build)
    changes: dict[str, Path | None] = {
        "app_config/settings.json": config,
        "tools/tool.sh": tool,
        "tinyutil/__init__.py": patched,
    }
    result = _step(tmp_path / "layer.zip", changes).run(build)
    with zipfile.ZipFile(result.path_zip) as zf:
        assert zf.read("python/app_config/settings.json") == config.read_bytes()
        assert zf.read("python/tinyutil/__init__.py") == b"VERSION = 'patched'\n"
        modes = {i.filename: i.external_attr >> 16 & 0o777 for i in zf.infolist()}
    assert modes["python/tools/tool.sh"] == 0o755
    assert modes["python/app_config/settings.json"] == 0o644
    assert result.files == plain.files + 2
    added = config.stat().st_size + tool.stat().st_size
    replaced = patched.stat().st_size - (build.dir_python / "tinyutil/__init__.py").stat().st_size
    assert result.unzipped_size == plain.unzipped_size + added + replaced


@pytest.mark.parametrize("relative", ["../outside.py", "/etc/evil.py", "pkg//a.py", "./a.py", ""])
def test_a_path_outside_the_layer_is_refused(
    build: BuildResult, tmp_path: Path, relative: str
) -> None:
    source = tmp_path / "a.py"
    source.write_text("")
    step = _step(tmp_path / "layer.zip", {relative: source})
    with pytest.raises(PackageError) as caught:
        step.run(build)
    assert str(caught.value) == (
        f"AddingStep.select_files() returned the path {relative!r}, which is not a file's "
        f"place in the layer: return paths relative to the tree, with / between names and no "
        f"'.' or '..' (like 'pkg/module.py')"
    )
    assert not (tmp_path / "layer.zip").exists()


@pytest.mark.parametrize("what", ["missing", "a folder"])
def test_a_source_that_is_not_a_file_is_refused(
    build: BuildResult, tmp_path: Path, what: str
) -> None:
    source = tmp_path / "data"
    if what == "a folder":
        source.mkdir()
    step = _step(tmp_path / "layer.zip", {"data/file.txt": source})
    with pytest.raises(PackageError) as caught:
        step.run(build)
    assert str(caught.value) == (
        f"AddingStep.select_files() put {source} at data/file.txt, which is not a regular "
        f"file (missing, or a folder): return existing files (a folder's files one by one)"
    )


def test_files_left_out_by_the_override_stay_out(build: BuildResult, tmp_path: Path) -> None:
    step = _step(tmp_path / "layer.zip", {"tinyutil-1.0.0.dist-info/REQUESTED": None})
    with zipfile.ZipFile(step.run(build).path_zip) as zf:
        assert "python/tinyutil-1.0.0.dist-info/REQUESTED" not in zf.namelist()
        assert "python/tinyutil/__init__.py" in zf.namelist()
