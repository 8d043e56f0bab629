"""The layer's S3 folder after publishing: zips no kept version needs, and unfinished uploads.

Each distinct zip stays under ``layer/zips/<sha256>.zip`` until ``prune`` finds that no kept
version was published from it and ``layer/layer.zip`` does not stage it. Multipart uploads
that never finished (a killed run) keep their parts, billed, until aborted: ``plan`` and
``prune`` list those under ``layer/``, and ``prune --yes`` aborts them (each upload also
aborts the stale ones under ``layer/zips/``: ``aws.multipart``). Both spare what is
younger than ``grace`` (a day by default): a run in flight may still publish from a zip it
has just uploaded, or still be sending parts.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Collection
from typing import Any

import attrs

from layer_builder.aws.clients import aws_errors, head_object_or_none
from layer_builder.aws.multipart import IncompleteUpload as IncompleteUpload
from layer_builder.aws.multipart import abort_upload, incomplete_uploads
from layer_builder.model.layout import SHA256_HEX, LayerS3Layout
from layer_builder.model.s3path import S3Path
from layer_builder.steps.upload import META_ZIP_SHA256

logger = logging.getLogger(__name__)

#: What ``prune`` spares however unneeded it looks: it may belong to a run in flight.
DEFAULT_GRACE = datetime.timedelta(days=1)


@attrs.frozen
class StoredZip:
    """One content-addressed zip under ``layer/zips/``."""

    s3path: S3Path
    sha256: str
    size: int
    modified: datetime.datetime


@attrs.frozen
class StorageCleanup:
    """What ``prune`` did (or, in a dry run, would do) in one layer's S3 folder."""

    s3dir_layer: S3Path
    zips_deleted: tuple[StoredZip, ...]
    zips_kept: tuple[StoredZip, ...]
    uploads_aborted: tuple[IncompleteUpload, ...]
    #: Started less than ``grace`` ago: perhaps a run still sending parts, left alone.
    uploads_in_progress: tuple[IncompleteUpload, ...]

    def to_json(self) -> dict[str, Any]:
        """The clean-up as ``--json`` prints it."""
        return {
            "s3_uri_layer": self.s3dir_layer.uri,
            "zips_deleted": [z.s3path.uri for z in self.zips_deleted],
            "zips_deleted_bytes": sum(z.size for z in self.zips_deleted),
            "zips_kept": [z.s3path.uri for z in self.zips_kept],
            "uploads_aborted": [u.to_json() for u in self.uploads_aborted],
            "uploads_in_progress": [u.to_json() for u in self.uploads_in_progress],
        }


def list_zips(s3: Any, s3_layout: LayerS3Layout) -> tuple[StoredZip, ...]:
    """The zips under ``layer/zips/``; keys not named ``<sha256>.zip`` are not ours to list."""
    folder = s3_layout.s3dir_zips
    found = []
    with aws_errors(f"listing {folder.uri}"):
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=folder.bucket, Prefix=folder.key
        )
        for page in pages:
            for item in page.get("Contents", []):
                name = str(item["Key"])[len(folder.key) :]
                sha256 = name.removesuffix(".zip")
                if name.endswith(".zip") and SHA256_HEX.fullmatch(sha256):
                    s3path = S3Path(folder.bucket, str(item["Key"]))
                    found.append(StoredZip(s3path, sha256, int(item["Size"]), item["LastModified"]))
    return tuple(found)


def list_incomplete_uploads(s3: Any, s3_layout: LayerS3Layout) -> tuple[IncompleteUpload, ...]:
    """Multipart uploads under ``layer/`` that were neither completed nor aborted."""
    return incomplete_uploads(s3, s3_layout.s3dir_layer)


def staged_zip_sha256(s3: Any, s3_layout: LayerS3Layout) -> str | None:
    """The sha256 of the zip ``layer/layer.zip`` stages (``layer-builder publish`` needs it)."""
    head = head_object_or_none(s3, s3_layout.s3path_layer_zip)
    return None if head is None else head.get("Metadata", {}).get(META_ZIP_SHA256)


def clean_up_storage(
    s3: Any,
    s3_layout: LayerS3Layout,
    needed: Collection[str],
    yes: bool,
    now: datetime.datetime,
    grace: datetime.timedelta = DEFAULT_GRACE,
) -> StorageCleanup:
    """Delete the zips whose sha256 is not in ``needed`` (the kept versions' zips) nor staged,
    and abort the unfinished uploads, sparing both when younger than ``grace``; only when
    ``yes``, else a dry run."""
    keep = {*needed, staged_zip_sha256(s3, s3_layout)}
    kept: list[StoredZip] = []
    doomed: list[StoredZip] = []
    for stored in list_zips(s3, s3_layout):
        recent = now - stored.modified < grace
        (kept if stored.sha256 in keep or recent else doomed).append(stored)
    uploads = list_incomplete_uploads(s3, s3_layout)
    stale = tuple(u for u in uploads if now - u.initiated >= grace)
    for stored in doomed:
        if not yes:
            logger.info("would delete %s: no kept version needs it", stored.s3path.uri)
            continue
        with aws_errors(f"deleting {stored.s3path.uri}"):
            s3.delete_object(Bucket=stored.s3path.bucket, Key=stored.s3path.key)
        logger.info("deleted %s: no kept version needs it", stored.s3path.uri)
    for upload in stale:
        if not yes:
            logger.info("would abort the unfinished upload of %s", upload.s3path.uri)
            continue
        abort_upload(s3, upload)
        logger.info("aborted the unfinished upload of %s", upload.s3path.uri)
    return StorageCleanup(
        s3_layout.s3dir_layer,
        tuple(doomed),
        tuple(kept),
        stale,
        tuple(u for u in uploads if u not in stale),
    )
