"""Local packages of the project (a folder on a requirements line) are built as wheels for
the target, whatever the cache holds; compiled ones and failed builds are named."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from layer_builder import LayerPathLayout, LayerTarget, Manifest, PackageStep
from layer_builder.errors import BuildError, SourceBuildRefusedError
from layer_builder.installers import Installer, PipInstaller, UvPipInstaller
from layer_builder.model.fingerprint import compute_fingerprint
from layer_builder.steps.build import BuildStep
from tests.wheelhouse import make_local_package

INSTALLERS = {"pip": PipInstaller, "uv": UvPipInstaller}
ARM312 = LayerTarget("3.12", "arm64")


def monorepo(tmp_path: Path, line: str = "./libs/shared") -> Path:
    project = tmp_path / "app"
    make_local_package(
        project / "libs" / "shared",
        "shared",
        files={"shared/__init__.py": b"from tinyutil import VERSION\n"},
        requires=["tinyutil>=1.0"],
    )
    (project / "requirements.txt").write_text(f"{line}\ntinyutil==1.1.0\n")
    return project


def build_and_package(project: Path, installer: Installer) -> tuple[Path, str]:
    built = BuildStep(ARM312, Manifest.from_project(project), LayerPathLayout(project), installer,
                      use_cache=False).run()  # fmt: skip
    packaged = PackageStep(LayerPathLayout(project).path_layer_zip).run(built)
    return built.dir_python, hashlib.sha256(packaged.path_zip.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", INSTALLERS)
def test_a_pure_local_package_is_built_the_same_from_an_empty_or_a_warm_cache(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = monorepo(tmp_path)
    zips = []
    for cache in ("first", "second", "second"):  # empty, empty, then warm
        monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / f"uv-cache-{cache}"))
        tree, digest = build_and_package(project, INSTALLERS[kind]())
        zips.append(digest)
    assert len(set(zips)) == 1
    assert (tree / "shared" / "__init__.py").read_bytes() == b"from tinyutil import VERSION\n"
    assert {p.name for p in tree.glob("*.dist-info")} == {
        "shared-0.1.0.dist-info", "tinyutil-1.1.0.dist-info"
    }  # fmt: skip
    host_path = os.fsencode(tmp_path)
    assert not [p for p in tree.rglob("*") if p.is_file() and host_path in p.read_bytes()]


def test_an_editable_line_installs_a_plain_wheel(tmp_path: Path) -> None:
    project = monorepo(tmp_path, "-e ./libs/shared")
    tree, _ = build_and_package(project, UvPipInstaller())
    assert not list(tree.glob("*.pth")) and not list(tree.glob("__editable__*"))
    assert (tree / "shared" / "__init__.py").is_file()


def test_an_edit_to_the_local_package_changes_the_fingerprint(tmp_path: Path) -> None:
    project = monorepo(tmp_path)
    before = compute_fingerprint(Manifest.from_project(project), ARM312, {})
    (project / "libs" / "shared" / "build").mkdir()  # build outputs are not source
    (project / "libs" / "shared" / "build" / "x.py").write_text("")
    assert compute_fingerprint(Manifest.from_project(project), ARM312, {}) == before
    (project / "libs" / "shared" / "shared" / "__init__.py").write_text("VALUE = 2\n")
    assert compute_fingerprint(Manifest.from_project(project), ARM312, {}) != before


def test_a_compiled_local_package_is_refused_naming_its_path(tmp_path: Path) -> None:
    project = tmp_path / "app"
    make_local_package(project / "native", "native", tag="cp311-cp311-linux_x86_64")
    (project / "requirements.txt").write_text("./native\n")
    with pytest.raises(SourceBuildRefusedError) as refused:
        build_and_package(project, UvPipInstaller())
    assert str(refused.value) == (
        "requirements.txt:1: ./native (native) has compiled code: built on this host its "
        "wheel is cp311-cp311-linux_x86_64, which python3.12 arm64 (manylinux glibc <= 2.34) "
        "cannot load; publish wheels of it built for the target (manylinux) to an index and "
        "require it by name, or build in a container (--container docker)"
    )


def test_a_failed_build_names_the_package_and_its_first_error(tmp_path: Path) -> None:
    project = tmp_path / "app"
    package = make_local_package(project / "broken", "broken")
    backend = package / "_backend.py"
    backend.write_text(
        backend.read_text().replace(
            "    files = {p.as_posix()",
            "    import sys\n    print('src/fast.c:1:10: fatal error: Python.h: No such file',"
            " file=sys.stderr)\n    raise SystemExit(1)\n    files = {p.as_posix()",
        )
    )
    (project / "requirements.txt").write_text("./broken\n")
    with pytest.raises(BuildError) as failed:
        build_and_package(project, PipInstaller())
    assert str(failed.value) == (
        "building the local package ./broken (requirements.txt:1) failed: src/fast.c:1:10: "
        f"fatal error: Python.h: No such file; fix its build (run `uv build --wheel "
        f"{package}` to see all of it)"
    )
