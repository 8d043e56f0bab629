"""``--strip`` on a real numpy 2.x layer, imported from the zip by a Python 3.12 interpreter
(network: the wheel comes from the package index).

numpy 2.0 to 2.3 vendor OpenBLAS and libgfortran into ``numpy.libs/`` with segments patchelf
added; GNU strip 2.40 wrote those segments off their pages, and ``import numpy`` then failed
with "ELF load command address/offset not page-aligned". (numpy 2.5's own vendored OpenBLAS
survives strip: hence the pin.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from layer_builder import BuildResult, BuildStep, LayerPathLayout, LayerTarget, Manifest
from layer_builder.steps.package.step import PackageOptions, PackageStep

#: The last numpy whose vendored libraries GNU strip 2.40 broke (checked here, 2026-12).
NUMPY = "numpy==2.3.5"
TARGET = LayerTarget("3.12", "x86_64")
IMPORT_NUMPY = (
    "import sys; sys.path.insert(0, sys.argv[1]); import numpy; "
    "a = numpy.array([[2.0, 1.0], [1.0, 3.0]]); "
    "print(numpy.__version__, numpy.linalg.solve(a, [3.0, 5.0]).round(6).tolist())"
)


@pytest.fixture
def isolated_environment() -> None:
    """Overrides the suite's: this build uses the real package index."""


def python312() -> str:
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(pyenv.glob("3.12.*/bin/python3.12"), reverse=True)
    found += [Path(p) for p in [shutil.which("python3.12")] if p]
    for candidate in found:
        probe = subprocess.run([str(candidate), "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)  # fmt: skip
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 12)":
            return str(candidate)
    pytest.skip("no Python 3.12 interpreter here (pyenv's ~/.pyenv/versions/3.12.* or PATH)")


@pytest.fixture(scope="module")
def numpy_build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """numpy installed for python3.12 x86_64 by the real BuildStep, once for the module."""
    project = tmp_path_factory.mktemp("numpy") / "app"
    project.mkdir()
    (project / "requirements.txt").write_text(f"{NUMPY}\n")
    (project / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0.1.0"\n')
    return BuildStep(TARGET, Manifest.from_project(project), LayerPathLayout(project)).run()


@pytest.mark.network
def test_a_stripped_numpy_layer_imports(numpy_build: BuildResult, tmp_path: Path) -> None:
    interpreter = python312()
    build = numpy_build
    path_zip = tmp_path / "layer.zip"
    result = PackageStep(path_zip, PackageOptions(strip=True)).run(build)

    extracted = tmp_path / "opt"
    with zipfile.ZipFile(path_zip) as zf:
        zf.extractall(extracted)
    imported = subprocess.run([interpreter, "-I", "-c", IMPORT_NUMPY, str(extracted / "python")],
                              capture_output=True, text=True, check=False)  # fmt: skip
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert imported.stdout.split(" ", 1) == ["2.3.5", "[0.8, 1.4]\n"]

    (saving,) = result.savings
    assert saving.files > 0 and saving.bytes_saved > 0, "numpy's own extensions were stripped"
    vendored = sorted((build.dir_python / "numpy.libs").iterdir())
    with zipfile.ZipFile(path_zip) as zf:
        for library in vendored:
            assert zf.read(f"python/numpy.libs/{library.name}") == library.read_bytes()
    assert saving.kept_files >= len(vendored)
    assert saving.kept_bytes >= sum(p.stat().st_size for p in vendored)


@pytest.mark.network
def test_the_checks_catch_numpys_openblas_outside_its_libs_folder(
    numpy_build: BuildResult, tmp_path: Path
) -> None:
    """Where the folder rule does not apply, the ELF checks still keep it whole: before strip
    (a segment no section holds), and on strip's copy (a misaligned LOAD segment)."""
    from layer_builder.steps.package.elf import (
        read_headers_of,
        strip_would_break,
        stripped_copy_problem,
    )
    from layer_builder.steps.package.slimming import strip_preparer

    strip = shutil.which("strip")
    if strip is None:
        pytest.skip("binutils strip is not installed")
    (openblas,) = (numpy_build.dir_python / "numpy.libs").glob("libscipy_openblas*.so")
    moved = tmp_path / "vendored" / openblas.name
    moved.parent.mkdir()
    shutil.copyfile(openblas, moved)
    original = read_headers_of(moved)
    assert re.fullmatch(r"LOAD segment \d+ \(bytes 0x\w+-0x\w+\) holds no section, a layout "
                        r"patchelf leaves and strip does not preserve",
                        strip_would_break(original) or "")  # fmt: skip
    preparer = strip_preparer()
    assert preparer is not None
    preparer.run(moved, tmp_path / "prepared.so")
    assert (tmp_path / "prepared.so").read_bytes() == openblas.read_bytes()

    copy = tmp_path / "stripped.so"
    subprocess.run([strip, "--strip-debug", "-o", str(copy), str(moved)], check=True)
    assert re.fullmatch(r"in the copy, LOAD segment \d+ is misaligned: offset 0x\w+ and "
                        r"address 0x\w+ differ modulo 0x1000",
                        stripped_copy_problem(original, copy) or "")  # fmt: skip
