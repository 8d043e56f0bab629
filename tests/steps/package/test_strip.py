"""``--strip`` never breaks a library: real libraries compiled here, the real ``strip``, and
fake ``strip`` programs first on PATH for the failures (a misaligned copy, a failing or
growing strip)."""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from layer_builder import (
    BuildResult,
    LayerTarget,
    Manifest,
    PackageOptions,
    PackageResult,
    PackageStep,
)
from layer_builder.cli.packaging import package_json, package_lines
from layer_builder.steps.package.elf import Segment
from layer_builder.steps.package.html_report import html_report
from layer_builder.steps.package.slimming import STRIP_MODES, Saving, StripMode, strip_preparer
from tests.steps.package.crafted_elf import ALIGNED, LOAD, RW, SECTIONS, craft

EXTENSION = "fastext/_ext.cpython-312-x86_64-linux-gnu.so"
VENDORED = "fastext.libs/libanswer-1a2b3c4d.so.1"


@pytest.fixture
def real_strip() -> str:
    found = shutil.which("strip")
    if found is None:
        pytest.skip("binutils strip is not installed")
    return found


def compile_library(directory: Path, name: str = "libanswer.so") -> Path:
    """A shared object with debug sections, exporting ``answer()``."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler to make a shared object with")
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "answer.c"
    source.write_text("int answer(void) { int x = 40; return x + 2; }\n")
    output = directory / name
    subprocess.run([gcc, "-g", "-O0", "-shared", "-fPIC", "-o", str(output), str(source)],
                   check=True)  # fmt: skip
    return output


def answer_of(library: Path) -> int:
    """Load ``library`` as the dynamic loader does and call it."""
    return int(ctypes.CDLL(str(library)).answer())


def program(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(script)
    path.chmod(0o755)


def tree_with(root: Path, files: dict[str, bytes]) -> BuildResult:
    """A one-distribution tree holding ``files``, as a build would leave it."""
    tree = root / "python"
    dist_info = tree / "fastext-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: fastext\nVersion: 1.0\n")
    names = [*files, "fastext-1.0.dist-info/METADATA", "fastext-1.0.dist-info/RECORD"]
    (dist_info / "RECORD").write_text("".join(f"{name},,\n" for name in names))
    for name, content in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(content)
    project = root / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("fastext==1.0\n")
    return BuildResult(
        dir_python=tree,
        manifest=Manifest.from_project(project),
        target=LayerTarget("3.12", "x86_64"),
        distributions=(),
        installer="by hand",
    )


def packaged(build: BuildResult, path_zip: Path) -> tuple[PackageResult, dict[str, bytes]]:
    """Package ``build`` with ``--strip``: the result, and the zip's members by tree path."""
    options = PackageOptions(strip=True, smoke_test=False)
    result = PackageStep(path_zip, options).run(build)
    with zipfile.ZipFile(path_zip) as zf:
        return result, {n.removeprefix("python/"): zf.read(n) for n in zf.namelist()}


def kept_messages(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    messages = [r.getMessage() for r in caplog.records if r.levelno == level]
    return [m for m in messages if m.startswith("--strip: kept")]


@pytest.mark.parametrize("mode", ["debug", "unneeded"])
def test_a_stripped_library_is_smaller_and_still_loads(
    mode: StripMode, real_strip: str, tmp_path: Path
) -> None:
    library = compile_library(tmp_path)
    preparer = strip_preparer(mode)
    assert preparer is not None
    assert preparer.key == f"strip --strip-{mode}, checked"
    stripped = tmp_path / "out" / "libanswer.so"
    stripped.parent.mkdir()
    preparer.run(library, stripped)
    assert 0 < stripped.stat().st_size < library.stat().st_size
    assert answer_of(stripped) == 42


def test_vendored_libraries_are_left_alone_and_reported(
    real_strip: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    original = compile_library(tmp_path / "cc").read_bytes()
    build = tree_with(tmp_path, {EXTENSION: original, VENDORED: original})
    caplog.set_level(logging.INFO, logger="layer_builder")
    result, members = packaged(build, tmp_path / "layer.zip")

    assert members[VENDORED] == original, "bytes unchanged in the zip"
    assert len(members[EXTENSION]) < len(original)
    extracted = tmp_path / "extracted.so"
    extracted.write_bytes(members[EXTENSION])
    assert answer_of(extracted) == 42
    vendored = Path(os.path.realpath(build.dir_python)) / VENDORED
    assert kept_messages(caplog) == [
        f"--strip: kept {vendored} unstripped: a library vendored into fastext.libs/ "
        f"(auditwheel rewrites them with patchelf, whose layouts strip does not preserve)"
    ]

    saved = len(original) - len(members[EXTENSION])
    assert result.savings == (
        Saving(STRIP_MODES["debug"], 1, saved, kept_files=1, kept_bytes=len(original)),
    )
    report = package_json(result)
    assert report["savings"] == [
        {"what": STRIP_MODES["debug"], "files": 1, "bytes_saved": saved, "kept_files": 1,
         "kept_bytes": len(original)}
    ]  # fmt: skip
    data = {"path": str(result.path_zip), "zip_size": result.zip_size,
            "zip_sha256": result.sha256, "files": result.files,
            "unzipped_size": result.unzipped_size, **report}  # fmt: skip
    kb = f"{len(original) / 1000:.1f} kB"
    assert (f"saved {saved / 1000:.1f} kB (1 files): debug sections of shared objects (strip); "
            f"1 files ({kb}) kept as they were") in package_lines(data)  # fmt: skip
    assert f"(strip); 1 files ({kb}) kept as they were</td>" in html_report(result)

    again, _ = packaged(build, tmp_path / "layer.zip")
    assert (again.reused, again.sha256, again.savings) == (result.files, result.sha256,
                                                           result.savings)  # fmt: skip


FAKE_STRIP = '''#!{python}
"""The real strip, then the last LOAD segment's file offset moved off its page (what GNU
strip 2.40 did to numpy's vendored OpenBLAS)."""
import struct
import subprocess
import sys

subprocess.run([{strip!r}, *sys.argv[1:]], check=True)
dest = sys.argv[sys.argv.index("-o") + 1]
with open(dest, "r+b") as f:
    data = bytearray(f.read())
    (phoff,) = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    starts = [phoff + i * phentsize for i in range(phnum)]
    index = [i for i, at in enumerate(starts) if struct.unpack_from("<I", data, at)[0] == 1][-1]
    offset, vaddr = struct.unpack_from("<QQ", data, starts[index] + 8)
    struct.pack_into("<Q", data, starts[index] + 8, offset - 0x10)
    f.seek(0)
    f.write(data)
with open({record!r}, "w") as out:
    out.write(f"{{index}} {{offset - 0x10}} {{vaddr}}")
'''


def test_a_copy_that_would_not_load_gives_way_to_the_original(
    real_strip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    original = compile_library(tmp_path / "cc").read_bytes()
    build = tree_with(tmp_path, {EXTENSION: original})
    record = tmp_path / "moved.txt"
    script = FAKE_STRIP.format(python=sys.executable, strip=real_strip, record=str(record))
    program(tmp_path / "bin", "strip", script)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    caplog.set_level(logging.INFO, logger="layer_builder")

    _, members = packaged(build, tmp_path / "layer.zip")

    assert members[EXTENSION] == original, "never a broken copy"
    index, offset, vaddr = (int(v) for v in record.read_text().split())
    extension = Path(os.path.realpath(build.dir_python)) / EXTENSION
    assert kept_messages(caplog) == [
        f"--strip: kept {extension} unstripped: in the copy, LOAD segment {index} is "
        f"misaligned: offset {offset:#x} and address {vaddr:#x} differ modulo 0x1000"
    ]


def test_a_failing_or_growing_strip_keeps_the_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    library = compile_library(tmp_path / "cc")
    bin_dir = tmp_path / "bin"
    program(bin_dir, "strip", "#!/bin/sh\necho 'Unable to recognise the format' >&2; exit 1\n")
    program(bin_dir, "llvm-strip", "#!/bin/sh\nexit 2\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    caplog.set_level(logging.DEBUG, logger="layer_builder")
    preparer = strip_preparer()
    assert preparer is not None
    preparer.run(library, tmp_path / "failed.so")
    assert (tmp_path / "failed.so").read_bytes() == library.read_bytes()

    # A strip that writes a copy no smaller than the original (as strip did to numpy's
    # lapack_lite: 28,233 bytes, then 29,496).
    program(bin_dir, "strip", '#!/bin/sh\ncat "$4" > "$3"; echo >> "$3"\n')
    preparer.run(library, tmp_path / "grown.so")
    assert (tmp_path / "grown.so").read_bytes() == library.read_bytes()
    size = library.stat().st_size
    assert kept_messages(caplog) == [
        f"--strip: kept {library} unstripped: strip exited with 1: Unable to recognise the "
        f"format / llvm-strip exited with 2"
    ]
    # Nothing to remove is the usual case (wheels rarely ship debug sections): said quietly.
    assert kept_messages(caplog, logging.DEBUG) == [
        f"--strip: kept {library} unstripped: strip made it no smaller ({size:,} bytes, then "
        f"{size + 1:,})"
    ]


def test_llvm_strip_takes_over_what_strip_cannot_read(
    real_strip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GNU strip knows the host's architecture only; llvm-strip handles an arm64 layer."""
    library = compile_library(tmp_path / "cc")
    bin_dir = tmp_path / "bin"
    program(bin_dir, "strip", "#!/bin/sh\necho 'Unable to recognise the format' >&2; exit 1\n")
    program(bin_dir, "llvm-strip", f'#!/bin/sh\ntouch "{tmp_path}/llvm-ran"\n'
                                   f'exec {real_strip} "$@"\n')  # fmt: skip
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    preparer = strip_preparer("unneeded")
    assert preparer is not None
    preparer.run(library, tmp_path / "out.so")
    assert (tmp_path / "llvm-ran").exists()
    assert (tmp_path / "out.so").stat().st_size < library.stat().st_size
    assert answer_of(tmp_path / "out.so") == 42


def test_what_strip_would_not_lay_out_again_is_not_stripped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A loadable segment no section holds (patchelf's work): strip is not even run."""
    patched = craft([*ALIGNED, Segment(LOAD, 0x2800, 0x4800, 0x300, 0x300, RW, 0x1000)],
                    SECTIONS)  # fmt: skip
    source = tmp_path / "libpatched.so"
    source.write_bytes(patched)
    bin_dir = tmp_path / "bin"
    program(bin_dir, "strip", f'#!/bin/sh\ntouch "{tmp_path}/strip-ran"\nexit 1\n')
    monkeypatch.setenv("PATH", str(bin_dir))
    caplog.set_level(logging.INFO, logger="layer_builder")
    preparer = strip_preparer()
    assert preparer is not None
    preparer.run(source, tmp_path / "out.so")
    assert (tmp_path / "out.so").read_bytes() == patched
    assert not (tmp_path / "strip-ran").exists()
    assert kept_messages(caplog) == [
        f"--strip: kept {source} unstripped: LOAD segment 5 (bytes 0x2800-0x2b00) holds no "
        f"section, a layout patchelf leaves and strip does not preserve"
    ]
