"""What --slim leaves out and what --strip does to shared objects."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from layer_builder.steps.package.slimming import (
    Saving,
    is_shared_object,
    slim,
    strip_preparer,
    strip_saving,
)


def test_slim_drops_each_kind_and_reports_the_bytes() -> None:
    files = [
        ("pkg/__init__.py", 10),
        ("pkg/__pycache__/__init__.cpython-312.pyc", 100),
        ("legacy.pyc", 7),
        ("pkg/tests/test_core.py", 1000),
        ("pkg/sub/test/conftest.py", 500),
        ("tests/__init__.py", 1),  # a stray top-level tests package
        ("pkg/include/pkg.h", 20),
        ("pkg/include/pkg.hpp", 30),
        ("pkg/_speed.pyx", 40),
        ("pkg/_speed.pxd", 4),
        ("pkg/__init__.pyi", 3),
        ("pkg/py.typed", 0),
        ("pkg/testing/utils.py", 60),  # a module named testing is code, kept
        ("pkg/test_helpers.py", 6),  # so is a file named test_*
        ("pkg-1.0.dist-info/RECORD", 9),
        ("pkg-1.0.dist-info/licenses/tests/NOTICE.h", 2),  # never inside dist-info
    ]
    kept, savings = slim(files)
    assert kept == [
        "pkg/__init__.py",
        "pkg/py.typed",
        "pkg/testing/utils.py",
        "pkg/test_helpers.py",
        "pkg-1.0.dist-info/RECORD",
        "pkg-1.0.dist-info/licenses/tests/NOTICE.h",
    ]
    assert savings == (
        Saving("__pycache__ folders and *.pyc", 2, 107),
        Saving("tests/ and test/ folders", 3, 1501),
        Saving("C/C++ headers", 2, 50),
        Saving("Cython sources", 2, 44),
        Saving("type stubs (*.pyi)", 1, 3),
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so", True),
        ("pyarrow/libarrow.so.2600", True),
        ("numpy.libs/libscipy_openblas64_-4b78795a.so", True),
        ("pkg/sonar.py", False),
        ("pkg/data.so.txt", False),
    ],
)
def test_shared_objects_by_name(name: str, expected: bool) -> None:
    assert is_shared_object(name) is expected


def _compile_shared_object(directory: Path) -> Path:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler to make a shared object with debug sections")
    source = directory / "ext.c"
    source.write_text("int answer(void) { int x = 40; return x + 2; }\n")
    output = directory / "libext.so"
    subprocess.run([gcc, "-g", "-O0", "-shared", "-fPIC", "-o", str(output), str(source)],
                   check=True)  # fmt: skip
    return output


def test_strip_removes_debug_sections_from_a_copy(tmp_path: Path) -> None:
    if shutil.which("strip") is None:
        pytest.skip("binutils strip is not installed")
    shared = _compile_shared_object(tmp_path)
    original = shared.read_bytes()
    preparer = strip_preparer()
    assert preparer is not None
    stripped = tmp_path / "stripped.so"
    preparer.run(shared, stripped)
    assert shared.read_bytes() == original, "the build tree is never changed"
    assert 0 < stripped.stat().st_size < len(original)
    sections = subprocess.run(["readelf", "-S", str(stripped)], capture_output=True, text=True)
    if sections.returncode == 0:
        assert ".debug_info" not in sections.stdout
        assert ".text" in sections.stdout


def test_strip_keeps_what_it_cannot_read(tmp_path: Path) -> None:
    if shutil.which("strip") is None:
        pytest.skip("binutils strip is not installed")
    fake = tmp_path / "_fake.cpython-312-aarch64-linux-gnu.so"
    fake.write_bytes(b"\x7fELF fake extension for aarch64\n")
    preparer = strip_preparer()
    assert preparer is not None
    preparer.run(fake, tmp_path / "out.so")
    assert (tmp_path / "out.so").read_bytes() == fake.read_bytes()


def test_no_strip_program_means_a_warning_and_no_preparer(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    caplog.set_level(logging.WARNING, logger="layer_builder")
    assert strip_preparer() is None
    assert [r.getMessage() for r in caplog.records] == [
        "--strip: neither `strip` (binutils) nor `llvm-strip` is on PATH: shared objects kept"
    ]


def test_strip_saving_counts_smaller_files_and_those_kept_unstripped() -> None:
    assert strip_saving([(1000, 600), (50, 50), (300, 100), (70, 70)]) == Saving(
        "debug sections of shared objects (strip)", 2, 600, kept_files=2, kept_bytes=120
    )


def test_strip_unneeded_also_drops_the_symbol_table(tmp_path: Path) -> None:
    if shutil.which("strip") is None:
        pytest.skip("binutils strip is not installed")
    shared = _compile_shared_object(tmp_path)
    debug, unneeded = strip_preparer("debug"), strip_preparer("unneeded")
    assert debug is not None and unneeded is not None
    assert (debug.key, unneeded.key) == (
        "strip --strip-debug, checked",
        "strip --strip-unneeded, checked",
    )
    debug.run(shared, tmp_path / "debug.so")
    unneeded.run(shared, tmp_path / "unneeded.so")
    assert (tmp_path / "unneeded.so").stat().st_size < (tmp_path / "debug.so").stat().st_size
    symbols = subprocess.run(["nm", "-D", str(tmp_path / "unneeded.so")], capture_output=True,
                             text=True)  # fmt: skip
    if symbols.returncode == 0:
        assert "answer" in symbols.stdout, "the dynamic symbols a loader needs stay"
    assert strip_saving([(10, 4)], "unneeded") == Saving(
        "symbol tables of shared objects (strip --strip-unneeded)", 1, 6
    )
