"""Why pins cannot be installed for a target, judged from an index page, every one at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from layer_builder import LayerTarget, Manifest
from layer_builder.errors import DependencyProblemsError, SourceOnlyDependencyError
from layer_builder.installers import PipInstaller, UvPipInstaller
from layer_builder.installers.diagnosis import Pin, judge
from layer_builder.installers.index_files import parse_files
from tests.conftest import WheelIndex

PY311 = LayerTarget("3.11", "x86_64")
PY312_ARM = LayerTarget("3.12", "arm64")


def page(*filenames: str) -> str:
    """A PEP 503 page linking to ``filenames`` (hash: the name's length, for the tests)."""
    links = "".join(
        f'<a href="../files/{f}#sha256={len(f):064d}" data-requires-python="&gt;=3.9">{f}</a>\n'
        for f in filenames
    )
    return f"<html><body>{links}</body></html>"


def sha(filename: str) -> str:
    return f"sha256:{len(filename):064d}"


NUMPY = page(
    "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "numpy-2.3.4-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    "numpy-2.3.4-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    "numpy-2.3.4.tar.gz",
)


def test_a_newer_glibc_than_the_runtimes_is_said_with_both_versions() -> None:
    problem = judge(Pin("numpy", "2.3.4"), parse_files(NUMPY, "numpy"), PY311)
    assert problem is not None and problem.kind == "no-wheel"
    assert problem.line() == (
        "numpy 2.3.4: its cp311 wheels for x86_64 are manylinux_2_27, manylinux_2_28 (glibc "
        "2.27 or newer), and python3.11's runtime has glibc 2.26 (its source distribution "
        "would be built on this host); pin numpy==2.2.6 (the newest with a wheel for "
        "python3.11 x86_64) or allow a build if it is pure Python (--allow-source numpy)"
    )
    assert judge(Pin("numpy", "2.3.4"), parse_files(NUMPY, "numpy"), LayerTarget("3.12")) is None


def test_wheels_for_other_pythons_and_other_cpus_are_named() -> None:
    wrapt = page("wrapt-1.14.0-cp310-cp310-manylinux_2_17_x86_64.whl",
                 "wrapt-1.14.0-cp39-cp39-manylinux_2_17_x86_64.whl")  # fmt: skip
    problem = judge(Pin("wrapt", "1.14.0"), parse_files(wrapt, "wrapt"), PY312_ARM)
    assert problem is not None
    assert problem.cause == "its wheels are for cp39, cp310, none for python3.12 (cp312)"
    x86_only = page("fast-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
                    "fast-1.0-cp312-cp312-macosx_11_0_arm64.whl")  # fmt: skip
    problem = judge(Pin("fast", "1.0"), parse_files(x86_only, "fast"), PY312_ARM)
    assert problem is not None
    assert problem.line() == (
        "fast 1.0: it has no aarch64 manylinux wheel for python3.12: only macOS, manylinux "
        "(its Linux wheels: x86_64); build in a container (--container docker) or choose "
        "another target"
    )


def test_source_only_suggests_the_newest_version_with_a_wheel() -> None:
    files = parse_files(page("lib-1.0.tar.gz", "lib-0.9-py3-none-any.whl"), "lib")
    problem = judge(Pin("lib", "1.0"), files, PY311)
    assert problem is not None and problem.kind == "source-only"
    assert problem.fix == (
        "pin lib==0.9 (the newest with a wheel for python3.11 x86_64) or allow a build if it "
        "is pure Python (--allow-source lib)"
    )


def test_a_lock_without_the_hash_of_the_wheel_that_fits() -> None:
    mac = "yaml-6.0.1-cp312-cp312-macosx_11_0_arm64.whl"
    linux = "yaml-6.0.1-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"
    files = parse_files(page(mac, linux), "yaml")
    problem = judge(Pin("yaml", "6.0.1", (sha(mac),)), files, PY312_ARM)
    assert problem is not None
    assert problem.line() == (
        f"yaml 6.0.1: the lock lists no hash of {linux}, the file python3.12 arm64 needs (it "
        "was locked before that wheel was published, or for other platforms); lock again so "
        "that the lock records it"
    )
    assert judge(Pin("yaml", "6.0.1", (sha(mac), sha(linux))), files, PY312_ARM) is None


def test_a_version_the_index_does_not_have() -> None:
    problem = judge(Pin("lib", "3.0"), parse_files(page("lib-1.0-py3-none-any.whl"), "lib"), PY311)
    assert problem is not None
    assert problem.line() == (
        "lib 3.0: the index has no such version (its latest: 1.0); pin a version it has, then "
        "lock again"
    )


@pytest.mark.parametrize("installer", [PipInstaller, UvPipInstaller])
def test_every_failing_package_is_named_at_once(
    installer: type[PipInstaller | UvPipInstaller], tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text(
        "tinyutil==1.1.0\nsourceonly==1.0.0\nmodernlib==1.0.0\nhostonly==1.0.0\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DependencyProblemsError) as refused:
        installer().install(Manifest.from_project(project), PY311, out)
    assert str(refused.value) == (
        "3 dependencies cannot be installed for python3.11 x86_64 (manylinux glibc <= 2.26): "
        "sourceonly 1.0.0: publishes only a source distribution; allow a build if it is pure "
        "Python (--allow-source sourceonly) | modernlib 1.0.0: its wheels are for cp312, none "
        "for python3.11 (cp311); build in a container (--container docker) or choose another "
        "target | hostonly 1.0.0: publishes only a source distribution; allow a build if it "
        "is pure Python (--allow-source hostonly)"
    )


def test_only_source_distributions_keep_the_allow_source_line(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text("sourceonly==1.0.0\nhostonly==1.0.0\n")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SourceOnlyDependencyError) as refused:
        UvPipInstaller().install(Manifest.from_project(project), PY311, out)
    assert "(--allow-source sourceonly --allow-source hostonly)" in str(refused.value)
