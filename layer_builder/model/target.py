"""What a layer is built for: a Lambda Python runtime and a CPU architecture."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

import attrs
from packaging.tags import Tag, compatible_tags, cpython_tags

from layer_builder.choices import choice_validator
from layer_builder.errors import ConfigurationError

#: Python runtimes Lambda offers, with the glibc of the Amazon Linux they run on.
RUNTIME_GLIBC: dict[str, tuple[int, int]] = {
    "3.10": (2, 26),  # Amazon Linux 2 (deprecated)
    "3.11": (2, 26),  # Amazon Linux 2
    "3.12": (2, 34),  # Amazon Linux 2023
    "3.13": (2, 34),
    "3.14": (2, 34),
}

#: Lambda's architecture names mapped to the machine names found in wheel tags.
ARCHITECTURE_MACHINE: dict[str, str] = {"x86_64": "x86_64", "arm64": "aarch64"}

# The oldest glibc each machine has manylinux tags for (aarch64 wheels start at manylinux2014).
_MIN_GLIBC_MINOR = {"x86_64": 5, "aarch64": 17}
# PEP 600 names that older wheels still carry; pip only matches the literal tags it is given.
_LEGACY_ALIASES = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}


def _check_python_version(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in RUNTIME_GLIBC:
        raise ConfigurationError(
            f"unsupported Lambda Python version {value!r}: "
            f"choose one of {', '.join(RUNTIME_GLIBC)} (e.g. --python 3.12)"
        )


#: A Lambda architecture name.
Architecture = Literal["x86_64", "arm64"]


@attrs.frozen
class LayerTarget:
    """A Lambda Python runtime and architecture, and the wheels they can load."""

    python_version: str = attrs.field(default="3.12", validator=_check_python_version)
    architecture: Architecture = attrs.field(
        default="x86_64",
        validator=choice_validator(
            tuple(ARCHITECTURE_MACHINE), "Lambda architecture", "e.g. --arch arm64"
        ),
    )

    @property
    def runtime(self) -> str:
        """The Lambda runtime identifier, e.g. ``python3.12``."""
        return f"python{self.python_version}"

    @property
    def name(self) -> str:
        """The runtime and architecture in one word, e.g. ``python3.12-arm64``: used in S3
        keys and in ``--ssm-parameter``'s ``{target}``."""
        return f"{self.runtime}-{self.architecture}"

    @property
    def machine(self) -> str:
        """The CPU name used in wheel platform tags (``x86_64`` or ``aarch64``)."""
        return ARCHITECTURE_MACHINE[self.architecture]

    @property
    def glibc(self) -> tuple[int, int]:
        """The glibc version of the runtime's operating system."""
        return RUNTIME_GLIBC[self.python_version]

    @property
    def python_tuple(self) -> tuple[int, int]:
        major, minor = self.python_version.split(".")
        return int(major), int(minor)

    @property
    def interpreter_tag(self) -> str:
        """The CPython wheel tag, e.g. ``cp312``."""
        major, minor = self.python_tuple
        return f"cp{major}{minor}"

    @property
    def description(self) -> str:
        """A short human name, e.g. ``python3.12 arm64 (manylinux glibc <= 2.34)``."""
        return f"{self.runtime} {self.architecture} (manylinux glibc <= 2.{self.glibc[1]})"

    @property
    def platform_tags(self) -> tuple[str, ...]:
        """Every manylinux platform tag the runtime accepts, newest glibc first."""
        major, newest = self.glibc
        tags: list[str] = []
        for minor in range(newest, _MIN_GLIBC_MINOR[self.machine] - 1, -1):
            tags.append(f"manylinux_{major}_{minor}_{self.machine}")
            alias = _LEGACY_ALIASES.get((major, minor))
            if alias:
                tags.append(f"{alias}_{self.machine}")
        return tuple(tags)

    @property
    def uv_python_platform(self) -> str:
        """The ``uv pip install --python-platform`` value for this runtime.

        uv knows only ``manylinux_2_17`` and ``_2_28`` ... ``_2_40``, so glibc 2.26
        (Amazon Linux 2) maps to ``_2_17``: no ``_2_24``/``_2_26`` wheel is picked, which
        is the safe side.
        """
        major, minor = self.glibc
        level = minor if minor >= 28 else 17
        return f"{self.machine}-manylinux_{major}_{level}"

    @property
    def container_platform(self) -> str:
        """The OCI platform of the runtime's machine, e.g. ``linux/arm64``."""
        return {"x86_64": "linux/amd64", "arm64": "linux/arm64"}[self.architecture]

    @property
    def build_image(self) -> str:
        """The SAM build image of this runtime and architecture."""
        return f"public.ecr.aws/sam/build-{self.runtime}:latest-{self.architecture}"

    @cached_property
    def supported_tags(self) -> tuple[Tag, ...]:
        """Every wheel tag the runtime can load, the most specific first (the order an
        installer prefers them in)."""
        platforms = self.platform_tags
        tags = list(
            cpython_tags(self.python_tuple, abis=[self.interpreter_tag], platforms=platforms)
        )
        tags += compatible_tags(self.python_tuple, self.interpreter_tag, platforms)
        return tuple(tags)

    @cached_property
    def _supported_tags(self) -> frozenset[Tag]:
        return frozenset(self.supported_tags)

    def accepts(self, tag: Tag) -> bool:
        """Whether a wheel carrying ``tag`` can be loaded by this runtime."""
        return tag in self._supported_tags
