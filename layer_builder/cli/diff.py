"""The human lines of a layer diff (``plan``, ``run``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from layer_builder.steps.package.size_report import format_size


def signed_size(size: int) -> str:
    """``+1,234 bytes``, ``-2.5 MB``: a change in size, in bytes while under a kilobyte."""
    sign = "+" if size >= 0 else "-"
    return f"{sign}{abs(size):,} bytes" if abs(size) < 1000 else sign + format_size(abs(size))


def diff_lines(diff: Mapping[str, Any]) -> list[str]:
    """Human lines for a diff's ``to_json()`` document."""
    version = diff["compared_with"]
    against = "first version" if version is None else f"against version {version}"
    if not diff["known"]:
        return [f"{against}: {diff['note']}"]
    lines = [f"+ {d['name']} {d['version'] or '(version known once built)'}" for d in diff["added"]]
    lines += [f"- {d['name']} {d['version']}" for d in diff["removed"]]
    lines += [f"~ {d['name']} {d['old_version']} -> {d['new_version']}" for d in diff["changed"]]
    if version is not None and not lines:
        lines.append("no distribution added, removed or changed")
    lines = [f"{against}:", *(f"  {line}" for line in lines)]
    unzipped, zipped = diff["unzipped_size_change"], diff["zipped_size_change"]
    if unzipped is not None and zipped is not None:
        lines.append(f"  size: {signed_size(unzipped)} unzipped, {signed_size(zipped)} zipped")
    if diff["note"]:
        lines.append(f"  ({diff['note']})")
    return lines
