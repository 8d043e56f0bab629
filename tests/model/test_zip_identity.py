"""A layer zip carries the build it holds in its comment, and the same build the same bytes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from layer_builder import PackageError, PackageResult
from layer_builder.model.zip_identity import ZipIdentity

IDENTITY = ZipIdentity(
    fingerprint="f" * 64,
    manifest_sha256="m" * 64,
    runtime="python3.12",
    architecture="arm64",
    compression="libdeflate-1.25/deflate-0.9.0/level-6",
)


def test_the_comment_round_trips_and_is_canonical() -> None:
    comment = IDENTITY.to_comment()
    assert comment.startswith(b"layer_builder {")
    assert ZipIdentity.from_comment(comment) == IDENTITY
    assert ZipIdentity.from_comment(comment) is not None
    assert IDENTITY.to_comment() == comment  # same identity, same bytes


@pytest.mark.parametrize(
    "comment",
    [
        b"",
        b"made by zip 3.0",
        b"layer_builder not json",
        b'layer_builder {"format": 2, "fingerprint": "x"}',
        b'layer_builder {"format": 1, "fingerprint": "x"}',
        b"layer_builder []",
    ],
)
def test_a_comment_not_written_by_layer_builder_gives_no_identity(comment: bytes) -> None:
    assert ZipIdentity.from_comment(comment) is None


def test_a_zip_without_identity_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "layer.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("python/a.py", "")
    assert ZipIdentity.read(path) is None
    with pytest.raises(PackageError) as caught:
        PackageResult.from_zip(path)
    assert str(caught.value) == (
        f"{path} carries no layer_builder identity (packaged by another tool or an older "
        f"version): run `layer-builder package` again"
    )


def test_a_file_that_is_no_zip_has_no_identity(tmp_path: Path) -> None:
    path = tmp_path / "layer.zip"
    path.write_bytes(b"not a zip at all")
    assert ZipIdentity.read(path) is None


def test_from_zip_reads_the_identity_a_zip_carries(tmp_path: Path) -> None:
    path = tmp_path / "layer.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("python/a.py", "x = 1\n")
        zf.comment = IDENTITY.to_comment()
    result = PackageResult.from_zip(path)
    assert result.identity == IDENTITY
    assert result.fingerprint == IDENTITY.fingerprint
    assert (result.files, result.unzipped_size) == (1, 6)
