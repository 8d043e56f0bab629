"""Whether an installed tree is pure Python, so that one zip of it serves every runtime and
both architectures (a universal layer).

A tree is pure when every distribution in it was installed from a pure wheel and no file in
it is compiled code (``.so``, ``.pyd``, ``.dylib``): a pure wheel may still carry a prebuilt
library, and a file may be in no distribution's ``RECORD``. A wheel is pure when every tag
its ``*.dist-info/WHEEL`` lists is ``*-none-any`` and one of them is for Python 3: ``six``
lists ``py2-none-any`` and ``py3-none-any`` (one ``Tag:`` line each), some generators one
compressed ``py2.py3-none-any``. Which Python 3 a tag such as ``py38`` or ``cp312`` allows
is each target's build's concern: it checks the tags against its runtime.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.tags import Tag, parse_tag

from layer_builder.model.distributions import InstalledDistribution

_COMPILED = re.compile(r"\.(so|pyd|dylib)(\.[0-9.]+)?$")

#: The interpreter part of a tag for Python 3: ``py3``, ``py38``, ``cp312``.
_PYTHON3 = re.compile(r"^(py|cp)3[0-9]*$")


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


def _parsed(tag: str) -> frozenset[Tag]:
    try:
        return parse_tag(tag)
    except ValueError:  # not interpreter-abi-platform: no tag we know to be pure
        return frozenset({Tag(tag, "?", "?")})


def impure_tag(tags: Sequence[str]) -> str | None:
    """Why a wheel tagged ``tags`` (its ``Tag:`` lines) is not pure Python, naming the tag
    to blame (None when it is: every tag ``*-none-any``, one of them for Python 3)."""
    if not tags:
        return "was not installed from a wheel (no wheel tag)"
    for line in tags:
        if any((t.abi, t.platform) != ("none", "any") for t in _parsed(line)):
            return f"is built for {line}"
    if not any(_PYTHON3.match(t.interpreter) for line in tags for t in _parsed(line)):
        return f"is not for Python 3 ({', '.join(tags)})"
    return None


def is_compiled(relative: str) -> bool:
    """``fastcalc/_speedups.cpython-312-x86_64-linux-gnu.so``, ``libz.so.1``, ``x.pyd``."""
    return _COMPILED.search(relative) is not None


def impurity(dir_python: Path, distributions: Iterable[InstalledDistribution]) -> str | None:
    """Why the tree at ``dir_python`` is not pure Python, in a few words naming the first
    culprit (None when it is pure)."""
    for dist in distributions:
        problem = impure_tag(wheel_tags(dir_python / dist.dist_info))
        if problem is not None:
            return f"{dist.name} {dist.version} {problem}"
    for directory, folders, names in os.walk(dir_python):
        folders.sort()
        for name in sorted(names):
            if is_compiled(name):
                relative = Path(directory, name).relative_to(dir_python).as_posix()
                return f"{relative} is compiled code"
    return None
