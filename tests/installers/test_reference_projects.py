"""The issue's acceptance builds: ../shared/bench/uv-app and poetry-app for arm64 cp312
(network: real wheels from the package index)."""

from __future__ import annotations

import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from layer_builder import LayerPathLayout, LayerTarget, Manifest
from layer_builder.installers import find_uv
from layer_builder.steps.build import BuildStep
from layer_builder.steps.package.step import PackageStep

# ``shared/bench`` beside the checkout or any folder above it (a worktree finds it too).
BENCH = next(
    (p / "shared" / "bench" for p in Path(__file__).resolve().parents
     if (p / "shared" / "bench").is_dir()),
    Path(__file__).resolve().parents[2].parent / "shared" / "bench",
)  # fmt: skip
ARM312 = LayerTarget("3.12", "arm64")
#: The locked main dependencies of the reference projects (their dev group holds pytest).
MAIN = {
    "uv-app": {
        "annotated-types", "certifi", "charset-normalizer", "idna", "pydantic",
        "pydantic-core", "requests", "typing-extensions", "typing-inspection", "urllib3",
    },
    "poetry-app": {"certifi", "charset-normalizer", "idna", "pyyaml", "requests", "urllib3"},
}  # fmt: skip
NATIVE = {"uv-app": "pydantic_core/_pydantic_core", "poetry-app": "yaml/_yaml"}


@pytest.fixture
def isolated_environment() -> None:
    """Overrides the suite's: these builds use the real package index."""


def copy_reference_project(name: str, destination: Path) -> Path:
    source = BENCH / name
    if not source.is_dir():
        pytest.skip(f"{source} is not here")
    project = destination / name
    shutil.copytree(source, project)
    for path in [project, *project.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return project


@pytest.mark.network
@pytest.mark.parametrize("name", ["uv-app", "poetry-app"])
def test_reference_project_builds_for_arm64_cp312(name: str, tmp_path: Path) -> None:
    project = copy_reference_project(name, tmp_path)
    if name == "uv-app":
        uv = find_uv()
        assert uv
        subprocess.run([uv, "lock", "-q"], cwd=project, check=True, stdin=subprocess.DEVNULL)
    layout = LayerPathLayout(project)
    build = BuildStep(ARM312, Manifest.from_project(project), layout).run()

    assert {d.canonical_name for d in build.distributions} == MAIN[name]
    shared_objects = {str(p.relative_to(build.dir_python)) for p in build.dir_python.rglob("*.so")}
    assert f"{NATIVE[name]}.cpython-312-aarch64-linux-gnu.so" in shared_objects
    assert all("aarch64" in so for so in shared_objects), shared_objects
    assert not (build.dir_python / "pytest").exists()
    assert not (build.dir_python / "bin").exists(), "scripts name the host interpreter"

    package = PackageStep(layout.path_layer_zip).run(build)
    with zipfile.ZipFile(package.path_zip) as zf:
        dist_infos = {
            canonicalize_name(n.split("/")[1].removesuffix(".dist-info").rsplit("-", 1)[0])
            for n in zf.namelist()
            if n.split("/")[1].endswith(".dist-info")
        }
    assert dist_infos == MAIN[name]
    assert BuildStep(ARM312, Manifest.from_project(project), layout).run().cached
