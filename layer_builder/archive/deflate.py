"""Raw deflate of zip members on many cores, with bytes that never depend on the core count.

Two backends:

- ``zlib`` (standard library): a member is cut into ``PIECE_SIZE`` pieces, each deflated on
  its own in a thread (zlib releases the GIL), primed with the 32 KiB before it as a
  dictionary and ended with a sync flush (the last with a final block), as pigz does. The
  pieces concatenate into one valid deflate stream.
- ``libdeflate`` (the ``deflate`` package, extra ``lambda-layer-builder[fast]``): whole members
  in worker processes (its binding holds the GIL). About twice as fast as zlib at level 6 on
  shared objects, and smaller; it needs the member in memory, so large members are admitted
  under a memory budget.

The bytes depend only on the data, the level, the piece size and the backend with its version.
"""

from __future__ import annotations

import importlib.metadata
import multiprocessing
import zlib
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from layer_builder.errors import ConfigurationError

PIECE_SIZE = 1 << 20

#: A compressed piece: its deflate bytes, and the CRC-32 and length of the data it holds.
Piece = tuple[bytes, int, int]
WINDOW = 1 << 15

#: Deflate backends; ``zlib`` is the default.
BACKENDS = ("zlib", "libdeflate")

#: Highest level of each backend (0 stores every member).
MAX_LEVEL = {"zlib": 9, "libdeflate": 12}

#: Suffixes of formats that are compressed already: stored as they are.
COMPRESSED_SUFFIXES = frozenset(
    {
        *(".7z", ".br", ".bz2", ".gif", ".gz", ".jar", ".jpeg", ".jpg", ".lz4", ".lzma"),
        *(".mp3", ".mp4", ".png", ".tgz", ".webp", ".whl", ".woff", ".woff2", ".xz", ".zip"),
        ".zst",
    }
)


def already_compressed(name: str) -> bool:
    """Whether deflating ``name`` again is wasted work (by its suffix)."""
    dot = name.rfind(".")
    return dot > name.rfind("/") and name[dot:].lower() in COMPRESSED_SUFFIXES


def _libdeflate() -> Any:
    try:
        import deflate
    except ImportError:
        raise ConfigurationError(
            "the libdeflate backend is not installed: pip install "
            "'lambda-layer-builder[fast]' (or the package deflate), or use the backend zlib"
        ) from None
    return deflate


def _check_backend(instance: Deflater, _: attrs.Attribute[str], value: str) -> None:
    if value not in BACKENDS:
        raise ConfigurationError(
            f"unknown deflate backend {value!r}: choose {' or '.join(BACKENDS)}"
        )
    if value == "libdeflate":
        _libdeflate()


def _check_level(instance: Deflater, _: attrs.Attribute[int], value: int) -> None:
    highest = MAX_LEVEL.get(instance.backend, 9)
    if not 0 <= value <= highest:
        raise ConfigurationError(
            f"compression level {value} is out of range for {instance.backend}: "
            f"choose 0 (store) to {highest}"
        )


@attrs.frozen
class Deflater:
    """A deflate backend and level (0 stores every member); compresses pieces of members."""

    backend: str = attrs.field(default="zlib", validator=_check_backend)
    level: int = attrs.field(default=6, validator=_check_level)

    @property
    def identity(self) -> str:
        """What decides the compressed bytes: same identity, same bytes."""
        if self.backend == "zlib":
            return f"zlib {zlib.ZLIB_RUNTIME_VERSION} level {self.level} piece {PIECE_SIZE}"
        return f"libdeflate {importlib.metadata.version('deflate')} level {self.level}"

    def pieces(self, size: int) -> int:
        """How many pieces a member of ``size`` bytes is deflated in (at least one)."""
        if self.backend == "libdeflate":
            return 1
        return max(1, -(-size // PIECE_SIZE))

    def piece_weight(self, size: int) -> int:
        """Bytes of memory one piece of a member of ``size`` bytes holds while in flight."""
        return size if self.backend == "libdeflate" else min(size, PIECE_SIZE)

    def make_pool(self, workers: int) -> Executor:
        """Where ``compress_piece`` runs: threads for zlib, processes for libdeflate."""
        if self.backend == "zlib":
            return ThreadPoolExecutor(workers, thread_name_prefix="layer-zip")
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        return ProcessPoolExecutor(workers, mp_context=context)

    def compress_piece(self, path: Path, index: int, last: bool) -> Piece:
        """Deflate piece ``index`` of the member in ``path``, as part of its one stream."""
        if self.backend == "libdeflate":
            data = path.read_bytes()
            compressed: bytes = _libdeflate().deflate_compress(data, self.level)
            return compressed, zlib.crc32(data), len(data)
        offset = index * PIECE_SIZE
        with path.open("rb") as f:
            start = max(0, offset - WINDOW)
            f.seek(start)
            dictionary = f.read(offset - start)
            data = f.read(PIECE_SIZE)
        if dictionary:
            compressor = zlib.compressobj(self.level, zlib.DEFLATED, -15, zdict=dictionary)
        else:
            compressor = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        out = compressor.compress(data) + compressor.flush(
            zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH
        )
        return out, zlib.crc32(data), len(data)


#: Pieces to deflate in one call: the deflater, then per piece the member's file, the piece
#: index and whether it is the member's last piece. Small members travel in batches, so that
#: a pool's per-call cost is not paid per file.
PieceJob = tuple[Deflater, tuple[tuple[Path, int, bool], ...]]


def compress_job(job: PieceJob) -> list[Piece]:
    """``Deflater.compress_piece`` over a batch, as a function a process pool can pickle."""
    deflater, pieces = job
    return [deflater.compress_piece(path, index, last) for path, index, last in pieces]
