"""A layer zip for a CDK asset, built and packaged by layer_builder without AWS or Docker.

Nothing here imports aws-cdk-lib: this is the library half of ``layer_builder.cdk``, usable
(and tested) on its own. The asset hash CDK is given is the build's fingerprint, which only
the manifest, the targets and the options decide, so an unchanged lock gives the same hash
on every synth and on every host, and a deploy makes no new layer version.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import attrs

from layer_builder.errors import ConfigurationError, NotUniversalError
from layer_builder.matrix import MakeWorkflow, MatrixResult, MatrixRun, TargetOutcome
from layer_builder.model.target import LayerTarget, TargetSet, parse_target
from layer_builder.steps.build import BuildOptions
from layer_builder.steps.package.step import PackageOptions, PackageResult
from layer_builder.steps.publish.options import PublishOptions
from layer_builder.workflow import LayerWorkflow

logger = logging.getLogger(__name__)
R = TypeVar("R")

# LayerWorkflow asks for a layer name and an S3 folder; a CDK build only builds and packages,
# so neither is ever used (no AWS client is made).
_UNUSED_LAYER_NAME = "cdk_asset"
_UNUSED_S3DIR = "s3://unused-by-cdk/"


@attrs.frozen(kw_only=True)
class LayerAsset:
    """A packaged ``layer.zip`` and the identity CDK hashes it by."""

    #: The zip, with ``python/`` at its root (``build/lambda/.../layer.zip`` of the entry).
    path_zip: Path
    #: What the asset hash is made from: the same manifest, targets and options give it.
    fingerprint: str
    #: The zip's own sha256 (``asset_hash_type=OUTPUT`` hashes this instead).
    zip_sha256: str
    #: The targets the zip serves (several only for a universal layer).
    targets: TargetSet
    #: One pure-Python zip for every target of ``targets``.
    universal: bool = False
    #: Why the targets built together share one zip or not (empty for a single target).
    reason: str = ""


def as_target_set(targets: Iterable[str | LayerTarget] | TargetSet) -> TargetSet:
    """``["3.12/x86_64", "3.12/arm64"]`` (or ``LayerTarget`` values) as a ``TargetSet``."""
    if isinstance(targets, TargetSet):
        return targets
    return TargetSet(t if isinstance(t, LayerTarget) else parse_target(t) for t in targets)


def build_layer_assets(
    entry: Path | str,
    targets: Iterable[str | LayerTarget] | TargetSet,
    *,
    build_options: BuildOptions | None = None,
    package_options: PackageOptions | None = None,
    universal: bool = True,
) -> dict[LayerTarget, LayerAsset]:
    """Build and package ``entry``'s dependencies for each target, side by side; every
    target maps to the same universal asset when the trees are one pure-Python tree (and
    ``universal`` allows it), else to its own. The first target that fails raises."""
    project = Path(entry)
    if not project.is_dir():
        raise ConfigurationError(
            f"entry {str(entry)!r} is not a folder: give the folder holding the layer's "
            f"requirements.txt, uv.lock, poetry.lock or pyproject.toml"
        )
    target_set = as_target_set(targets)
    make = functools.partial(
        LayerWorkflow,
        project,
        _UNUSED_LAYER_NAME,
        _UNUSED_S3DIR,
        build_options=build_options,
        package_options=package_options,
        publish_options=PublishOptions(universal=universal),
    )
    started = time.monotonic()
    if len(target_set) == 1:
        packages = _one_target(make, target_set.first)
    else:
        matrix = MatrixRun(make, target_set)
        _raise_first(matrix.build())
        packages = _raise_first(matrix.package())
    reason = ""
    if packages.universality is not None and len(target_set) > 1:
        reason = packages.universality.reason
        logger.info("%s: %s", "universal" if packages.universal else "not universal", reason)
    assets: dict[LayerTarget, LayerAsset] = {}
    for outcome in packages:
        package = outcome.result
        assert package is not None
        assets[outcome.target] = LayerAsset(
            path_zip=package.path_zip,
            fingerprint=package.fingerprint,
            zip_sha256=package.sha256,
            targets=target_set if outcome.universal else TargetSet([outcome.target]),
            universal=outcome.universal,
            reason=reason,
        )
    logger.info("layer assets of %s for %s ready in %.1f s", project, target_set.names,
                time.monotonic() - started)  # fmt: skip
    return assets


def build_layer_asset(
    entry: Path | str,
    targets: Iterable[str | LayerTarget] | TargetSet,
    *,
    build_options: BuildOptions | None = None,
    package_options: PackageOptions | None = None,
) -> LayerAsset:
    """One zip serving every target: a target's own, or (several targets) the universal
    layer's; refused when the trees are not one pure-Python tree."""
    target_set = as_target_set(targets)
    assets = build_layer_assets(
        entry, target_set, build_options=build_options, package_options=package_options
    )
    first = assets[target_set.first]
    if len(target_set) > 1 and not first.universal:
        raise NotUniversalError(
            f"one zip cannot serve {target_set.names}: {first.reason}: declare one runtime "
            f"and one architecture per layer, or make one layer per target with "
            f"layer_builder.cdk.python_layer_versions()"
        )
    return first


def _one_target(make: MakeWorkflow, target: LayerTarget) -> MatrixResult[PackageResult]:
    """One target's zip, built in the target's own folder (``build/lambda/<target>/``, as
    for several), so that layers of other targets from the same entry keep their trees."""
    workflow = make(target=target, build_folder=target.name)
    with workflow.folder_lock("cdk"):
        package = workflow.package(workflow.build())
    return MatrixResult((TargetOutcome(target, package),))


def _raise_first(result: MatrixResult[R]) -> MatrixResult[R]:
    failed = result.failed
    if failed and failed[0].error is not None:
        raise failed[0].error
    return result
