"""Which targets a command builds: ``--target`` (repeatable), or ``--python``/``--arch`` (one
target), else ``targets``, or ``python``/``arch``, of ``[tool.layer_builder]``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from layer_builder.errors import ConfigurationError
from layer_builder.model.target import LayerTarget, TargetSet

#: The commands that take several targets; the others take one.
SEVERAL_TARGETS = ("build", "package", "run", "plan", "matrix")


def _one(values: list[str] | None, flag: str) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        raise ConfigurationError(
            f"{flag} given {len(values)} times ({', '.join(values)}): one {flag} names one "
            f"target; for several, repeat --target instead (e.g. --target 3.12/x86_64 "
            f"--target 3.13/arm64)"
        )
    return values[0]


#: ``{"arch": ("arm64", "--arch arm64")}``: the one target's settings given, and how.
Given = Mapping[str, tuple[str, str]]


@attrs.frozen
class TargetChoice:
    """The targets a command was given: several (or one named whole, by ``--target`` or
    ``targets``), or the ``python``/``arch`` settings given for one target, which a command
    working from an earlier command's output may complete (``cli.remembered_target``)."""

    #: Every target named whole; None when only ``python``/``arch`` settings (maybe none) say.
    named: TargetSet | None
    #: The one target's settings given, and how (what ``choose_target`` takes).
    given: Given

    def targets(self) -> TargetSet:
        """The targets, the one target's unsaid settings taking the defaults."""
        if self.named is not None:
            return self.named
        default = LayerTarget()
        python = self.given["python"][0] if "python" in self.given else default.python_version
        arch: Any = self.given["arch"][0] if "arch" in self.given else default.architecture
        return TargetSet([LayerTarget(python, arch)])


def target_choice(
    args: argparse.Namespace, config: dict[str, Any], project: Path | None = None
) -> TargetChoice:
    """The targets asked for. The command line replaces the configuration: ``--target`` or
    ``--python``/``--arch`` there, and ``targets`` or ``python``/``arch`` are not looked at."""
    python = _one(getattr(args, "python", None), "--python")
    arch = _one(getattr(args, "arch", None), "--arch")
    texts = getattr(args, "targets", None)
    if texts:
        if python is not None or arch is not None:
            raise ConfigurationError(
                "--target and --python/--arch both given: name each target with --target "
                "PYTHON/ARCH alone (e.g. --target 3.12/arm64)"
            )
        return _named(TargetSet.parse(texts), f"--target {texts[0]}")
    if python is None and arch is None and "targets" in config:
        if "python" in config or "arch" in config:
            where = f" of {project / 'pyproject.toml'}" if project else ""
            raise ConfigurationError(
                f"[tool.layer_builder]{where} sets both targets and python/arch: keep one, "
                f'e.g. targets = ["3.12/x86_64", "3.13/arm64"]'
            )
        named = TargetSet.parse(config["targets"])
        return _named(named, f"targets = {json.dumps(config['targets'])} in [tool.layer_builder]")
    given: dict[str, tuple[str, str]] = {}
    for key, flag in (("python", python), ("arch", arch)):
        # An empty --python "" is a mistake to report, not a request for the default.
        if flag is not None:
            given[key] = (flag, f"--{key} {flag}")
        elif config.get(key) is not None:
            given[key] = (config[key], f'{key} = "{config[key]}" in [tool.layer_builder]')
    return TargetChoice(None, given)


def _named(targets: TargetSet, how: str) -> TargetChoice:
    first = targets.first
    given = {"python": (first.python_version, how), "arch": (first.architecture, how)}
    return TargetChoice(targets, given)


def resolve_targets(
    args: argparse.Namespace, config: dict[str, Any], project: Path | None = None
) -> TargetSet:
    """The targets asked for, the defaults filling what is not said."""
    return target_choice(args, config, project).targets()


def check_one_target(command: str, targets: TargetSet) -> None:
    """Refuse several targets for a command that works on one target's zip."""
    if len(targets) > 1 and command not in SEVERAL_TARGETS:
        raise ConfigurationError(
            f"{command} works on one target's zip and {len(targets)} targets were given "
            f"({targets.names}): pass one --target, or use `layer-builder run`, which "
            f"builds, uploads and publishes every target"
        )
