"""``PythonLayerVersion``: the alpha construct's parameters, built by layer_builder at synth."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from layer_builder.cdk.asset import (
    LayerAsset,
    as_target_set,
    build_layer_asset,
    build_layer_assets,
)
from layer_builder.errors import ConfigurationError
from layer_builder.model.target import RUNTIME_GLIBC, LayerTarget, TargetSet
from layer_builder.steps.build import BuildOptions
from layer_builder.steps.package.step import PackageOptions

logger = logging.getLogger(__name__)

#: What the construct declares when ``compatible_runtimes`` is not given. (The alpha
#: construct declares python3.7, which Lambda no longer runs; this is layer_builder's own
#: default target.)
DEFAULT_RUNTIME = "python3.12"
#: The ``bundling`` fields that mean the same here: how the asset is hashed.
HASH_FIELDS = ("asset_hash", "asset_hash_type")


class PythonLayerVersion(lambda_.LayerVersion):
    """A Lambda layer of ``entry``'s locked dependencies, built without Docker at synth.

    Takes the parameters of ``aws_cdk.aws_lambda_python_alpha.PythonLayerVersion``. One
    runtime and one architecture make one target's layer; several make one universal layer
    (refused unless every dependency is pure Python: see ``python_layer_versions``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        entry: str,
        bundling: Any = None,
        compatible_architectures: Sequence[lambda_.Architecture] | None = None,
        compatible_runtimes: Sequence[lambda_.Runtime] | None = None,
        description: str | None = None,
        layer_version_name: str | None = None,
        license: str | None = None,
        removal_policy: cdk.RemovalPolicy | None = None,
        build_options: BuildOptions | None = None,
        package_options: PackageOptions | None = None,
        asset: LayerAsset | None = None,
    ) -> None:
        runtimes = list(compatible_runtimes or [python_runtime(DEFAULT_RUNTIME)])
        architectures = list(compatible_architectures or [lambda_.Architecture.X86_64])
        targets = targets_of(runtimes, architectures, id)
        hash_type = asset_hash_choice(bundling, id)
        if asset is None:
            asset = build_layer_asset(
                entry, targets, build_options=build_options, package_options=package_options
            )
        elif set(asset.targets) != set(targets):
            raise ConfigurationError(
                f"PythonLayerVersion {id!r}: the asset given serves {asset.targets.names}, "
                f"not the {targets.names} declared: give the runtimes and architectures it "
                f"was built for"
            )
        code = lambda_.Code.from_asset(
            str(asset.path_zip),
            asset_hash=hash_type.get("asset_hash") or _asset_hash(asset, hash_type),
            asset_hash_type=cdk.AssetHashType.CUSTOM,
        )
        super().__init__(
            scope,
            id,
            code=code,
            compatible_runtimes=runtimes,
            compatible_architectures=architectures,
            description=description,
            layer_version_name=layer_version_name,
            license=license,
            removal_policy=removal_policy,
        )
        #: What was built: the zip, its fingerprint (the asset hash) and its targets.
        self.layer_asset = asset


def targets_of(
    runtimes: Sequence[lambda_.Runtime], architectures: Sequence[lambda_.Architecture], id: str
) -> TargetSet:
    """Every pairing of the declared runtimes and architectures, as layer_builder targets."""
    pythons = []
    for runtime in runtimes:
        name = runtime.name
        if runtime.family != lambda_.RuntimeFamily.PYTHON:
            raise ConfigurationError(
                f"PythonLayerVersion {id!r}: {name} is not a Python runtime: "
                f"compatible_runtimes takes Python runtimes only (e.g. Runtime.PYTHON_3_12)"
            )
        version = name.removeprefix("python")
        if version not in RUNTIME_GLIBC:
            raise ConfigurationError(
                f"PythonLayerVersion {id!r}: layer_builder does not build for {name}: "
                f"choose among {', '.join('python' + v for v in RUNTIME_GLIBC)}"
            )
        pythons.append(version)
    machines = [a.name for a in architectures]
    return as_target_set(f"{p}/{m}" for p in pythons for m in machines)


def asset_hash_choice(bundling: Any, id: str) -> dict[str, Any]:
    """The alpha's ``bundling`` options that mean the same here (``asset_hash``,
    ``asset_hash_type``); any other is refused, since it configures a Docker build."""
    if bundling is None:
        return {}
    values = bundling if isinstance(bundling, Mapping) else getattr(bundling, "_values", None)
    if values is None:
        raise ConfigurationError(
            f"PythonLayerVersion {id!r}: bundling must be a BundlingOptions or a dict, not "
            f"{type(bundling).__name__}"
        )
    given = {k: v for k, v in dict(values).items() if v is not None}
    others = sorted(set(given) - set(HASH_FIELDS))
    if others:
        raise ConfigurationError(
            f"PythonLayerVersion {id!r}: bundling={{{', '.join(others)}}} configures the "
            f"alpha construct's Docker build, and layer_builder builds without Docker: drop "
            f"it (build_options= and package_options= set the install and the zip)"
        )
    hash_type = given.get("asset_hash_type")
    if hash_type is not None and hash_type not in (
        cdk.AssetHashType.SOURCE,
        cdk.AssetHashType.OUTPUT,
        cdk.AssetHashType.CUSTOM,
    ):
        raise ConfigurationError(
            f"PythonLayerVersion {id!r}: asset_hash_type {hash_type!r} is not an AssetHashType"
        )
    if hash_type == cdk.AssetHashType.CUSTOM and not given.get("asset_hash"):
        raise ConfigurationError(
            f"PythonLayerVersion {id!r}: asset_hash_type CUSTOM needs asset_hash in bundling"
        )
    return given


def _asset_hash(asset: LayerAsset, choice: Mapping[str, Any]) -> str:
    """The build's fingerprint (SOURCE, the default: the lock and options decide it), or the
    zip's own sha256 (OUTPUT, BUNDLE: what was built decides it)."""
    if choice.get("asset_hash_type") in (cdk.AssetHashType.OUTPUT,):
        return asset.zip_sha256
    return asset.fingerprint


def python_layer_versions(
    scope: Construct,
    id: str,
    *,
    entry: str,
    targets: Iterable[str | LayerTarget] | TargetSet,
    universal: bool = True,
    build_options: BuildOptions | None = None,
    package_options: PackageOptions | None = None,
    **layer_options: Any,
) -> dict[str, PythonLayerVersion]:
    """A layer per target (``"3.12/arm64"``...), keyed by target name (``python3.12-arm64``):
    one ``PythonLayerVersion`` (id ``<id>``) for all of them when the trees are one
    pure-Python tree and ``universal`` allows it, else one each (id ``<id>-<target name>``)."""
    for key in ("compatible_runtimes", "compatible_architectures", "asset"):
        if key in layer_options:
            raise ConfigurationError(
                f"python_layer_versions {id!r}: {key} is decided by targets=: drop it"
            )
    target_set = as_target_set(targets)
    assets = build_layer_assets(
        entry,
        target_set,
        build_options=build_options,
        package_options=package_options,
        universal=universal,
    )
    layers: dict[str, PythonLayerVersion] = {}
    shared: PythonLayerVersion | None = None
    for target in target_set:
        asset = assets[target]
        if asset.universal:
            if shared is None:
                shared = _layer(scope, id, entry, asset, layer_options)
            layers[target.name] = shared
        else:
            layers[target.name] = _layer(scope, f"{id}-{target.name}", entry, asset, layer_options)
    return layers


def _layer(
    scope: Construct, id: str, entry: str, asset: LayerAsset, options: Mapping[str, Any]
) -> PythonLayerVersion:
    runtimes = dict.fromkeys(t.runtime for t in asset.targets)
    architectures = dict.fromkeys(t.architecture for t in asset.targets)
    return PythonLayerVersion(
        scope,
        id,
        entry=str(Path(entry)),
        compatible_runtimes=[python_runtime(r) for r in runtimes],
        compatible_architectures=[_ARCHITECTURES[a] for a in architectures],
        asset=asset,
        **options,
    )


def python_runtime(name: str) -> lambda_.Runtime:
    """The Lambda runtime ``python3.12`` (also one newer than this aws-cdk-lib knows)."""
    return lambda_.Runtime(name, lambda_.RuntimeFamily.PYTHON)


_ARCHITECTURES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}
