"""Keep each published version's SBOM beside its manifest backup:
``${s3dir_lambda}/layer/00000N/sbom.cdx.json``.

The SBOM lives in the local build tree, so the publish step does not read it itself: it is
given :class:`~layer_builder.steps.publish.records.LocalVersionRecords`, which calls these
once a version is published (at home and in each extra region).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from layer_builder.aws.clients import aws_errors
from layer_builder.model.layout import LayerS3Layout
from layer_builder.model.s3path import S3Path
from layer_builder.steps.package.sbom import sbom_zip_sha256

logger = logging.getLogger(__name__)

#: The media type CycloneDX registers for its JSON documents.
SBOM_CONTENT_TYPE = "application/vnd.cyclonedx+json"


def local_sbom_for(path_sbom: Path, zip_sha256: str) -> bytes | None:
    """The SBOM at ``path_sbom`` when it describes the zip with ``zip_sha256``; None (and a
    warning) when it is missing or describes another zip, so that no version gets a wrong
    SBOM."""
    try:
        document = path_sbom.read_bytes()
    except FileNotFoundError:
        logger.warning("no SBOM at %s to store with the layer version", path_sbom)
        return None
    described = sbom_zip_sha256(document.decode("utf-8", errors="replace"), str(path_sbom))
    if described != zip_sha256:
        logger.warning(
            "%s describes another zip (sha256 %s, not %s): not stored with the layer version; "
            "package again to write it",
            path_sbom, described, zip_sha256,
        )  # fmt: skip
        return None
    return document


def write_version_sbom(
    s3: Any, s3_layout: LayerS3Layout, version: int, sbom_bytes: bytes
) -> S3Path:
    """Store ``sbom_bytes`` as ``layer/00000N/sbom.cdx.json`` of layer version ``version``."""
    s3path = s3_layout.s3path_version_sbom(version)
    with aws_errors(f"writing the SBOM {s3path.uri}"):
        s3.put_object(
            Bucket=s3path.bucket,
            Key=s3path.key,
            Body=sbom_bytes,
            ContentType=SBOM_CONTENT_TYPE,
            Metadata={"layer-version": str(version)},
        )
    logger.info("stored the SBOM of version %d at %s", version, s3path.uri)
    return s3path
