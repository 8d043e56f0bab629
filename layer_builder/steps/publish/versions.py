"""What Lambda holds of a layer: its versions, the newest one a target can use, and the
decision whether a build makes a new version.

One layer name may serve several targets (``python3.12``/``arm64``, ``python3.13``/
``x86_64``...), each version declaring the runtimes and architectures it is for. A build is
compared with the newest version *its* target can use, never with the newest version of
another target: alternating targets then publish one version per target, not one per run.
A universal build (one zip for a set of targets) is compared with each target's newest
version, what a function of that target attaching the latest compatible version gets:
``compare`` is the one decision that ``run``, the instant no-op and ``plan`` all make.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from layer_builder.aws.clients import aws_errors
from layer_builder.model.fingerprint import VersionStamp
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import LayerTarget, TargetSet

#: ListLayerVersions' largest page.
PAGE_SIZE = 50


@attrs.frozen
class PublishedVersion:
    """One version of a layer as Lambda reports it."""

    version: int
    arn: str
    stamp: VersionStamp | None
    runtimes: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    #: ``CreatedDate`` as Lambda writes it (``2026-11-27T16:35:04.654+0000``).
    created: str = ""

    def serves(self, target: LayerTarget) -> bool:
        """Whether a function of ``target``'s runtime and architecture can use it."""
        return target.runtime in self.runtimes and target.architecture in self.architectures

    @classmethod
    def from_listing(cls, item: dict[str, Any]) -> PublishedVersion:
        """From one item of ``ListLayerVersions``' ``LayerVersions``."""
        return cls(
            version=int(item["Version"]),
            arn=str(item["LayerVersionArn"]),
            stamp=VersionStamp.from_description(item.get("Description")),
            runtimes=tuple(item.get("CompatibleRuntimes") or ()),
            architectures=tuple(item.get("CompatibleArchitectures") or ()),
            created=str(item.get("CreatedDate", "")),
        )


def list_versions(
    lambda_: Any, layer_name: str, target: LayerTarget | None = None
) -> Iterator[PublishedVersion]:
    """The versions of ``layer_name`` (only those ``target`` can use, when given), page by
    page (``NextMarker``)."""
    kwargs: dict[str, Any] = {"LayerName": layer_name}
    if target is not None:
        kwargs["CompatibleRuntime"] = target.runtime
        kwargs["CompatibleArchitecture"] = target.architecture
    paginator = lambda_.get_paginator("list_layer_versions")
    pages = paginator.paginate(**kwargs, PaginationConfig={"PageSize": PAGE_SIZE})
    with aws_errors(f"listing versions of layer {layer_name!r}"):
        for page in pages:
            for item in page.get("LayerVersions", []):
                version = PublishedVersion.from_listing(item)
                # Lambda filters on its side; moto (5.2) ignores both filters (and pages),
                # so the same rule is applied here: both lists must name the target.
                if target is None or version.serves(target):
                    yield version


def latest_layer_version(
    lambda_: Any, layer_name: str, target: LayerTarget | None = None
) -> PublishedVersion | None:
    """The newest version of ``layer_name`` that ``target`` can use (any version when
    ``target`` is None), or None when there is none."""
    # Every page is read: Lambda lists versions newest first, but does not promise it.
    return max(list_versions(lambda_, layer_name, target), key=lambda v: v.version, default=None)


def newest_versions(
    lambda_: Any, layer_name: str, targets: Iterable[LayerTarget]
) -> dict[LayerTarget, PublishedVersion | None]:
    """The newest version of ``layer_name`` that serves each of ``targets`` (None: none)."""
    return {t: latest_layer_version(lambda_, layer_name, t) for t in targets}


def universal_proof(
    lambda_: Any, layer_name: str, targets: Iterable[LayerTarget], universal_fingerprint: str
) -> PublishedVersion | None:
    """A version stamped with ``universal_fingerprint`` that serves every one of ``targets``:
    it was published once their trees had been found one pure-Python tree, so the same
    manifest and options make one universal layer for them again (None: not known)."""
    wanted = list(targets)
    return max(
        (
            v
            for v in list_versions(lambda_, layer_name)
            if v.stamp is not None
            and v.stamp.fingerprint == universal_fingerprint
            and all(v.serves(t) for t in wanted)
        ),
        key=lambda v: v.version,
        default=None,
    )


def layer_code_sha256(lambda_: Any, layer_name: str, version: int) -> str | None:
    """The sha256 (hex) of the zip a layer version holds, as Lambda reports it."""
    with aws_errors(f"reading version {version} of layer {layer_name!r}"):
        response = lambda_.get_layer_version(LayerName=layer_name, VersionNumber=version)
    encoded = response.get("Content", {}).get("CodeSha256")
    return base64.b64decode(encoded).hex() if encoded else None


def decide_publish(
    latest: PublishedVersion | None,
    fingerprint: str,
    manifest: Manifest,
    layer_name: str,
    force: bool = False,
    target: LayerTarget | TargetSet | None = None,
    universal_fingerprint: str | None = None,
) -> tuple[bool, str]:
    """Whether a build with ``fingerprint`` makes a new version over ``latest`` (the newest
    version ``target`` can use), and why. A ``latest`` stamped with
    ``universal_fingerprint`` (the universal layer of the same manifest and options, which
    declares ``target``) holds the build too."""
    filename = manifest.filename
    if latest is None:
        if isinstance(target, TargetSet):
            where = (
                f" for {', '.join(target.runtimes)} on {', '.join(target.architectures)} "
                f"(universal)"
            )
        else:
            where = f" for {target.runtime} {target.architecture}" if target is not None else ""
        return True, f"first version of layer {layer_name!r}{where}"
    if force:
        return True, f"forced (--force) over version {latest.version}"
    if latest.stamp is None:
        return True, f"version {latest.version} was not published by layer_builder"
    if latest.stamp.fingerprint == fingerprint:
        return False, f"{filename} and build options unchanged since version {latest.version}"
    if universal_fingerprint is not None and latest.stamp.fingerprint == universal_fingerprint:
        return False, (
            f"{filename} and build options unchanged since version {latest.version} (universal)"
        )
    if latest.stamp.manifest_sha256 != manifest.sha256:
        return True, f"{filename} changed since version {latest.version}"
    return True, f"the build or package options changed since version {latest.version}"


@attrs.frozen
class Comparison:
    """The decision for a build over what Lambda holds for its targets (``compare``)."""

    publish: bool
    reason: str
    #: The version the outcome names: the one that holds the build (nothing to publish), or
    #: the one compared with (the newest of the first target that needs a new version).
    latest: PublishedVersion | None
    #: Each target's newest version: what a function of that target attaching the latest
    #: compatible version gets.
    newest: Mapping[LayerTarget, PublishedVersion | None]

    def newest_at(self, version: int) -> tuple[LayerTarget, ...]:
        """The targets whose newest version is ``version``."""
        return tuple(t for t, v in self.newest.items() if v is not None and v.version == version)


def compare(
    newest: Mapping[LayerTarget, PublishedVersion | None],
    fingerprint: str,
    manifest: Manifest,
    layer_name: str,
    force: bool = False,
    universal_fingerprint: str | None = None,
) -> Comparison:
    """Whether a build with ``fingerprint`` for the targets of ``newest`` (each mapped to its
    newest version) makes a new version, and why.

    Nothing is published when every target's newest version holds the build; one target
    lacking it is enough to publish (a universal build then serves them all again). When the
    targets' newest versions differ, the reason names the target it is about."""
    targets = list(newest)
    versions = {None if v is None else v.version for v in newest.values()}
    if len(versions) == 1:
        # One version (or none) for every target: the reasons of a single comparison.
        latest = newest[targets[0]]
        where: LayerTarget | TargetSet = targets[0] if len(targets) == 1 else TargetSet(targets)
        publish, reason = decide_publish(
            latest, fingerprint, manifest, layer_name, force, where, universal_fingerprint
        )
        return Comparison(publish, reason, latest, newest)
    decisions = {
        t: decide_publish(v, fingerprint, manifest, layer_name, force, t, universal_fingerprint)
        for t, v in newest.items()
    }
    needing = [t for t, (publish, _) in decisions.items() if publish]
    if needing:
        target = needing[0]
        latest, reason = newest[target], decisions[target][1]
        if latest is not None:  # "first version ..." names the target already
            reason = f"{reason} ({target.name})"
        return Comparison(True, reason, latest, newest)
    by_version: dict[int, list[str]] = {}
    for target, version in newest.items():
        assert version is not None  # a target without a version needs one
        by_version.setdefault(version.version, []).append(target.name)
    since = " and ".join(f"version {n} ({', '.join(names)})" for n, names in by_version.items())
    reason = f"{manifest.filename} and build options unchanged since {since}"
    return Comparison(False, reason, newest[targets[0]], newest)
