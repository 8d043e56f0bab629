"""Raw deflate of zip members on many cores, with bytes that never depend on the core count.

Two backends, both run on a pool of threads started once per zip (no child processes, so
no ``fork`` from a threaded process):

- ``libdeflate`` (the default; the ``deflate`` package, a regular dependency that bundles
  its own libdeflate): whole members, one per call. Its binding releases the GIL while it
  compresses (``deflate`` >= 0.9). On shared objects it is about three times as fast as
  zlib at level 6, and smaller. It needs the member in memory, so large members are admitted
  under a memory budget. Its bytes depend on the bundled libdeflate, not on the host.
- ``zlib`` (the standard library): a member is cut into ``PIECE_SIZE`` pieces, each deflated
  on its own (zlib releases the GIL), primed with the 32 KiB before it as a dictionary and
  ended with a sync flush (the last with a final block), as pigz does. The pieces
  concatenate into one valid deflate stream. Python's ``zlib`` links the host's zlib, so
  its bytes follow the host (some distributions ship zlib-ng in its place).

The bytes depend only on the data and ``backend_identity(backend, level)``.
"""

from __future__ import annotations

import importlib.metadata
import zlib
from pathlib import Path
from typing import Any

import attrs
from packaging.version import InvalidVersion, Version

from layer_builder.archive.safe_files import open_member
from layer_builder.choices import check_choice
from layer_builder.errors import ConfigurationError

PIECE_SIZE = 1 << 20

#: A compressed piece: its deflate bytes, and the CRC-32 and length of the data it holds.
Piece = tuple[bytes | bytearray, int, int]
WINDOW = 1 << 15

#: Deflate backends, the default first.
BACKENDS = ("libdeflate", "zlib")
DEFAULT_BACKEND = BACKENDS[0]
DEFAULT_LEVEL = 6

#: Highest level of each backend (0 stores every member).
MAX_LEVEL = {"zlib": 9, "libdeflate": 12}

#: The first ``deflate`` release that lets other threads run while it compresses.
MIN_DEFLATE = "0.9"

#: The libdeflate each ``deflate`` release bundles (from its changelog). A release not listed
#: is named by its own version only: its bytes may differ, so it never reuses another's.
BUNDLED_LIBDEFLATE = {"0.9.0": "1.25"}

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


def _deflate_version(module: Any) -> str:
    version = getattr(module, "__version__", None)
    return version if isinstance(version, str) else importlib.metadata.version("deflate")


def _libdeflate() -> Any:
    try:
        import deflate
    except ImportError:
        raise ConfigurationError(
            f"the libdeflate backend needs the package deflate (>= {MIN_DEFLATE}), which is "
            f"not installed: run `python -m pip install 'deflate>={MIN_DEFLATE}'` "
            f"(a dependency of lambda-layer-builder), or choose the backend zlib"
        ) from None
    version = _deflate_version(deflate)
    try:
        too_old = Version(version) < Version(MIN_DEFLATE)
    except InvalidVersion:
        too_old = False
    if too_old:
        raise ConfigurationError(
            f"deflate {version} is too old for the libdeflate backend (it blocks other "
            f"threads while it compresses): run `python -m pip install -U "
            f"'deflate>={MIN_DEFLATE}'`, or choose the backend zlib"
        )
    return deflate


def backend_identity(backend: str, level: int) -> str:
    """What decides the compressed bytes of a member, e.g. ``libdeflate-1.25/deflate-0.9.0/
    level-6`` or ``zlib-1.2.13/level-6/piece-1MiB``: same identity, same bytes.

    Not part of it, because they never change the bytes: the worker count, the host's
    Python, and (for libdeflate, which the ``deflate`` wheel bundles) the host's zlib.
    """
    if backend == "zlib":
        return f"zlib-{zlib.ZLIB_RUNTIME_VERSION}/level-{level}/piece-{PIECE_SIZE >> 20}MiB"
    if backend == "libdeflate":
        version = _deflate_version(_libdeflate())
        bundled = BUNDLED_LIBDEFLATE.get(version)
        library = f"libdeflate-{bundled}" if bundled else "libdeflate"
        return f"{library}/deflate-{version}/level-{level}"
    _check_backend(None, None, backend)
    raise AssertionError(backend)  # pragma: no cover


def _check_backend(instance: object, _: object, value: str) -> None:
    check_choice(value, BACKENDS, "deflate backend")
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

    backend: str = attrs.field(default=DEFAULT_BACKEND, validator=_check_backend)
    level: int = attrs.field(default=DEFAULT_LEVEL, validator=_check_level)

    @property
    def identity(self) -> str:
        """What decides the compressed bytes: same identity, same bytes."""
        return backend_identity(self.backend, self.level)

    def pieces(self, size: int) -> int:
        """How many pieces a member of ``size`` bytes is deflated in (at least one)."""
        if self.backend == "libdeflate":
            return 1
        return max(1, -(-size // PIECE_SIZE))

    def piece_weight(self, size: int) -> int:
        """Bytes of memory one piece of a member of ``size`` bytes holds while in flight."""
        return size if self.backend == "libdeflate" else min(size, PIECE_SIZE)

    def compress_piece(self, path: Path, index: int, last: bool, inode: int | None = None) -> Piece:
        """Deflate piece ``index`` of the member in ``path``, as part of its one stream
        (``path`` is opened by ``open_member``: never through a link, and when ``inode`` is
        given, only if it is still that file)."""
        if self.backend == "libdeflate":
            import deflate  # checked when this Deflater was made

            with open_member(path, inode) as f:
                data = f.read()
            compressed = deflate.deflate_compress(data, self.level)
            return compressed, deflate.crc32(data), len(data)
        offset = index * PIECE_SIZE
        with open_member(path, inode) as f:
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


#: Pieces to deflate in one call: the deflater, then per piece the member's file, its inode
#: (or None), the piece index and whether it is the member's last piece. Small members travel
#: in batches, so that a pool's per-call cost is not paid per file.
PieceJob = tuple[Deflater, tuple[tuple[Path, int | None, int, bool], ...]]


def compress_job(job: PieceJob) -> list[Piece]:
    """``Deflater.compress_piece`` over a batch: one call of the pool."""
    deflater, pieces = job
    return [
        deflater.compress_piece(path, index, last, inode) for path, inode, index, last in pieces
    ]
