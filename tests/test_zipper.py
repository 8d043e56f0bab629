"""The reproducible zip writer on real files."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from layer_builder.zipper import ZIP_EPOCH, fixed_date_time, write_reproducible_zip


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
    assert [p.name for p in path_zip.parent.iterdir()] == ["layer.zip"]
