"""Whether an installed tree is pure Python, so that one zip of it serves every runtime and
both architectures (a universal layer).

A tree is pure when every distribution in it was installed from a wheel tagged
``py3-none-any`` or ``py2.py3-none-any`` (its ``*.dist-info/WHEEL``) and no file in it is
compiled code (``.so``, ``.pyd``, ``.dylib``): a pure wheel may still carry a prebuilt
library, and a file may be in no distribution's ``RECORD``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from layer_builder.model.distributions import InstalledDistribution

#: The wheel tags that load on any Python 3 and any CPU.
PURE_TAGS = frozenset({"py3-none-any", "py2.py3-none-any"})

_COMPILED = re.compile(r"\.(so|pyd|dylib)(\.[0-9.]+)?$")


def wheel_tags(dist_info: Path) -> tuple[str, ...]:
    """The ``Tag:`` lines of ``<dist_info>/WHEEL`` (empty when it has none or is missing);
    header names are case-insensitive, as in any email-style metadata."""
    try:
        text = (dist_info / "WHEEL").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return tuple(
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.lower().startswith("tag:")
    )


def is_compiled(relative: str) -> bool:
    """``fastcalc/_speedups.cpython-312-x86_64-linux-gnu.so``, ``libz.so.1``, ``x.pyd``."""
    return _COMPILED.search(relative) is not None


def impurity(dir_python: Path, distributions: Iterable[InstalledDistribution]) -> str | None:
    """Why the tree at ``dir_python`` is not pure Python, in a few words naming the first
    culprit (None when it is pure)."""
    for dist in distributions:
        tags = wheel_tags(dir_python / dist.dist_info)
        if not tags:
            return f"{dist.name} {dist.version} was not installed from a wheel (no wheel tag)"
        foreign = [tag for tag in tags if tag not in PURE_TAGS]
        if foreign:
            return f"{dist.name} {dist.version} is built for {foreign[0]}"
    for directory, folders, names in os.walk(dir_python):
        folders.sort()
        for name in sorted(names):
            if is_compiled(name):
                relative = Path(directory, name).relative_to(dir_python).as_posix()
                return f"{relative} is compiled code"
    return None
