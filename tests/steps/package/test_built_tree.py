"""The package step zips only the tree its build installed: a tree changed since (code
appended, a file added or linked in, even with its times put back) is refused in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from layer_builder import (
    BuildResult,
    BuildStep,
    LayerPathLayout,
    LayerTarget,
    Manifest,
    PackageStep,
)
from layer_builder.errors import MismatchedBuildError
from layer_builder.model.tree_state import tree_state
from tests.conftest import MakeProject
from tests.steps.test_build import DAMAGES, damage_tree

TARGET = LayerTarget("3.12", "x86_64")


def _build(project: Path, use_cache: bool = True) -> BuildResult:
    layout = LayerPathLayout(project)
    return BuildStep(TARGET, Manifest.from_project(project), layout, use_cache=use_cache).run()


def _changed(tree: Path) -> str:
    return (
        f"{tree} changed since it was built (its files are not those build-record.json "
        f"records): run `layer-builder build --rebuild` (or `layer-builder run --rebuild`) "
        f"to install it again, then package"
    )


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_tree_changed_since_its_build_is_not_packaged(
    make_project: MakeProject, damage: str, tmp_path: Path
) -> None:
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    build = _build(project)
    layout = LayerPathLayout(project)
    damage_tree(build.dir_python, damage, tmp_path / "scratch")
    step = PackageStep(layout.path_layer_zip)
    with pytest.raises(MismatchedBuildError) as caught:
        step.run(build)
    assert str(caught.value) == _changed(build.dir_python)
    assert not layout.path_layer_zip.exists()
    # --rebuild installs again, and that tree is packaged.
    rebuilt = _build(project, use_cache=False)
    assert not rebuilt.cached
    assert step.run(rebuilt).files == 12  # two modules, five metadata files each


def test_a_tree_whose_files_did_not_change_is_packaged_and_its_state_recorded(
    make_project: MakeProject, tmp_path: Path
) -> None:
    """The smoke test's view links the tree's files: their change time moves, not their
    bytes. The tree is read once, then its new state is what the record holds."""
    project = make_project({"tinyutil": "1.0.0"})
    build = _build(project)
    layout = LayerPathLayout(project)
    os.link(build.dir_python / "tinyutil" / "__init__.py", tmp_path / "view.py")
    (tmp_path / "view.py").unlink()
    PackageStep(layout.path_layer_zip).run(build)
    record = json.loads(layout.path_build_record.read_text())
    assert record["tree_state"] == tree_state(build.dir_python)


def test_a_tree_without_a_record_is_packaged_as_it_is(
    make_project: MakeProject, tmp_path: Path
) -> None:
    """A tree made by hand, or by another tool, has no build to differ from."""
    project = make_project({"tinyutil": "1.0.0"})
    build = _build(project)
    LayerPathLayout(project).path_build_record.unlink()
    (build.dir_python / "tinyutil" / "extra.py").write_text("EXTRA = 1\n")
    assert PackageStep(tmp_path / "layer.zip").run(build).files == 7


def test_package_command_refuses_a_tree_edited_after_build(make_project: MakeProject) -> None:
    project = make_project({"tinyutil": "1.0.0"})

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "layer_builder.cli", *args, "--project", str(project)]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)

    assert cli("build", "--python", "3.12").returncode == 0
    tree = LayerPathLayout(project).dir_python
    module = tree / "tinyutil" / "__init__.py"
    st = module.stat()
    with module.open("a") as f:
        f.write("import os; os.system('id')\n")
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns))
    refused = cli("package")
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1] == f"layer-builder: error: {_changed(tree)}"
    assert not LayerPathLayout(project).path_layer_zip.exists()
