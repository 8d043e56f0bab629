"""What a layer is built for: a Lambda Python runtime and a CPU architecture."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Literal, cast

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
        """The Python version as ``(3, 12)``."""
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


def marker_environment(target: LayerTarget, extra: str = "") -> dict[str, str]:
    """PEP 508 marker values of the Lambda runtime ``target`` (Amazon Linux, CPython)."""
    version = target.python_version
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{version}.0",
        "os_name": "posix",
        "platform_machine": target.machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{version}.0",
        "python_version": version,
        "sys_platform": "linux",
        "extra": extra,
    }


# "3.12/arm64", "python3.12/arm64", "python3.12-arm64" (a target's name) or "3.12".
_TARGET_TEXT = re.compile(r"(?:python)?(?P<python>\d+\.\d+)(?:[/-](?P<arch>[A-Za-z0-9_]+))?")


def parse_target(text: str) -> LayerTarget:
    """``3.12/arm64`` (also ``python3.12-arm64``, a target's name; ``3.12`` alone is x86_64)
    -> a ``LayerTarget``."""
    match = _TARGET_TEXT.fullmatch(text.strip())
    if match is None:
        raise ConfigurationError(
            f"invalid target {text!r}: write PYTHON/ARCH, e.g. --target 3.12/arm64 or "
            f'targets = ["3.12/x86_64", "3.13/arm64"]'
        )
    python, arch = match["python"], match["arch"] or "x86_64"
    if python not in RUNTIME_GLIBC:
        problem = f"Lambda has no Python {python} runtime: choose {', '.join(RUNTIME_GLIBC)}"
    elif arch in ARCHITECTURE_MACHINE:
        return LayerTarget(python, cast(Architecture, arch))
    else:
        problem = f"unknown architecture {arch!r}: choose x86_64 or arm64"
    raise ConfigurationError(f"invalid target {text!r}: {problem} (e.g. --target 3.12/arm64)")


def _as_targets(values: Iterable[LayerTarget]) -> tuple[LayerTarget, ...]:
    return tuple(dict.fromkeys(values))  # the order given, each target once


def _check_not_empty(
    _: object, __: attrs.Attribute[tuple[LayerTarget, ...]], value: tuple[LayerTarget, ...]
) -> None:
    if not value:
        raise ConfigurationError(
            'no target: give at least one, e.g. --target 3.12/x86_64 or targets = ["3.12/x86_64"]'
        )


@attrs.frozen
class TargetSet:
    """Several targets built from one project in one command (``--target`` repeated,
    ``targets = [...]``): each once, in the order given."""

    targets: tuple[LayerTarget, ...] = attrs.field(
        converter=_as_targets, validator=_check_not_empty
    )

    @classmethod
    def parse(cls, texts: Iterable[str]) -> TargetSet:
        """From ``["3.12/x86_64", "3.13/arm64"]``."""
        return cls(parse_target(text) for text in texts)

    def __iter__(self) -> Iterator[LayerTarget]:
        return iter(self.targets)

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def first(self) -> LayerTarget:
        """The first target given."""
        return self.targets[0]

    @property
    def runtimes(self) -> tuple[str, ...]:
        """The Lambda runtimes of the set, oldest first (``CompatibleRuntimes``)."""
        versions = sorted({t.python_tuple for t in self.targets})
        return tuple(f"python{major}.{minor}" for major, minor in versions)

    @property
    def architectures(self) -> tuple[str, ...]:
        """The architectures of the set, sorted (``CompatibleArchitectures``)."""
        return tuple(sorted({t.architecture for t in self.targets}))

    @property
    def is_product(self) -> bool:
        """Whether every runtime of the set is there with every architecture of the set:
        then a version declaring both lists serves exactly these targets."""
        return len(self.targets) == len(self.runtimes) * len(self.architectures)

    @property
    def names(self) -> str:
        """``python3.12-x86_64, python3.13-arm64``."""
        return ", ".join(t.name for t in self.targets)
