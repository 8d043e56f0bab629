"""``--deny-license`` on a run that publishes nothing: the version it keeps is judged.

A run whose build a version already holds builds nothing (the instant no-op), so the package
step, which applies the licence policy to the tree, never runs. The policy is not part of the
fingerprint (it changes no byte of the layer), so denying a licence that the kept version
ships must still fail the run, as it fails a changed layer's. What that version holds is read,
bytes first:

1. its ``layer/00000N/contents.json``, which the publish step stores only when it describes
   the zip the version was published from;
2. else the local ``contents.json`` beside ``layer.zip``, when its ``zip_sha256`` is the
   version's ``CodeSha256``;
3. else nothing tells: the caller builds and packages, so that the package step judges the
   tree (publishing then still finds the version unchanged).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from layer_builder.errors import ProjectError
from layer_builder.model.contents import LayerContents
from layer_builder.model.layout import LayerPathLayout, LayerS3Layout
from layer_builder.model.license_policy import LicensePolicy
from layer_builder.model.licenses import DistributionLicense, normalise_expression
from layer_builder.steps.publish.records import read_version_contents

if TYPE_CHECKING:
    from layer_builder.steps.publish.step import PublishResult

logger = logging.getLogger(__name__)


def recorded_licences(contents: LayerContents, where: str) -> tuple[DistributionLicense, ...]:
    """The licence of each distribution a contents record lists (``where``: its location,
    which the refusal names as the licence's source)."""
    licences = []
    for distribution in contents.distributions:
        declared = distribution.license or ""
        expression = normalise_expression(declared) if declared else None
        text = "" if expression else declared
        licences.append(
            DistributionLicense(distribution.name, distribution.version, expression, text, where)
        )
    return tuple(licences)


def _local_contents(layout: LayerPathLayout, zip_sha256: str | None) -> LayerContents | None:
    """The local contents record, when it describes the zip ``zip_sha256``."""
    path = layout.path_contents
    if zip_sha256 is None:
        return None
    try:
        contents = LayerContents.loads(path.read_bytes(), str(path))
    except (OSError, ProjectError):
        return None
    return contents if contents.zip_sha256 == zip_sha256 else None


def check_kept_licences(
    s3: Any,
    s3_layout: LayerS3Layout,
    layout: LayerPathLayout,
    denied: Sequence[str],
    unchanged: PublishResult,
) -> bool:
    """Apply ``denied`` (``--deny-license``) to the version ``unchanged`` keeps: raise
    ``LicenseDeniedError`` when it ships a denied licence. False when no record of that
    version's zip was found (build and package to judge the tree); True otherwise, also when
    nothing is denied."""
    if not denied:
        return True
    version = unchanged.layer_version
    contents = read_version_contents(s3, s3_layout, version)
    where = s3_layout.s3path_version_contents(version).uri
    if contents is None:
        contents = _local_contents(layout, unchanged.zip_sha256)
        where = str(layout.path_contents)
    if contents is None:
        logger.info(
            "version %d keeps no record of its contents: building to apply --deny-license", version
        )
        return False
    unjudged = LicensePolicy(tuple(denied)).check(recorded_licences(contents, where))
    if unjudged:
        logger.warning(
            "--deny-license cannot judge %s in version %d: their metadata gives no SPDX "
            "licence; review them in the licence report",
            ", ".join(f"{lic.name} {lic.version} ({lic.label})" for lic in unjudged),
            version,
        )
    logger.debug("--deny-license applied to version %d, from %s", version, where)
    return True
