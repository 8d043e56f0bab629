"""The reproducible zip writer on real files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import threading
import zipfile
import zlib
from pathlib import Path

import attrs
import pytest

from layer_builder.archive import zipformat
from layer_builder.archive.deflate import BACKENDS, Deflater, backend_identity
from layer_builder.archive.writer import ZIP_EPOCH, fixed_date_time, write_reproducible_zip
from layer_builder.archive.zipformat import STORED, Entry
from layer_builder.errors import ConfigurationError, PackageError
from layer_builder.steps.package.step import PackageOptions


def _tree(root: Path) -> list[tuple[str, Path]]:
    files = {
        "pkg/__init__.py": b"from pkg.core import run\n",
        "pkg/core.py": b"def run():\n    return 42\n" * 50,
        "pkg/data/empty.txt": b"",
        "pkg/ünïcode.txt": b"non-ascii name",
    }
    entries = []
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries.append((f"python/{name}", path))
    return entries


def test_fixed_date_time_defaults_to_1980(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert fixed_date_time() == ZIP_EPOCH == (1980, 1, 1, 0, 0, 0)


def test_fixed_date_time_follows_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert fixed_date_time() == (2023, 11, 14, 22, 13, 20)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # before 1980: zip cannot store it
    assert fixed_date_time() == (1980, 1, 1, 0, 0, 0)


def test_entries_sorted_whatever_the_input_order(tmp_path: Path) -> None:
    entries = _tree(tmp_path / "src")
    write_reproducible_zip(list(reversed(entries)), tmp_path / "a.zip")
    write_reproducible_zip(entries, tmp_path / "b.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        names = zf.namelist()
    assert names == sorted(n for n, _ in entries)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_contents_round_trip(tmp_path: Path) -> None:
    entries = _tree(tmp_path / "src")
    write_reproducible_zip(entries, tmp_path / "layer.zip")
    with zipfile.ZipFile(tmp_path / "layer.zip") as zf:
        assert zf.testzip() is None
        for name, path in entries:
            assert zf.read(name) == path.read_bytes()


def test_mtimes_and_permissions_do_not_change_the_bytes(tmp_path: Path) -> None:
    entries = _tree(tmp_path / "src")
    write_reproducible_zip(entries, tmp_path / "a.zip")
    for _, path in entries:
        path.chmod(0o600)
        path.touch()
    write_reproducible_zip(entries, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_executable_bit_is_kept_as_0755(tmp_path: Path) -> None:
    entries = _tree(tmp_path / "src")
    entries[1][1].chmod(0o700)
    write_reproducible_zip(entries, tmp_path / "layer.zip")
    with zipfile.ZipFile(tmp_path / "layer.zip") as zf:
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
    assert modes["python/pkg/core.py"] == stat.S_IFREG | 0o755
    assert modes["python/pkg/__init__.py"] == stat.S_IFREG | 0o644


def test_failure_leaves_the_previous_zip_and_no_partial(tmp_path: Path) -> None:
    entries = _tree(tmp_path / "src")
    path_zip = tmp_path / "out" / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    before = path_zip.read_bytes()
    entries.append(("python/pkg/zz_missing.py", tmp_path / "src" / "missing.py"))
    with pytest.raises(FileNotFoundError):
        write_reproducible_zip(entries, path_zip)
    assert path_zip.read_bytes() == before
    assert sorted(p.name for p in path_zip.parent.iterdir()) == [
        "layer.zip",
        "layer.zip.reuse.json",
    ]


def _mixed_tree(root: Path) -> list[tuple[str, Path]]:
    """Members of every kind: several pieces, incompressible, already compressed, empty."""
    rng = random.Random(5)
    text = "".join(f"def f{i}(x):\n    return x * {i}\n" for i in range(120_000)).encode()
    files = {
        "big/text.py": text,  # over 3 pieces of 1 MiB
        "big/noise.bin": rng.randbytes(300_000),  # deflate does not pay: stored
        "media/logo.png": b"\x89PNG" + b"\0" * 5000,  # compressible, but png: stored
        "pkg/__init__.py": b"",
        "pkg/mod.py": b"import os\n" * 100,
    }
    entries = []
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries.append((f"python/{name}", path))
    return entries


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_bytes_whatever_the_worker_count(tmp_path: Path, backend: str) -> None:
    entries = _mixed_tree(tmp_path / "src")
    digests = set()
    for workers in (1, 2, 5):
        path_zip = tmp_path / f"w{workers}.zip"
        report = write_reproducible_zip(
            entries, path_zip, backend=backend, workers=workers, incremental=False
        )
        digests.add(report.sha256)
        assert report.sha256 == hashlib.sha256(path_zip.read_bytes()).hexdigest()
    assert len(digests) == 1
    with zipfile.ZipFile(tmp_path / "w1.zip") as zf:
        assert zf.testzip() is None  # every CRC checks out, across the pieces of big/text.py
        for name, path in entries:
            assert zf.read(name) == path.read_bytes()


def test_methods_follow_the_content(tmp_path: Path) -> None:
    entries = _mixed_tree(tmp_path / "src")
    report = write_reproducible_zip(entries, tmp_path / "layer.zip")
    with zipfile.ZipFile(tmp_path / "layer.zip") as zf:
        methods = {i.filename: i.compress_type for i in zf.infolist()}
    assert methods == {
        "python/big/noise.bin": zipfile.ZIP_STORED,
        "python/big/text.py": zipfile.ZIP_DEFLATED,
        "python/media/logo.png": zipfile.ZIP_STORED,
        "python/pkg/__init__.py": zipfile.ZIP_STORED,
        "python/pkg/mod.py": zipfile.ZIP_DEFLATED,
    }
    sizes = {m.name: (m.size, m.compressed_size) for m in report.members}
    assert sizes["python/big/noise.bin"] == (300_000, 300_000)
    assert sizes["python/big/text.py"][1] < sizes["python/big/text.py"][0] // 4


def test_level_zero_stores_everything_and_levels_change_the_bytes(tmp_path: Path) -> None:
    entries = _mixed_tree(tmp_path / "src")
    stored = write_reproducible_zip(entries, tmp_path / "0.zip", 0)
    fast = write_reproducible_zip(entries, tmp_path / "1.zip", 1)
    best = write_reproducible_zip(entries, tmp_path / "9.zip", 9)
    assert all(m.size == m.compressed_size for m in stored.members)
    assert best.zip_size < fast.zip_size < stored.zip_size
    with zipfile.ZipFile(tmp_path / "9.zip") as zf:
        assert zf.testzip() is None


def test_unknown_backend_and_bad_level_are_clear_errors(tmp_path: Path) -> None:
    entries = _tree(tmp_path / "src")
    with pytest.raises(ConfigurationError) as caught:
        write_reproducible_zip(entries, tmp_path / "a.zip", backend="brotli")
    assert str(caught.value) == "unknown deflate backend 'brotli': choose libdeflate or zlib"
    with pytest.raises(ConfigurationError) as caught:
        write_reproducible_zip(entries, tmp_path / "a.zip", 13)
    assert str(caught.value) == (
        "compression level 13 is out of range for libdeflate: choose 0 (store) to 12"
    )
    with pytest.raises(ConfigurationError) as caught:
        write_reproducible_zip(entries, tmp_path / "a.zip", 10, backend="zlib")
    assert str(caught.value) == (
        "compression level 10 is out of range for zlib: choose 0 (store) to 9"
    )
    assert not (tmp_path / "a.zip").exists()


def test_the_default_backend_is_libdeflate(tmp_path: Path) -> None:
    entries = _mixed_tree(tmp_path / "src")
    default = write_reproducible_zip(entries, tmp_path / "default.zip")
    named = write_reproducible_zip(entries, tmp_path / "named.zip", backend="libdeflate")
    other = write_reproducible_zip(entries, tmp_path / "zlib.zip", backend="zlib")
    assert default.sha256 == named.sha256 != other.sha256
    assert Deflater() == Deflater("libdeflate", 6)
    assert (PackageOptions().backend, PackageOptions().compresslevel) == ("libdeflate", 6)
    sidecar = json.loads((tmp_path / "default.zip.reuse.json").read_text())
    assert sidecar["deflate"] == backend_identity("libdeflate", 6)


def test_backend_identity_names_what_decides_the_bytes() -> None:
    import deflate

    version = deflate.__version__
    libdeflate = backend_identity("libdeflate", 6)
    assert libdeflate.endswith(f"/deflate-{version}/level-6")
    assert re.fullmatch(r"libdeflate(-\d+\.\d+)?/deflate-\S+/level-6", libdeflate)
    if version == "0.9.0":  # the release whose changelog names its libdeflate
        assert libdeflate == "libdeflate-1.25/deflate-0.9.0/level-6"
    assert backend_identity("zlib", 9) == f"zlib-{zlib.ZLIB_RUNTIME_VERSION}/level-9/piece-1MiB"
    identities = {backend_identity(b, level) for b in BACKENDS for level in (1, 6, 9)}
    assert len(identities) == 6
    assert Deflater("zlib", 9).identity == backend_identity("zlib", 9)
    with pytest.raises(ConfigurationError, match="unknown deflate backend 'gzip'"):
        backend_identity("gzip", 6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_workers_are_threads_started_once_per_zip_never_a_fork(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = [
        (name.replace("python/", f"python/p{i}/"), path)
        for i in range(40)
        for name, path in _tree(tmp_path / f"src{i}")
    ]  # 160 members
    big = tmp_path / "big.py"
    big.write_bytes(b"x = 1\n" * 600_000)  # 3.6 MB: several zlib pieces
    entries.append(("python/big.py", big))

    def no_fork() -> int:
        raise AssertionError("packaging forked a process")

    monkeypatch.setattr(os, "fork", no_fork)
    started = []
    original = threading.Thread.start

    def counting_start(thread: threading.Thread) -> None:
        started.append(thread.name)
        original(thread)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    report = write_reproducible_zip(
        entries, tmp_path / "layer.zip", backend=backend, workers=2, incremental=False
    )
    assert len(report.members) == 161
    # At most two pools of two threads (planning, compressing), whatever the member count.
    assert 1 <= len([n for n in started if n.startswith("layer-zip_")]) <= 2
    assert len(started) <= 4, started


def test_non_ascii_names_are_flagged_utf8(tmp_path: Path) -> None:
    entries = _tree(tmp_path / "src")
    write_reproducible_zip(entries, tmp_path / "layer.zip")
    with zipfile.ZipFile(tmp_path / "layer.zip") as zf:
        flags = {i.filename: i.flag_bits & 0x800 for i in zf.infolist()}
    assert flags["python/pkg/ünïcode.txt"] == 0x800
    assert flags["python/pkg/core.py"] == 0


def test_compressed_members_match_zipfiles_own_reading(tmp_path: Path) -> None:
    """Cross-check with a second reader: unzip(1) when present."""
    unzip = shutil.which("unzip")
    if unzip is None:
        pytest.skip("unzip is not installed")
    entries = _mixed_tree(tmp_path / "src")
    write_reproducible_zip(entries, tmp_path / "layer.zip")
    check = subprocess.run([unzip, "-tq", str(tmp_path / "layer.zip")], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_zip64_end_records_when_over_65535_entries(tmp_path: Path) -> None:
    entries = [Entry(f"python/f{i:05}", 0o644, STORED, 0, 0, 0, 0) for i in range(65_536 + 3)]
    out = io.BytesIO()
    dos = zipformat.dos_date_time(ZIP_EPOCH)
    for index, entry in enumerate(entries):
        entries[index] = attrs.evolve(entry, offset=out.tell())
        out.write(zipformat.local_header(entry, dos))
    zipformat.write_central_directory(out, entries, dos)
    with zipfile.ZipFile(out) as zf:
        assert len(zf.infolist()) == 65_539
        assert zf.read("python/f65538") == b""
    path = tmp_path / "many.zip"
    path.write_bytes(out.getvalue())
    members = zipformat.read_members(path)
    assert len(members) == 65_539
    assert list(members)[-1] == "python/f65538"


def test_read_members_agrees_with_zipfile(tmp_path: Path) -> None:
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:  # extra fields, a comment
        zf.writestr("a/ünï.txt", b"text " * 100)
        info = zipfile.ZipInfo("b/run.sh")
        info.external_attr = 0o100755 << 16
        info.extra = b"\xfe\xca\x00\x00"
        info.comment = b"a member comment"
        zf.writestr(info, b"#!/bin/sh\n", compress_type=zipfile.ZIP_STORED)
        zf.comment = b"an archive comment"
    members = zipformat.read_members(path)
    with zipfile.ZipFile(path) as zf, path.open("rb") as raw:
        for info in zf.infolist():
            member = members[info.filename]
            assert (member.crc, member.size, member.compressed_size, member.method) == (
                info.CRC, info.file_size, info.compress_size, info.compress_type,
            )  # fmt: skip
            raw.seek(zipformat.data_offset(raw, member))
            data = raw.read(member.compressed_size)
            assert zf.read(info) == (zlib.decompress(data, -15) if member.method else data)
    assert members["b/run.sh"].mode == 0o755
    (tmp_path / "not.zip").write_bytes(b"PK but not a zip" * 10)
    with pytest.raises(zipfile.BadZipFile):
        zipformat.read_members(tmp_path / "not.zip")


def test_member_over_4_gib_is_refused_with_a_reason() -> None:
    entry = Entry("python/huge.bin", 0o644, STORED, 0, 1 << 32, 1 << 32, 0)
    with pytest.raises(PackageError) as caught:
        zipformat.local_header(entry, (0, 0))
    assert str(caught.value) == (
        "python/huge.bin is 4,294,967,296 bytes (size), over the 4 GiB a zip member can hold "
        "without zip64: a Lambda layer cannot use such a file; exclude it"
    )


def test_an_empty_zip_is_a_valid_zip(tmp_path: Path) -> None:
    report = write_reproducible_zip([], tmp_path / "empty.zip")
    with zipfile.ZipFile(tmp_path / "empty.zip") as zf:
        assert zf.namelist() == []
    assert (report.members, report.zip_size) == ((), 22)


def test_two_files_for_one_name_are_refused(tmp_path: Path) -> None:
    entries = _tree(tmp_path / "src")
    entries.append((entries[0][0], entries[1][1]))
    with pytest.raises(PackageError) as caught:
        write_reproducible_zip(entries, tmp_path / "layer.zip")
    assert str(caught.value) == (
        f"two files would be python/pkg/__init__.py in the zip ({entries[0][1]} and "
        f"{entries[1][1]}): a zip member name must be unique"
    )
    assert not (tmp_path / "layer.zip").exists()


def test_libdeflate_backend_missing_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "deflate", None)  # as if the package were not installed
    with pytest.raises(ConfigurationError) as caught:
        write_reproducible_zip(_tree(tmp_path / "src"), tmp_path / "a.zip")
    assert str(caught.value) == (
        "the libdeflate backend needs the package deflate (>= 0.9), which is not installed: "
        "run `python -m pip install 'deflate>=0.9'` (a dependency of lambda-layer-builder), "
        "or choose the backend zlib"
    )
    assert not (tmp_path / "a.zip").exists()
    zlib_report = write_reproducible_zip(
        _tree(tmp_path / "src"), tmp_path / "a.zip", backend="zlib"
    )
    assert zlib_report.sha256


def test_a_deflate_that_blocks_threads_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deflate

    monkeypatch.setattr(deflate, "__version__", "0.8.1")  # held the GIL while compressing
    with pytest.raises(ConfigurationError) as caught:
        write_reproducible_zip(_tree(tmp_path / "src"), tmp_path / "a.zip")
    assert str(caught.value) == (
        "deflate 0.8.1 is too old for the libdeflate backend (it blocks other threads while "
        "it compresses): run `python -m pip install -U 'deflate>=0.9'`, or choose the backend "
        "zlib"
    )
    assert not (tmp_path / "a.zip").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX links")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("swap", ["link", "other-file"])
def test_a_member_swapped_after_the_walk_is_refused_not_followed(
    tmp_path: Path, backend: str, swap: str
) -> None:
    """What was walked is what is read: a link put in its place (the last component or a
    folder above it) leads nowhere, a content change is caught like any other."""
    if backend == "libdeflate":
        pytest.importorskip("deflate")
    entries = _tree(tmp_path / "src")
    secret = tmp_path / "credentials"
    secret.write_bytes(b"secret " * 200)
    core = tmp_path / "src" / "pkg" / "core.py"

    def swap_in(_: object) -> None:  # after the plan, before any byte is written
        if swap == "link":
            core.unlink()
            core.symlink_to(secret)
        else:  # the folder above becomes a link to a copy holding another core.py
            elsewhere = tmp_path / "elsewhere"
            shutil.copytree(tmp_path / "src" / "pkg", elsewhere)
            (elsewhere / "core.py").write_bytes(secret.read_bytes())
            shutil.move(tmp_path / "src" / "pkg", tmp_path / "moved")
            (tmp_path / "src" / "pkg").symlink_to(elsewhere)

    path_zip = tmp_path / "out" / "layer.zip"
    with pytest.raises(PackageError) as caught:
        write_reproducible_zip(entries, path_zip, backend=backend, before_write=swap_in)
    if swap == "link":
        assert str(caught.value).startswith(f"{core} became a symbolic link while it was being")
    else:  # every file of the folder is another file now; whichever is read first says so
        assert re.fullmatch(
            re.escape(str(tmp_path / "src" / "pkg"))
            + r"/\S+ was replaced while it was being zipped: leave the tree alone while "
            r"packaging, then retry",
            str(caught.value),
        )
    assert list(path_zip.parent.iterdir()) == []
