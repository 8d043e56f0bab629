"""Incremental packaging: unchanged members are copied from the previous zip."""

from __future__ import annotations

import json
import shutil
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import attrs
import pytest

from layer_builder.archive.deflate import backend_identity
from layer_builder.archive.reuse import sidecar_path
from layer_builder.archive.writer import Preparer, ZipMember, write_reproducible_zip
from layer_builder.errors import PackageError


@pytest.fixture
def entries(tmp_path: Path) -> list[tuple[str, Path]]:
    root = tmp_path / "src"
    files = {
        "pkg/__init__.py": b"from pkg.core import run\n",
        "pkg/core.py": b"def run():\n    return 42\n" * 100_000,  # several pieces
        "pkg/data.txt": b"data " * 1000,
        "pkg/empty.py": b"",
    }
    result = []
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        result.append((f"python/{name}", path))
    return result


def _fresh(entries: list[tuple[str, Path]], path_zip: Path, level: int = 6) -> bytes:
    write_reproducible_zip(entries, path_zip, level, incremental=False)
    return path_zip.read_bytes()


def test_unchanged_rerun_reuses_every_member(entries: list, tmp_path: Path) -> None:
    path_zip = tmp_path / "layer.zip"
    first = write_reproducible_zip(entries, path_zip)
    assert first.reused == 0
    second = write_reproducible_zip(entries, path_zip)
    assert second.reused == 4
    assert [m.reused for m in second.members] == [True] * 4
    assert second.sha256 == first.sha256


def test_a_changed_file_is_compressed_again_and_bytes_match_a_full_run(
    entries: list, tmp_path: Path
) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    entries[2][1].write_bytes(b"other data " * 1000)
    report = write_reproducible_zip(entries, path_zip)
    assert {m.name: m.reused for m in report.members} == {
        "python/pkg/__init__.py": True,
        "python/pkg/core.py": True,
        "python/pkg/data.txt": False,
        "python/pkg/empty.py": True,
    }
    assert path_zip.read_bytes() == _fresh(entries, tmp_path / "fresh.zip")
    with zipfile.ZipFile(path_zip) as zf:
        assert zf.read("python/pkg/data.txt") == b"other data " * 1000


def test_same_size_change_is_caught_by_the_crc(entries: list, tmp_path: Path) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    entries[0][1].write_bytes(b"from pkg.core import ran\n")
    report = write_reproducible_zip(entries, path_zip)
    assert report.reused == 3
    with zipfile.ZipFile(path_zip) as zf:
        assert zf.read("python/pkg/__init__.py") == b"from pkg.core import ran\n"


def test_added_and_removed_members(entries: list, tmp_path: Path) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    extra = tmp_path / "src" / "pkg" / "added.py"
    extra.write_text("ADDED = 1\n")
    changed = [*entries[1:], ("python/pkg/added.py", extra)]
    report = write_reproducible_zip(changed, path_zip)
    assert report.reused == 3
    assert path_zip.read_bytes() == _fresh(changed, tmp_path / "fresh.zip")


def test_a_mode_change_is_not_reused(entries: list, tmp_path: Path) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    entries[2][1].chmod(0o755)
    report = write_reproducible_zip(entries, path_zip)
    assert [m.name for m in report.members if not m.reused] == ["python/pkg/data.txt"]
    assert path_zip.read_bytes() == _fresh(entries, tmp_path / "fresh.zip")


def test_another_level_reuses_nothing(entries: list, tmp_path: Path) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip, 6)
    report = write_reproducible_zip(entries, path_zip, 9)
    assert report.reused == 0
    assert path_zip.read_bytes() == _fresh(entries, tmp_path / "fresh.zip", 9)


@pytest.mark.parametrize(("first", "second"), [("zlib", "libdeflate"), ("libdeflate", "zlib")])
def test_another_backend_reuses_nothing(
    entries: list, tmp_path: Path, first: str, second: str
) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip, backend=first)
    report = write_reproducible_zip(entries, path_zip, backend=second)
    assert report.reused == 0
    fresh = tmp_path / "fresh.zip"
    write_reproducible_zip(entries, fresh, backend=second, incremental=False)
    assert path_zip.read_bytes() == fresh.read_bytes()
    sidecar = json.loads(sidecar_path(path_zip).read_text())
    assert sidecar["deflate"] == backend_identity(second, 6)


def test_another_release_of_the_backend_reuses_nothing(
    entries: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deflate

    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    assert write_reproducible_zip(entries, path_zip).reused == len(entries)
    # A later deflate may bundle another libdeflate, whose bytes may differ.
    monkeypatch.setattr(deflate, "__version__", "9.9.9")
    assert write_reproducible_zip(entries, path_zip).reused == 0
    sidecar = json.loads(sidecar_path(path_zip).read_text())
    assert sidecar["deflate"] == "libdeflate/deflate-9.9.9/level-6"


def test_a_zip_replaced_behind_our_back_is_not_trusted(entries: list, tmp_path: Path) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    other = tmp_path / "other.zip"
    write_reproducible_zip(entries[:2], other, incremental=False)
    shutil.copy(other, path_zip)
    report = write_reproducible_zip(entries, path_zip)
    assert report.reused == 0
    assert path_zip.read_bytes() == _fresh(entries, tmp_path / "fresh.zip")


@pytest.mark.parametrize("damage", ["garbage", "other format", "missing"])
def test_a_damaged_sidecar_means_a_full_run(entries: list, tmp_path: Path, damage: str) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    sidecar = sidecar_path(path_zip)
    if damage == "garbage":
        sidecar.write_text("{not json")
    elif damage == "other format":
        sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "format": 99}))
    else:
        sidecar.unlink()
    report = write_reproducible_zip(entries, path_zip)
    assert report.reused == 0
    assert json.loads(sidecar.read_text())["format"] == 1


def test_incremental_off_neither_reads_nor_trusts_the_previous_zip(
    entries: list, tmp_path: Path
) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    report = write_reproducible_zip(entries, path_zip, incremental=False)
    assert report.reused == 0


def test_prepared_members_are_reused_by_their_source(tmp_path: Path) -> None:
    source = tmp_path / "lib.so"
    source.write_bytes(b"\x7fELF" + b"debug" * 1000)
    calls = []

    def shorten(src: Path, dest: Path) -> None:
        calls.append(src)
        dest.write_bytes(src.read_bytes()[:100])

    member = ZipMember("python/lib.so", source, 0o755, Preparer("shorten", shorten))
    path_zip = tmp_path / "layer.zip"
    first = write_reproducible_zip([member], path_zip)
    second = write_reproducible_zip([member], path_zip)
    assert len(calls) == 1, "the reused member is not prepared again"
    assert (first.members[0].size, second.members[0].reused) == (100, True)
    with zipfile.ZipFile(path_zip) as zf:
        assert zf.read("python/lib.so") == source.read_bytes()[:100]
    plain = write_reproducible_zip([ZipMember("python/lib.so", source, 0o755)], path_zip)
    assert plain.reused == 0, "prepared and unprepared content never mix"
    assert plain.members[0].size == source.stat().st_size


def test_an_unchanged_zip_is_kept_as_it_is(entries: list, tmp_path: Path) -> None:
    path_zip = tmp_path / "layer.zip"
    first = write_reproducible_zip(entries, path_zip)
    inode = path_zip.stat().st_ino
    second = write_reproducible_zip(entries, path_zip)
    assert path_zip.stat().st_ino == inode, "not rewritten"
    assert (second.sha256, second.zip_size) == (first.sha256, first.zip_size)
    assert second.members == tuple(attrs.evolve(m, reused=True) for m in first.members)


def test_a_new_timestamp_rewrites_the_zip_but_reuses_the_data(
    entries: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    report = write_reproducible_zip(entries, path_zip)
    assert report.reused == 4
    assert path_zip.read_bytes() == _fresh(entries, tmp_path / "fresh.zip")
    with zipfile.ZipFile(path_zip) as zf:
        assert zf.getinfo("python/pkg/core.py").date_time == (2023, 11, 14, 22, 13, 20)


def test_before_write_sees_final_sizes_and_can_stop(entries: list, tmp_path: Path) -> None:
    seen = []

    def refuse(sizes: Sequence[tuple[str, int]]) -> None:
        seen.extend(sizes)
        raise RuntimeError("too large")

    path_zip = tmp_path / "out" / "layer.zip"
    with pytest.raises(RuntimeError, match="too large"):
        write_reproducible_zip(entries, path_zip, before_write=refuse)
    assert dict(seen)["python/pkg/data.txt"] == 5000
    assert list(path_zip.parent.iterdir()) == []


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    import layer_builder.archive.writer as zipper

    reads: list[Path] = []
    real = zipper._crc_file

    def spy(path: Path, inode: int | None = None) -> tuple[int, int]:
        reads.append(path)
        return real(path, inode)

    monkeypatch.setattr(zipper, "_crc_file", spy)
    return reads


def test_untouched_sources_are_not_read_again(
    entries: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    reads = _count_reads(monkeypatch)
    assert write_reproducible_zip(entries, path_zip).reused == 4
    assert reads == []
    # A same-size edit changes the mtime: read, and caught by the CRC.
    source = entries[0][1]
    source.write_bytes(b"from pkg.core import ran\n")
    report = write_reproducible_zip(entries, path_zip)
    assert reads == [source]
    assert [m.name for m in report.members if not m.reused] == ["python/pkg/__init__.py"]


def test_a_rebuilt_tree_is_read_once_then_trusted(
    entries: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    copy = [(name, tmp_path / "copy" / path.name) for name, path in entries]
    for (_, path), (_, new) in zip(entries, copy, strict=True):
        new.parent.mkdir(exist_ok=True)
        shutil.copy2(path, new)  # same content and mtime, another inode
    reads = _count_reads(monkeypatch)
    assert write_reproducible_zip(copy, path_zip).reused == 4
    assert len(reads) == 4
    reads.clear()
    assert write_reproducible_zip(copy, path_zip).reused == 4
    assert reads == []


def test_a_touched_zip_is_verified_and_its_sources_read(
    entries: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path_zip = tmp_path / "layer.zip"
    write_reproducible_zip(entries, path_zip)
    path_zip.touch()  # same bytes, new mtime: the stat of the sources is not trusted
    reads = _count_reads(monkeypatch)
    assert write_reproducible_zip(entries, path_zip).reused == 4
    assert len(reads) == 4


def test_a_first_run_reads_each_file_once(
    entries: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No previous zip: the CRC-32 comes from the compression, not a separate reading."""
    reads = _count_reads(monkeypatch)
    report = write_reproducible_zip(entries, tmp_path / "layer.zip")
    assert reads == []
    with zipfile.ZipFile(tmp_path / "layer.zip") as zf:
        assert zf.testzip() is None
        assert [i.CRC for i in zf.infolist()] == [
            zlib.crc32(path.read_bytes()) for _, path in sorted(entries)
        ]
    assert report.reused == 0


@pytest.mark.parametrize("previous", [False, True])
def test_a_file_changed_while_zipping_is_an_error(
    entries: list, tmp_path: Path, previous: bool
) -> None:
    path_zip = tmp_path / "layer.zip"
    if previous:
        write_reproducible_zip(entries, path_zip)
        entries[2][1].write_bytes(b"DATA " * 1000)  # same size: read, CRC known in advance
    target = entries[2][1]

    def change(_: object) -> None:
        # After the plan, before the writing: what a build running in parallel could do.
        target.write_bytes(b"changed " * (625 if previous else 10))  # same size: the CRC tells

    before = path_zip.read_bytes() if previous else None
    with pytest.raises(PackageError) as caught:
        write_reproducible_zip(entries, path_zip, before_write=change)
    assert str(caught.value).startswith(f"{target} changed while it was being zipped (")
    assert str(caught.value).endswith("leave the build tree alone while packaging, then retry")
    assert (path_zip.read_bytes() if previous else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["layer.zip", "layer.zip.reuse.json", "src"] if previous else ["src"]
    ), "no partial file left"
