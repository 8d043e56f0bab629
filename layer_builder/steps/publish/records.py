"""What each published version keeps: its manifest backup, with the credentials of its URLs
masked (``manifest_backup``), and beside it ``layer/00000N/contents.json`` (what it holds,
per distribution) and ``layer/00000N/sbom.cdx.json`` (its SBOM).

The two records are written by ``package`` into the local build tree; the publish step stores
them once it has published a version (at home and in each extra region), and only when they
describe the very zip the version was published from, so that no version gets another zip's
record. Neither can hold a manifest's credentials: they name distributions, versions,
licences, sizes and hashes, never an index or a URL of the manifest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import attrs
import botocore.exceptions

from layer_builder.aws.clients import aws_errors, is_not_found
from layer_builder.errors import ProjectError
from layer_builder.installers.redaction import redact_urls
from layer_builder.model.contents import LayerContents
from layer_builder.model.layout import LayerPathLayout, LayerS3Layout
from layer_builder.model.manifest import Manifest
from layer_builder.model.s3path import S3Path
from layer_builder.steps.package.sbom import sbom_zip_sha256

logger = logging.getLogger(__name__)

#: The metadata key (``x-amz-meta-redacted: true``) of a manifest backup whose URLs held
#: credentials, masked in the stored copy.
META_REDACTED = "redacted"


def manifest_backup(manifest: Manifest) -> tuple[bytes, dict[str, str]]:
    """What each stored copy of ``manifest`` holds (``00000N/``, ``last-``, ``targets/``): its
    bytes with the user-info and secret query values of every URL masked (see
    ``installers.redaction``), and the metadata that says so when anything was. Deterministic,
    so that a copy is compared with this, never with the manifest itself."""
    # surrogateescape: bytes that are not UTF-8 go through unchanged.
    text = manifest.content.decode("utf-8", errors="surrogateescape")
    redacted = redact_urls(text)
    if redacted == text:
        return manifest.content, {}
    return redacted.encode("utf-8", errors="surrogateescape"), {META_REDACTED: "true"}


@attrs.frozen
class VersionRecord:
    """One kind of file a version keeps under ``layer/00000N/``, and how to tell which zip a
    copy of it describes."""

    #: How messages name it (``contents record``, ``SBOM``).
    what: str
    content_type: str
    #: The sha256 of the zip a document describes (``ProjectError`` when it is not one).
    describes: Callable[[bytes, str], str]
    #: Its key for a version.
    s3path: Callable[[LayerS3Layout, int], S3Path]


CONTENTS = VersionRecord(
    "contents record",
    "application/json",
    lambda data, where: LayerContents.loads(data, where).zip_sha256,
    LayerS3Layout.s3path_version_contents,
)
#: The SBOM (its media type: the one CycloneDX registers for JSON documents).
SBOM = VersionRecord(
    "SBOM",
    "application/vnd.cyclonedx+json",
    lambda data, where: sbom_zip_sha256(data.decode("utf-8", errors="replace"), where),
    LayerS3Layout.s3path_version_sbom,
)


def local_record_for(record: VersionRecord, path: Path, zip_sha256: str) -> bytes | None:
    """The ``record`` at ``path`` when it describes the zip with ``zip_sha256``; None (and a
    warning) when it is missing, unreadable or describes another zip, so that no version gets
    another zip's record."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        logger.warning("no %s at %s to store with the layer version", record.what, path)
        return None
    try:
        described = record.describes(data, str(path))
    except ProjectError as exc:
        logger.warning("%s", exc)
        return None
    if described != zip_sha256:
        logger.warning(
            "%s describes another zip (sha256 %s, not %s): not stored with the layer version; "
            "package again to write it",
            path, described, zip_sha256,
        )  # fmt: skip
        return None
    return data


def write_version_record(
    record: VersionRecord, s3: Any, s3_layout: LayerS3Layout, version: int, body: bytes
) -> S3Path:
    """Store ``body`` as the ``record`` of layer version ``version`` (``layer/00000N/...``)."""
    s3path = record.s3path(s3_layout, version)
    with aws_errors(f"writing the {record.what} {s3path.uri}"):
        s3.put_object(
            Bucket=s3path.bucket,
            Key=s3path.key,
            Body=body,
            ContentType=record.content_type,
            Metadata={"layer-version": str(version)},
        )
    logger.info("stored the %s of version %d at %s", record.what, version, s3path.uri)
    return s3path


def read_version_contents(s3: Any, s3_layout: LayerS3Layout, version: int) -> LayerContents | None:
    """What version ``version`` holds, from its ``contents.json``; None when it has none (it
    was published by an older layer_builder, or by something else)."""
    s3path = s3_layout.s3path_version_contents(version)
    with aws_errors(f"reading {s3path.uri}"):
        try:
            body = s3.get_object(Bucket=s3path.bucket, Key=s3path.key)["Body"].read()
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc):
                return None
            raise
    try:
        return LayerContents.loads(body, s3path.uri, fix="delete it, or write it again")
    except ProjectError as exc:
        logger.warning("%s", exc)
        return None


class VersionRecords(Protocol):
    """What the publish step stores with each version it publishes."""

    def store(
        self, s3: Any, s3_layout: LayerS3Layout, version: int, zip_sha256: str
    ) -> tuple[S3Path, ...]:
        """Write the records of version ``version``, published from ``zip_sha256``."""


class LocalVersionRecords:
    """The records of the local build tree (``contents.json`` and the SBOM beside
    ``layer.zip``), stored with each version published from their zip."""

    def __init__(self, layout: LayerPathLayout):
        self.layout = layout

    def store(
        self, s3: Any, s3_layout: LayerS3Layout, version: int, zip_sha256: str
    ) -> tuple[S3Path, ...]:
        """Write the records that describe ``zip_sha256`` under version ``version``."""
        stored = []
        for record, path in ((CONTENTS, self.layout.path_contents), (SBOM, self.layout.path_sbom)):
            body = local_record_for(record, path, zip_sha256)
            if body is not None:
                stored.append(write_version_record(record, s3, s3_layout, version, body))
        return tuple(stored)
