"""What incremental packaging may copy from the previous zip instead of compressing again.

Next to ``layer.zip`` the writer keeps ``layer.zip.reuse.json``: the deflate identity (backend,
version, level), the zip's sha256, and per member the size, CRC-32, mode and preparation of its
*source* file. A member is reused when all of these match the new source and the sidecar still
describes the zip on disk; anything else (another level, a replaced zip, no sidecar) means a
full compression. The bytes are those a full run would write, since deflate output depends
only on the data and the identity.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from layer_builder.zipformat import StoredMember, read_members

logger = logging.getLogger(__name__)

FORMAT = 1


def sidecar_path(path_zip: Path) -> Path:
    """Where the reuse index of ``path_zip`` lives."""
    return path_zip.with_name(path_zip.name + ".reuse.json")


def member_key(size: int, crc: int, mode: int, prepared: str) -> list[object]:
    """What must match for a member to be reused (JSON-shaped, as stored)."""
    return [size, crc, mode, prepared]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@attrs.frozen
class ReuseIndex:
    """The previous zip's members and the source keys they were written from."""

    path_zip: Path
    sha256: str
    date_time: tuple[int, ...]
    keys: Mapping[str, list[object]] = attrs.field(repr=False)
    members: Mapping[str, StoredMember] = attrs.field(repr=False)

    @classmethod
    def load(cls, path_zip: Path, identity: str) -> ReuseIndex | None:
        """The index of the zip at ``path_zip`` if it can be trusted for ``identity``."""
        try:
            document = json.loads(sidecar_path(path_zip).read_text(encoding="utf-8"))
            if document.get("format") != FORMAT or document.get("deflate") != identity:
                logger.debug("previous %s was compressed otherwise: not reused", path_zip)
                return None
            if (
                path_zip.stat().st_size != document["zip_size"]
                or _sha256(path_zip) != document["zip_sha256"]
            ):
                logger.debug("%s changed since it was written: not reused", path_zip)
                return None
            members = read_members(path_zip)
            keys = dict(document["members"])
            date_time = tuple(document["date_time"])
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
            return None
        return cls(path_zip, document["zip_sha256"], date_time, keys, members)

    def unchanged(self, reused: Sequence[str], count: int, date_time: tuple[int, ...]) -> bool:
        """Whether a zip of ``count`` members, of which ``reused`` (in order) are reused, would
        be the previous zip byte for byte."""
        return (
            count == len(reused) == len(self.members)
            and list(reused) == list(self.members)
            and tuple(date_time) == self.date_time
        )

    def reusable(self, name: str, key: list[object]) -> StoredMember | None:
        """The stored member to copy for ``name``, or None when it must be compressed."""
        if self.keys.get(name) != key:
            return None
        return self.members.get(name)

    @staticmethod
    def save(
        path_zip: Path,
        identity: str,
        sha256: str,
        keys: Mapping[str, list[object]],
        date_time: tuple[int, ...],
    ) -> None:
        """Record how ``path_zip`` was written, for the next run."""
        document = {
            "format": FORMAT,
            "deflate": identity,
            "date_time": list(date_time),
            "zip_sha256": sha256,
            "zip_size": path_zip.stat().st_size,
            "members": dict(keys),
        }
        sidecar = sidecar_path(path_zip)
        partial = sidecar.with_name(sidecar.name + ".partial")
        partial.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
        partial.replace(sidecar)
