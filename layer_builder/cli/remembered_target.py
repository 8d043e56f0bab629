"""The target ``package``, ``upload`` and ``publish`` take from what an earlier command made,
when ``--python``/``--arch`` (or their keys) do not say it: ``package`` the built tree's (its
build record), ``upload`` the packaged zip's (its identity), ``publish`` the staged upload's
(its labels). A given value that contradicts it is refused in one line naming both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import attrs

from layer_builder.cli.targets import Given
from layer_builder.errors import AwsError, LayerBuilderError, ProjectError
from layer_builder.installers import Installer
from layer_builder.model.layout import LayerPathLayout, LayerS3Layout
from layer_builder.model.manifest import Manifest
from layer_builder.model.target import (
    ARCHITECTURE_MACHINE,
    RUNTIME_GLIBC,
    Architecture,
    LayerTarget,
)
from layer_builder.model.zip_identity import ZipIdentity
from layer_builder.steps.build import build_fingerprint, read_build_record

logger = logging.getLogger(__name__)

#: The commands that work from what an earlier command made, and so take its target.
REMEMBERING_COMMANDS = ("package", "upload", "publish")
DEFAULT_TARGET = LayerTarget()


@attrs.frozen
class RememberedTarget:
    """The target an earlier command made something for, and how to name it."""

    target: LayerTarget
    #: For the INFO line: ``the last build``.
    source: str
    #: What was made, for the refusal: ``<tree> was built``.
    made: str
    #: What to do instead of contradicting it.
    fix: str


def make_target(python_version: str, architecture: str) -> LayerTarget:
    """``LayerTarget`` from text read or given; its validators refuse what is no target."""
    return LayerTarget(python_version, cast("Architecture", architecture))


def _target_of(runtime: object, architecture: object) -> LayerTarget | None:
    if not isinstance(runtime, str) or not isinstance(architecture, str):
        return None
    try:
        return make_target(runtime.removeprefix("python"), architecture)
    except LayerBuilderError:
        return None  # a runtime this version no longer supports: as if unrecorded


def built_target(
    layout: LayerPathLayout, tree_identity: Callable[[], tuple[Manifest, Installer]]
) -> RememberedTarget | None:
    """The target ``build`` recorded beside the tree; for a record written before the target
    was part of it, the one target whose build fingerprint it holds (``tree_identity`` gives
    the manifest and installer to compute it). None without a tree or record."""
    record = read_build_record(layout)
    if not record or not layout.dir_python.is_dir():
        return None
    target = _target_of(record.get("runtime"), record.get("architecture"))
    if target is None:
        manifest, installer = tree_identity()
        candidates = [make_target(p, a) for p in RUNTIME_GLIBC for a in ARCHITECTURE_MACHINE]
        matching = [
            t for t in candidates
            if build_fingerprint(manifest, t, installer) == record.get("fingerprint")
        ]  # fmt: skip
        if len(matching) != 1:
            return None
        target = matching[0]
    return RememberedTarget(
        target,
        source="the last build",
        made=f"{layout.dir_python} was built",
        fix="drop it to use the built target, or run `layer-builder build` with it first",
    )


def packaged_target(layout: LayerPathLayout) -> RememberedTarget | None:
    """The target the packaged ``layer.zip`` says it was made for (its identity)."""
    identity = ZipIdentity.read(layout.path_layer_zip) if layout.path_layer_zip.is_file() else None
    target = _target_of(identity.runtime, identity.architecture) if identity else None
    if target is None:
        return None
    return RememberedTarget(
        target,
        source="the last package",
        made=f"{layout.path_layer_zip} was packaged",
        fix="drop it to use the packaged target, or build and package again with it",
    )


def staged_target(s3: Any, s3_layout: LayerS3Layout) -> RememberedTarget | None:
    """The target the staged ``layer.zip`` is labelled with (None when nothing is staged, it
    carries no target label, or it cannot be read: the command's own checks then say why)."""
    from layer_builder.aws.clients import head_object_or_none  # boto3: only for the S3 side
    from layer_builder.steps.upload import META_ARCHITECTURE, META_RUNTIME

    staging = s3_layout.s3path_layer_zip
    try:
        head = head_object_or_none(s3, staging)
    except AwsError:
        return None
    metadata = head.get("Metadata", {}) if head is not None else {}
    target = _target_of(metadata.get(META_RUNTIME), metadata.get(META_ARCHITECTURE))
    if target is None:
        return None
    return RememberedTarget(
        target,
        source=f"the upload staged at {staging.uri}",
        made=f"{staging.uri} was uploaded",
        fix="drop it to publish what was uploaded, or upload again for that target",
    )


def choose_target(given: Given, remembered: RememberedTarget | None) -> LayerTarget:
    """The target from the ``given`` settings and what an earlier command made: what is not
    given comes from ``remembered``; a given value that contradicts it is refused."""
    python = given["python"][0] if "python" in given else None
    arch = given["arch"][0] if "arch" in given else None
    if remembered is None:
        return make_target(
            DEFAULT_TARGET.python_version if python is None else python,
            DEFAULT_TARGET.architecture if arch is None else arch,
        )
    old = remembered.target
    wanted = make_target(
        old.python_version if python is None else python,
        old.architecture if arch is None else arch,
    )
    if wanted != old:
        differs = {"python": wanted.python_version != old.python_version,
                   "arch": wanted.architecture != old.architecture}  # fmt: skip
        naming = " and ".join(dict.fromkeys(how for key, (_, how) in given.items() if differs[key]))
        raise ProjectError(
            f"{remembered.made} for {old.runtime} {old.architecture}, but {naming} asks for "
            f"{wanted.runtime} {wanted.architecture}: {remembered.fix}"
        )
    if len(given) < 2:
        logger.info("using %s %s from %s", old.runtime, old.architecture, remembered.source)
    return wanted


def local_target(
    command: str,
    layout: LayerPathLayout,
    tree_identity: Callable[[], tuple[Manifest, Installer]],
) -> RememberedTarget | None:
    """What the local build tree remembers for ``command``: the zip for ``upload`` and
    ``publish`` (else the tree), the tree for ``package``."""
    if command not in REMEMBERING_COMMANDS:
        return None
    packaged = packaged_target(layout) if command != "package" else None
    return packaged or built_target(layout, tree_identity)
