"""What incremental packaging may copy from the previous zip instead of compressing again.

Next to ``layer.zip`` the writer keeps ``layer.zip.reuse.json``: the deflate identity (backend,
version, level), the zip's sha256, and per member the size, CRC-32, mode and preparation of its
*source* file. A member is reused when all of these match the new source and the sidecar still
describes the zip on disk; anything else (another level, a replaced zip, no sidecar) means a
full compression. The bytes are those a full run would write, since deflate output depends
only on the data and the identity.

Reading every source for its CRC-32 is most of an unchanged run, so the sidecar also keeps
each source's size, mtime and inode, and the zip's: a file whose three values are unchanged is
taken as unchanged without being read (CPython trusts size and mtime alone for its bytecode
cache). A rebuilt tree has new inodes, so its files are always read. Not the ctime: uv
hardlinks installed files from its cache, and every other install of the same wheel changes
the ctime of the shared inode.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from layer_builder.archive.hashing import sha256_file
from layer_builder.archive.safe_files import write_replacing
from layer_builder.archive.zipformat import StoredMember, read_members

logger = logging.getLogger(__name__)

FORMAT = 1


def sidecar_path(path_zip: Path) -> Path:
    """Where the reuse index of ``path_zip`` lives."""
    return path_zip.with_name(path_zip.name + ".reuse.json")


def member_key(size: int, crc: int, mode: int, prepared: str) -> list[object]:
    """What must match for a member to be reused (JSON-shaped, as stored)."""
    return [size, crc, mode, prepared]


def stat_key(path: Path) -> list[int]:
    """What says a file was not touched since it was last read (JSON-shaped, as stored); of
    the link itself if ``path`` is one, so that a link swapped in is a change."""
    st = os.lstat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ino]


@attrs.frozen
class ReuseIndex:
    """The previous zip's members and the source keys they were written from."""

    path_zip: Path
    sha256: str
    date_time: tuple[int, ...]
    keys: Mapping[str, list[object]] = attrs.field(repr=False)
    members: Mapping[str, StoredMember] = attrs.field(repr=False)
    stats: Mapping[str, list[int]] = attrs.field(repr=False, factory=dict)

    @classmethod
    def load(cls, path_zip: Path, identity: str) -> ReuseIndex | None:
        """The index of the zip at ``path_zip`` if it can be trusted for ``identity``."""
        try:
            document = json.loads(sidecar_path(path_zip).read_text(encoding="utf-8"))
            if document.get("format") != FORMAT or document.get("deflate") != identity:
                logger.debug("previous %s was compressed otherwise: not reused", path_zip)
                return None
            untouched = stat_key(path_zip) == document["zip_stat"]
            if not untouched and sha256_file(path_zip) != document["zip_sha256"]:
                logger.debug("%s changed since it was written: not reused", path_zip)
                return None
            members = read_members(path_zip)
            keys = dict(document["members"])
            stats = dict(document["stats"]) if untouched else {}
            date_time = tuple(document["date_time"])
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
            return None
        return cls(path_zip, document["zip_sha256"], date_time, keys, members, stats)

    def unchanged(self, reused: Sequence[str], count: int, date_time: tuple[int, ...]) -> bool:
        """Whether a zip of ``count`` members, of which ``reused`` (in order) are reused, would
        be the previous zip byte for byte."""
        return (
            count == len(reused) == len(self.members)
            and list(reused) == list(self.members)
            and tuple(date_time) == self.date_time
        )

    def untouched(self, name: str, stat: list[int], mode: int, prepared: str) -> bool:
        """Whether ``name``'s source has the same stat (and mode, preparation) as last time."""
        key = self.keys.get(name)
        return self.stats.get(name) == stat and key is not None and key[2:] == [mode, prepared]

    def may_reuse(self, name: str, size: int) -> bool:
        """Whether a source of ``size`` bytes could match ``name``'s (worth reading it)."""
        key = self.keys.get(name)
        return key is not None and key[0] == size and name in self.members

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
        stats: Mapping[str, list[int]],
    ) -> None:
        """Record how ``path_zip`` was written, for the next run."""
        document = {
            "format": FORMAT,
            "deflate": identity,
            "date_time": list(date_time),
            "zip_sha256": sha256,
            "zip_stat": stat_key(path_zip),
            "members": dict(keys),
            "stats": dict(stats),
        }
        text = json.dumps(document, separators=(",", ":"))
        write_replacing(sidecar_path(path_zip), text.encode("utf-8"))
