"""A reproducible zip writer: same files in, same bytes out.

Entries are written in sorted order with a fixed timestamp and normalised permissions, so
the archive depends only on file names, contents and the executable bit.
"""

from __future__ import annotations

import os
import stat
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

#: The earliest time a zip entry can hold; used when SOURCE_DATE_EPOCH is not set.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def fixed_date_time() -> tuple[int, int, int, int, int, int]:
    """The entry timestamp: ``SOURCE_DATE_EPOCH`` when set (reproducible-builds.org), else 1980."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return ZIP_EPOCH
    moment = time.gmtime(max(int(epoch), 315532800))  # zip cannot store times before 1980
    return moment[:6]


def _entry(arcname: str, source: Path, date_time: tuple[int, int, int, int, int, int],
           compresslevel: int) -> zipfile.ZipInfo:  # fmt: skip
    info = zipfile.ZipInfo(arcname, date_time=date_time)
    executable = source.stat().st_mode & stat.S_IXUSR
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.create_system = 3  # unix, so the permissions above are honoured on extraction
    info.compress_type = zipfile.ZIP_DEFLATED
    info._compresslevel = compresslevel  # type: ignore[attr-defined]  # per-entry level
    return info


def write_reproducible_zip(
    entries: Sequence[tuple[str, Path]], path_zip: Path, compresslevel: int = 6
) -> None:
    """Write ``(arcname, source file)`` pairs to ``path_zip``, atomically.

    The zip is written next to its destination and renamed into place, so a failure leaves
    the previous zip (or none), never a truncated one.
    """
    date_time = fixed_date_time()
    partial = path_zip.with_name(path_zip.name + ".partial")
    path_zip.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
            for arcname, source in sorted(entries):
                info = _entry(arcname, source, date_time, compresslevel)
                with source.open("rb") as src, zf.open(info, "w") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
        partial.replace(path_zip)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
