"""A reproducible, parallel zip writer: same files in, same bytes out, on any number of cores.

Entries are written in sorted order with a fixed timestamp and normalised permissions, so
the archive depends only on file names, contents, the executable bit and the ``Deflater``
(backend, level). Members are deflated on a pool of threads started once per zip (whole members
for libdeflate, pieces for zlib: see ``archive.deflate``) and written in order; a bounded amount
of work is in flight, so memory stays flat whatever the tree. A previous zip written by this
module is reused: members whose content is unchanged are copied compressed, not compressed
again (see ``layer_builder.archive.reuse``). The tree must not change while it is being zipped.
"""

from __future__ import annotations

import itertools
import os
import stat
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import attrs

from layer_builder.archive import zipformat
from layer_builder.archive.crc import crc32_combine
from layer_builder.archive.deflate import (
    DEFAULT_BACKEND,
    Deflater,
    Piece,
    PieceJob,
    already_compressed,
    compress_job,
)
from layer_builder.archive.hashing import sha256_file
from layer_builder.archive.parallel import ordered_map, shutting_down, usable_cpus
from layer_builder.archive.reuse import ReuseIndex, member_key, stat_key
from layer_builder.archive.safe_files import (
    make_partial_dir,
    open_member,
    remove_entry,
    replacing,
)
from layer_builder.archive.zipformat import DEFLATED, STORED, Entry
from layer_builder.errors import PackageError

#: The earliest time a zip entry can hold; used when SOURCE_DATE_EPOCH is not set.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

#: Bytes of file data that compression holds in flight at most (a larger member runs alone).
MEMORY_BUDGET = 64 << 20

#: A compression call takes pieces until it holds this many bytes or files.
BATCH_BYTES = 1 << 20
BATCH_FILES = 64


def fixed_date_time() -> tuple[int, int, int, int, int, int]:
    """The entry timestamp: ``SOURCE_DATE_EPOCH`` when set (reproducible-builds.org), else 1980."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return ZIP_EPOCH
    moment = time.gmtime(max(int(epoch), 315532800))  # zip cannot store times before 1980
    return moment[:6]


@attrs.frozen
class Preparer:
    """Turns a source file into the content to zip (e.g. a stripped copy); ``key`` names the
    transformation, so that reuse never mixes prepared and unprepared content."""

    key: str
    run: Callable[[Path, Path], None] = attrs.field(eq=False)


@attrs.frozen
class ZipMember:
    """A file to write as ``arcname``; ``mode`` is normalised to 0o755 or 0o644."""

    arcname: str
    source: Path
    mode: int = 0o644
    prepare: Preparer | None = None

    @classmethod
    def from_file(cls, arcname: str, source: Path, prepare: Preparer | None = None) -> ZipMember:
        """A member holding ``source``'s bytes, executable in the zip when the file is."""
        executable = source.stat().st_mode & stat.S_IXUSR
        return cls(arcname, source, 0o755 if executable else 0o644, prepare)


@attrs.frozen
class WrittenMember:
    """One member of the written zip: sizes before and after compression."""

    name: str
    size: int
    compressed_size: int
    reused: bool


@attrs.frozen
class ZipReport:
    """What ``write_reproducible_zip`` wrote."""

    members: tuple[WrittenMember, ...]
    sha256: str
    zip_size: int

    @property
    def reused(self) -> int:
        """How many members were copied from the previous zip instead of deflated again."""
        return sum(m.reused for m in self.members)


@attrs.frozen
class _Plan:
    member: ZipMember
    content: Path
    size: int
    crc: int | None  # None: computed while writing, from the data compressed or copied
    method: int
    key: list[object] | None  # None: computed from the CRC-32 found while writing
    stat: list[int]
    reuse: zipformat.StoredMember | None = None

    @property
    def inode(self) -> int | None:
        """The inode the content must still have when it is read (None: a prepared copy)."""
        return self.stat[2] if self.content == self.member.source else None


def _crc_file(path: Path, inode: int | None = None) -> tuple[int, int]:
    crc = size = 0
    with open_member(path, inode) as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return size, crc


def _check_unchanged(plan: _Plan, length: int, crc: int) -> None:
    if length != plan.size or (plan.crc is not None and crc != plan.crc):
        raise PackageError(
            f"{plan.content} changed while it was being zipped ({length:,} bytes read, "
            f"{plan.size:,} expected): leave the build tree alone while packaging, then retry"
        )


class _Writer:
    """One zip being written: plans the members, compresses them, writes them in order."""

    def __init__(
        self, deflater: Deflater, workers: int, previous: ReuseIndex | None, scratch: Path | None
    ):
        self.deflater = deflater
        self.workers = workers
        self.previous = previous
        #: Prepared copies of members (e.g. stripped); only when a member has a preparer.
        self.scratch = scratch
        self.window = 2 * workers + 2

    def quick_plan(self, member: ZipMember) -> _Plan | None:
        """The plan of a member whose source is untouched since the previous zip (by its
        stat), without reading it; None when it must be read."""
        if self.previous is None:
            return None
        prepared = member.prepare.key if member.prepare else ""
        stat = stat_key(member.source)
        if not self.previous.untouched(member.arcname, stat, member.mode, prepared):
            return None
        key = self.previous.keys[member.arcname]
        stored = self.previous.reusable(member.arcname, key)
        if stored is None:
            return None
        return _Plan(member, member.source, stored.size, stored.crc, stored.method, key, stat,
                     stored)  # fmt: skip

    def plan_batch(self, members: Sequence[ZipMember]) -> list[_Plan]:
        """``plan`` of each member (those ``quick_plan`` could not plan)."""
        return [self.plan(member) for member in members]

    def plan(self, member: ZipMember) -> _Plan:
        """The plan of a member whose source must be read (``quick_plan`` gave None)."""
        stat = stat_key(member.source)
        if member.prepare is None and not (
            self.previous is not None and self.previous.may_reuse(member.arcname, stat[0])
        ):
            # Nothing to compare with: the CRC-32 comes from the writing, not a reading.
            store = stat[0] == 0 or self.deflater.level == 0 or already_compressed(member.arcname)
            method = STORED if store else DEFLATED
            return _Plan(member, member.source, stat[0], None, method, None, stat)
        size, crc = _crc_file(member.source, stat[2])
        key = member_key(size, crc, member.mode, member.prepare.key if member.prepare else "")
        if self.previous is not None:
            stored = self.previous.reusable(member.arcname, key)
            if stored is not None:
                return _Plan(member, member.source, stored.size, stored.crc, stored.method, key,
                             stat, stored)  # fmt: skip
        content = member.source
        if member.prepare is not None:
            assert self.scratch is not None  # made when any member has a preparer
            handle, name = tempfile.mkstemp(dir=self.scratch, suffix=f"-{member.source.name}")
            os.close(handle)
            content = Path(name)
            member.prepare.run(member.source, content)
            size, crc = _crc_file(content)
        store = size == 0 or self.deflater.level == 0 or already_compressed(member.arcname)
        method = STORED if store else DEFLATED
        return _Plan(member, content, size, crc, method, key, stat)

    def jobs(self, plans: Sequence[_Plan]) -> Iterator[tuple[PieceJob, int]]:
        """The pieces to compress, in writing order, in batches of about ``BATCH_BYTES``."""
        batch: list[tuple[Path, int | None, int, bool]] = []
        weight = 0
        for plan in plans:
            if plan.reuse is None and plan.method == DEFLATED:
                count = self.deflater.pieces(plan.size)
                for index in range(count):
                    batch.append((plan.content, plan.inode, index, index == count - 1))
                    weight += self.deflater.piece_weight(plan.size)
                    if weight >= BATCH_BYTES or len(batch) >= BATCH_FILES:
                        yield (self.deflater, tuple(batch)), weight
                        batch, weight = [], 0
        if batch:
            yield (self.deflater, tuple(batch)), weight

    def write(self, plans: Sequence[_Plan], out: BinaryIO, dos: tuple[int, int]) -> list[Entry]:
        # Threads, started on the first piece (none when every member is reused); both
        # backends release the GIL while they compress.
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="layer-zip")
        with shutting_down(pool):
            return self._write_all(plans, out, dos, pool)

    def _write_all(
        self, plans: Sequence[_Plan], out: BinaryIO, dos: tuple[int, int], pool: Executor
    ) -> list[Entry]:
        budget = MEMORY_BUDGET
        batches = ordered_map(pool, compress_job, self.jobs(plans), self.window, budget)
        compressed = (piece for batch in batches for piece in batch)
        old = self.previous.path_zip.open("rb") if self.previous is not None else None
        entries = []
        try:
            for plan in plans:
                entries.append(self._write_one(plan, out, dos, compressed, old))
        finally:
            if old is not None:
                old.close()
        return entries

    def _write_one(
        self,
        plan: _Plan,
        out: BinaryIO,
        dos: tuple[int, int],
        compressed: Iterator[Piece],
        old: BinaryIO | None,
    ) -> Entry:
        offset = out.tell()
        entry = Entry(plan.member.arcname, plan.member.mode, plan.method, plan.crc or 0,
                      plan.size, plan.size, offset)  # fmt: skip
        if plan.reuse is not None and old is not None:
            entry = attrs.evolve(entry, compressed_size=plan.reuse.compressed_size)
            out.write(zipformat.local_header(entry, dos))
            old.seek(zipformat.data_offset(old, plan.reuse))
            zipformat.copy_data(
                old, out, plan.reuse.compressed_size, f"the previous {self.previous_name}"
            )
            return entry
        header = zipformat.local_header(entry, dos)
        out.write(header)
        if plan.method == DEFLATED:
            written = length = crc = 0
            for _ in range(self.deflater.pieces(plan.size)):
                data, piece_crc, piece_length = next(compressed)
                out.write(data)
                written += len(data)
                crc = crc32_combine(crc, piece_crc, piece_length)
                length += piece_length
            _check_unchanged(plan, length, crc)
            entry = attrs.evolve(entry, crc=crc)
            if written < plan.size:
                zipformat.patch_header(out, offset, zipformat.CRC_OFFSET, crc, written)
                return attrs.evolve(entry, compressed_size=written)
            # Deflate did not pay: store the member as it is, like zip(1) does.
            out.seek(offset + len(header))
            out.truncate()
            entry = attrs.evolve(entry, method=STORED)
            zipformat.patch_header(
                out, offset, zipformat.METHOD_OFFSET, STORED.to_bytes(2, "little")
            )
        with open_member(plan.content, plan.inode) as src:
            crc = zipformat.copy_data(src, out, plan.size, str(plan.content))
        _check_unchanged(plan, plan.size, crc)
        zipformat.patch_header(out, offset, zipformat.CRC_OFFSET, crc)
        return attrs.evolve(entry, crc=crc)

    @property
    def previous_name(self) -> str:
        return str(self.previous.path_zip) if self.previous else "zip"


def _as_members(entries: Sequence[tuple[str, Path]] | Sequence[ZipMember]) -> list[ZipMember]:
    members = [e if isinstance(e, ZipMember) else ZipMember.from_file(*e) for e in entries]
    members.sort(key=lambda m: m.arcname)
    for before, after in itertools.pairwise(members):
        if before.arcname == after.arcname:
            raise PackageError(
                f"two files would be {after.arcname} in the zip ({before.source} and "
                f"{after.source}): a zip member name must be unique"
            )
    return members


def write_reproducible_zip(
    entries: Sequence[tuple[str, Path]] | Sequence[ZipMember],
    path_zip: Path,
    compresslevel: int = 6,
    *,
    backend: str = DEFAULT_BACKEND,
    workers: int | None = None,
    incremental: bool = True,
    before_write: Callable[[Sequence[tuple[str, int]]], None] | None = None,
    comment: bytes = b"",
    on_write: Callable[[], None] | None = None,
) -> ZipReport:
    """Write ``(arcname, source file)`` pairs (or ``ZipMember``) to ``path_zip``, atomically.

    The zip is written to a partial file of its own next to its destination (created
    exclusively: never another process's, never through a link) and renamed into place, so a
    failure or an interruption leaves the previous zip (or none), never a truncated one. With
    ``incremental``, members unchanged since the previous zip at ``path_zip`` are copied from
    it; when every member is unchanged the previous zip is kept as it is. ``before_write``
    sees each member's name and final size (after preparation) before any byte is written,
    and may raise to stop. ``comment`` becomes the archive comment (part of the bytes).
    ``on_write`` is called once it is known that a new zip is written (not when the previous
    one is kept), before its first byte: work on the same files can start alongside.
    """
    deflater = Deflater(backend=backend, level=compresslevel)
    members = _as_members(entries)
    workers = workers or usable_cpus()
    previous = ReuseIndex.load(path_zip, deflater.identity) if incremental else None
    path_zip.parent.mkdir(parents=True, exist_ok=True)
    scratch = make_partial_dir(path_zip) if any(m.prepare for m in members) else None
    writer = _Writer(deflater, workers, previous, scratch)
    try:
        scan = ThreadPoolExecutor(workers, thread_name_prefix="layer-zip-scan")
        with shutting_down(scan) as pool:
            quick = [writer.quick_plan(m) for m in members]  # no thread hand-off per file
            rest = [m for m, q in zip(members, quick, strict=True) if q is None]
            batches = [(rest[i : i + BATCH_FILES], 0) for i in range(0, len(rest), BATCH_FILES)]
            planned = (
                plan
                for batch in ordered_map(pool, writer.plan_batch, batches, 4 * workers)
                for plan in batch
            )
            plans = [q if q is not None else next(planned) for q in quick]
        if before_write is not None:
            before_write([(p.member.arcname, p.size) for p in plans])
        date_time = fixed_date_time()
        reused = [p.member.arcname for p in plans if p.reuse is not None]
        if (
            previous is not None
            and previous.unchanged(reused, len(plans), date_time)
            and zipformat.read_comment(path_zip) == comment
        ):
            stats = {p.member.arcname: p.stat for p in plans}
            if stats != previous.stats:  # read again: remember them untouched for next time
                keys = {p.member.arcname: p.key or [] for p in plans}  # all reused: all set
                ReuseIndex.save(path_zip, deflater.identity, previous.sha256, keys, date_time,
                                stats)  # fmt: skip
            return _report_unchanged(plans, previous)
        if on_write is not None:
            on_write()
        # A partial file of our own (never one another process writes, never through a
        # link), renamed over path_zip once complete, deleted if anything stops the writing.
        with replacing(path_zip) as out:
            dos = zipformat.dos_date_time(date_time)
            entries_written = writer.write(plans, out, dos)
            zipformat.write_central_directory(out, entries_written, dos, comment)
    finally:
        if scratch is not None:
            remove_entry(scratch)
    report = ZipReport(
        members=tuple(
            WrittenMember(e.name, e.size, e.compressed_size, p.reuse is not None)
            for e, p in zip(entries_written, plans, strict=True)
        ),
        sha256=sha256_file(path_zip),
        zip_size=path_zip.stat().st_size,
    )
    keys = {
        p.member.arcname: p.key or member_key(e.size, e.crc, p.member.mode, "")
        for e, p in zip(entries_written, plans, strict=True)
    }
    stats = {p.member.arcname: p.stat for p in plans}
    ReuseIndex.save(path_zip, deflater.identity, report.sha256, keys, date_time, stats)
    return report


def _report_unchanged(plans: Sequence[_Plan], previous: ReuseIndex) -> ZipReport:
    members = tuple(
        WrittenMember(p.member.arcname, p.size, p.reuse.compressed_size if p.reuse else 0, True)
        for p in plans
    )
    return ZipReport(members, previous.sha256, previous.path_zip.stat().st_size)
