"""Check that every installed distribution was built for the layer's target.

Installers are told the target's platform, but a source build, a stray ``--find-links``
wheel or a tool's bug can still put a host wheel in the tree; the ``Tag:`` lines of each
``*.dist-info/WHEEL`` say what a distribution was built for.
"""

from __future__ import annotations

from pathlib import Path

import attrs
from packaging.tags import Tag, parse_tag

from layer_builder.errors import IncompatibleWheelError
from layer_builder.model.purity import wheel_tags
from layer_builder.model.target import LayerTarget


@attrs.frozen
class WheelTags:
    """The tags one installed distribution's ``WHEEL`` file declares."""

    dist_info: str
    tags: tuple[str, ...]

    @property
    def name(self) -> str:
        """The distribution's name."""
        return self.dist_info.split("-")[0]

    def parsed(self) -> frozenset[Tag]:
        """The wheel tags its ``WHEEL`` file lists."""
        found: set[Tag] = set()
        for tag in self.tags:
            found |= parse_tag(tag)
        return frozenset(found)


def read_wheel_tags(dir_python: Path) -> tuple[WheelTags, ...]:
    """The ``Tag:`` lines of every ``*.dist-info/WHEEL`` in ``dir_python``."""
    return tuple(
        WheelTags(wheel.parent.name, wheel_tags(wheel.parent))
        for wheel in sorted(dir_python.glob("*.dist-info/WHEEL"))
    )


def _accepted(tag: Tag, target: LayerTarget, built_natively: bool) -> bool:
    if target.accepts(tag):
        return True
    # A wheel built inside the runtime's own image is tagged plain ``linux_<machine>``.
    if built_natively and tag.platform == f"linux_{target.machine}":
        as_manylinux = Tag(tag.interpreter, tag.abi, f"manylinux_2_17_{target.machine}")
        return target.accepts(as_manylinux)
    return False


def incompatible_wheels(
    dir_python: Path, target: LayerTarget, built_natively: bool = False
) -> tuple[WheelTags, ...]:
    """The distributions none of whose tags the target accepts (no ``WHEEL``: skipped)."""
    return tuple(
        wheel
        for wheel in read_wheel_tags(dir_python)
        if wheel.tags and not any(_accepted(tag, target, built_natively) for tag in wheel.parsed())
    )


def check_wheel_tags(dir_python: Path, target: LayerTarget, built_natively: bool = False) -> None:
    """Raise ``IncompatibleWheelError`` naming each distribution the target cannot load.

    ``built_natively``: the tree was installed inside the runtime's build image, where
    ``linux_<machine>`` wheels are built for the right glibc.
    """
    offenders = incompatible_wheels(dir_python, target, built_natively)
    if offenders:
        raise IncompatibleWheelError(
            [(wheel.name, wheel.tags) for wheel in offenders], target.description
        )
