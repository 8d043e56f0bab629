"""What a build changes in the layer against the version it is compared with: distributions
added, removed and changed (old -> new version), and the change in size.

``run`` compares the real contents of the new zip with the old version's record
(``contents.json``); ``plan``, which builds nothing, compares the versions the manifest pins
and cannot know sizes. A version without a record (published by an older layer_builder) gives
a diff that says so instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from layer_builder.model.contents import LayerContents


@attrs.frozen
class VersionChange:
    """One distribution added (``old`` None), removed (``new`` None) or changed."""

    name: str
    old: str | None
    new: str | None


@attrs.frozen
class LayerDiff:
    """The changes of a build against version ``compared_with`` (None: the first version)."""

    compared_with: int | None
    #: False when the compared version's contents are unknown (no ``contents.json``).
    known: bool = True
    added: tuple[VersionChange, ...] = ()
    removed: tuple[VersionChange, ...] = ()
    changed: tuple[VersionChange, ...] = ()
    #: Bytes more (or fewer) than the compared version; None when unknown.
    unzipped_size_change: int | None = None
    zipped_size_change: int | None = None
    #: What is not known, and why.
    note: str | None = None

    @classmethod
    def unchanged(cls, version: int) -> LayerDiff:
        """The diff of a build that version ``version`` already holds (same fingerprint)."""
        return cls(version, unzipped_size_change=0, zipped_size_change=0)

    @classmethod
    def unrecorded(cls, version: int) -> LayerDiff:
        """The diff against a version that kept no record of its contents."""
        return cls(
            version,
            known=False,
            note=(
                f"no record of version {version}'s contents (published by an older "
                f"layer-builder, or by something else)"
            ),
        )

    @property
    def empty(self) -> bool:
        """Whether nothing was added, removed or changed."""
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        """The diff as ``--json`` prints it."""
        return {
            "compared_with": self.compared_with,
            "known": self.known,
            "added": [{"name": c.name, "version": c.new} for c in self.added],
            "removed": [{"name": c.name, "version": c.old} for c in self.removed],
            "changed": [
                {"name": c.name, "old_version": c.old, "new_version": c.new} for c in self.changed
            ],
            "unzipped_size_change": self.unzipped_size_change,
            "zipped_size_change": self.zipped_size_change,
            "note": self.note,
        }


Changes = tuple[tuple[VersionChange, ...], tuple[VersionChange, ...], tuple[VersionChange, ...]]


def _changes(
    old: Mapping[str, tuple[str, str]], new: Mapping[str, tuple[str, str | None]], removals: bool
) -> Changes:
    """``old``/``new``: ``{canonical name: (name, version)}``; a None new version is unknown."""
    added = [VersionChange(new[k][0], None, new[k][1]) for k in sorted(new) if k not in old]
    removed = [VersionChange(old[k][0], old[k][1], None) for k in sorted(old) if k not in new]
    changed = [
        VersionChange(new[k][0], old[k][1], new[k][1])
        for k in sorted(new)
        if k in old and new[k][1] is not None and new[k][1] != old[k][1]
    ]
    return tuple(added), tuple(removed) if removals else (), tuple(changed)


def diff_contents(
    compared_with: int | None, old: LayerContents | None, new: LayerContents
) -> LayerDiff:
    """``new`` against version ``compared_with``, whose contents are ``old`` (None: the
    version has no record, or there is no version yet when ``compared_with`` is None)."""
    if compared_with is not None and old is None:
        return LayerDiff.unrecorded(compared_with)
    before = old.versions() if old is not None else {}
    added, removed, changed = _changes(before, new.versions(), removals=True)
    return LayerDiff(
        compared_with,
        added=added,
        removed=removed,
        changed=changed,
        unzipped_size_change=new.unzipped_size - (old.unzipped_size if old else 0),
        zipped_size_change=new.zip_size - (old.zip_size if old else 0),
    )


def diff_pins(
    compared_with: int | None,
    old: LayerContents | None,
    pins: Mapping[str, tuple[str, str | None]] | None,
    complete: bool = True,
    why: str = "",
) -> LayerDiff:
    """The versions a manifest pins (``{canonical name: (name, version or None)}``; None:
    unknown, because ``why``) against version ``compared_with``; sizes are known only once
    built. ``complete`` says the pins are every distribution the build installs (a lock), so
    that the others are removed."""
    if compared_with is not None and old is None:
        return LayerDiff.unrecorded(compared_with)
    if pins is None:
        return LayerDiff(
            compared_with, known=False, note=f"the changes are known once built ({why})"
        )
    notes = ["sizes are known once built"]
    if not complete:
        notes.append(f"{why}, so what it removes is known once built")
    before = old.versions() if old is not None else {}
    added, removed, changed = _changes(before, pins, complete)
    return LayerDiff(
        compared_with, added=added, removed=removed, changed=changed, note="; ".join(notes)
    )
