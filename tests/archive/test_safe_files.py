"""Partial files of our own, and files read without following a link."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from layer_builder.archive.safe_files import (
    create_partial,
    finish,
    open_member,
    remove_partials,
    replacing,
    write_replacing,
)
from layer_builder.errors import PackageError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links")


def test_partial_names_are_unique_and_name_the_process(tmp_path: Path) -> None:
    path = tmp_path / "layer.zip"
    made = [create_partial(path) for _ in range(3)]
    for _, out in made:
        out.close()
    names = [p.name for p, _ in made]
    assert len(set(names)) == 3
    assert all(n.startswith(f"layer.zip.{os.getpid()}-") and n.endswith(".partial") for n in names)


def test_replacing_swaps_a_link_at_the_destination_instead_of_writing_through_it(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"precious")
    path = tmp_path / "build" / "layer.zip"
    path.parent.mkdir()
    path.symlink_to(outside)
    write_replacing(path, b"new zip")
    assert outside.read_bytes() == b"precious"
    assert not path.is_symlink()
    assert path.read_bytes() == b"new zip"
    assert sorted(p.name for p in path.parent.iterdir()) == ["layer.zip"]


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, ValueError])
def test_an_interrupted_write_leaves_the_old_file_and_no_partial(
    tmp_path: Path, interruption: type[BaseException]
) -> None:
    path = tmp_path / "layer.zip"
    path.write_bytes(b"old")
    with pytest.raises(interruption), replacing(path) as out:
        out.write(b"half")
        raise interruption()
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer.zip"]


def test_remove_partials_takes_files_folders_and_links_never_their_targets(
    tmp_path: Path,
) -> None:
    build = tmp_path / "build"
    build.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    (build / "layer.zip.123-abcd.partial").write_bytes(b"half")
    (build / "layer.zip.123-ef01.partial").mkdir()
    (build / "layer.zip.123-ef01.partial" / "stripped.so").write_bytes(b"x")
    (build / "layer.zip.reuse.json.9-1.partial").write_bytes(b"{")
    (build / "layer.zip.partial").symlink_to(outside)
    for name in ("layer.zip", "layer.zip.reuse.json", "other.partial", "layer.zip.pycache"):
        (build / name).write_bytes(b"stays")
    removed = remove_partials(build / "layer.zip")
    assert [p.name for p in removed] == [
        "layer.zip.123-abcd.partial",
        "layer.zip.123-ef01.partial",
        "layer.zip.partial",
        "layer.zip.reuse.json.9-1.partial",
    ]
    assert sorted(p.name for p in build.iterdir()) == [
        "layer.zip",
        "layer.zip.pycache",
        "layer.zip.reuse.json",
        "other.partial",
    ]
    assert (outside / "keep.txt").read_text() == "keep"


def test_open_member_refuses_a_link(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_text("secret")
    link = tmp_path / "member.py"
    link.symlink_to(target)
    with pytest.raises(PackageError) as caught:
        open_member(link)
    assert str(caught.value) == (
        f"{link} became a symbolic link while it was being zipped: leave the tree alone while "
        f"packaging, then retry"
    )


def test_open_member_refuses_another_file_than_the_one_walked(tmp_path: Path) -> None:
    path = tmp_path / "member.py"
    path.write_text("first")
    inode = path.stat().st_ino
    with open_member(path, inode) as f:
        assert f.read() == b"first"
    replacement = tmp_path / "replacement"
    replacement.write_text("other")
    replacement.replace(path)
    with pytest.raises(PackageError) as caught:
        open_member(path, inode)
    assert str(caught.value) == (
        f"{path} was replaced while it was being zipped: leave the tree alone while packaging, "
        f"then retry"
    )


def test_open_member_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(PackageError, match="was replaced while it was being zipped"):
        open_member(fifo)


def test_a_cleanup_interrupted_midway_is_finished_then_the_interruption_raised(
    tmp_path: Path,
) -> None:
    """A signal landing in a cleanup (Ctrl-C, SIGTERM in the CLI) must not leave it half
    done: the cleanup runs again to its end, and the interruption goes on."""
    for index in range(3):
        (tmp_path / f"layer.zip.1-{index}.partial").write_bytes(b"half")
    calls = []

    def cleanup() -> list[Path]:
        calls.append(len(calls))
        removed = remove_partials(tmp_path / "layer.zip")
        if len(calls) == 1:
            raise KeyboardInterrupt  # as if the signal came after the first pass
        return removed

    with pytest.raises(KeyboardInterrupt):
        finish(cleanup)
    assert calls == [0, 1]
    assert list(tmp_path.iterdir()) == []
