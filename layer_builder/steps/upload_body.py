"""The bytes an upload sends: the zip the package step recorded, checked against its sha256
as they are read.

Which bytes may go up is decided by the package step's own record, ``contents.json``, written
beside the zip with the sha256 of the bytes it wrote (and the fingerprint and target they
were built for): never by the zip's comment, which a zip copied over ``layer.zip`` from
another build carries too. A zip whose bytes are not the recorded ones is refused.

A zip's key is its sha256 (``layer/zips/<sha256>.zip``), so the bytes sent there must be
those very bytes, even when the file changes on disk meanwhile (another process packaging in
the same folder). S3 checks a single ``PutObject`` against its ``ChecksumSHA256``, but keeps
no SHA-256 of a multipart object, and an S3 look-alike may check nothing: the upload step
therefore hashes exactly what it sends. A single put sends bytes read and hashed in memory;
a multipart upload reads through ``VerifiedReader``, which fails the read that would finish
the upload when the hash differs, so that s3transfer aborts the upload instead of completing
it.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import BinaryIO

from layer_builder.errors import MismatchedBuildError, ProjectError, StaleUploadError
from layer_builder.model.contents import CONTENTS_FILENAME, LayerContents

PACKAGE_AGAIN = "run `layer-builder package` again"


def package_record(path_zip: Path, sha256: str) -> LayerContents:
    """What the package step recorded beside ``path_zip`` of the zip it wrote, when that zip
    is the one of ``sha256`` (the bytes about to be uploaded); else a one-line refusal."""
    path = path_zip.with_name(CONTENTS_FILENAME)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProjectError(
            f"{path_zip} has no record of `layer-builder package` beside it ({path} is "
            f"missing): {PACKAGE_AGAIN}"
        ) from None
    except OSError as exc:
        raise ProjectError(f"cannot read {path} ({exc.strerror}): {PACKAGE_AGAIN}") from None
    record = LayerContents.loads(data, str(path), PACKAGE_AGAIN)
    if record.zip_sha256 != sha256:
        raise MismatchedBuildError(
            f"{path_zip} is not the zip `layer-builder package` wrote (its sha256 is {sha256}, "
            f"{path.name} records {record.zip_sha256}): {PACKAGE_AGAIN}"
        )
    return record


def changed_since_packaged(path: Path, sha256: str) -> StaleUploadError:
    """The error for a zip whose bytes are no longer the ones packaged."""
    return StaleUploadError(
        f"{path} changed since it was packaged (its sha256 is no longer {sha256}): package "
        f"it again, then upload"
    )


def read_verified(path: Path, sha256: str) -> bytes:
    """The bytes of ``path``, when their sha256 is ``sha256``."""
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise changed_since_packaged(path, sha256)
    return data


class VerifiedReader(io.RawIOBase):
    """``size`` bytes of ``raw``, read once from the start, which raise on the last read
    unless their sha256 is ``sha256``. The reader is ``size`` long whatever the file's length
    now: bytes appended later are never sent, a file cut short fails."""

    def __init__(self, raw: BinaryIO, path: Path, sha256: str, size: int):
        super().__init__()
        self._raw = raw
        self._path = path
        self._sha256 = sha256
        self._size = size
        self._digest = hashlib.sha256()
        self._position = 0
        self._hashed = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def seekable(self) -> bool:
        """Seekable: s3transfer seeks to the end and back to learn the size."""
        return True

    def tell(self) -> int:
        """The position in the file."""
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the position; reads must still go in order, since the bytes are hashed once."""
        # s3transfer seeks to the end and back to learn the size, then reads in order.
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, min(self._size, base + offset))
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        """Read and hash; the read that reaches the end fails if the bytes are not the zip's."""
        if self._position != self._hashed:
            raise ValueError(f"{self._path} must be read in order from its start to be hashed")
        wanted = self._size - self._position
        if size is not None and size >= 0:
            wanted = min(wanted, size)
        self._raw.seek(self._position)
        data = self._raw.read(wanted)
        self._digest.update(data)
        self._position += len(data)
        self._hashed = self._position
        if len(data) < wanted or (
            self._position == self._size and self._digest.hexdigest() != self._sha256
        ):
            raise changed_since_packaged(self._path, self._sha256)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """``read()`` into ``buffer``; returns the number of bytes read."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
