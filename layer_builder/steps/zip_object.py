"""Whether an S3 object holds a zip's bytes: by S3's SHA-256 of the whole object, else by
reading and hashing the object.

An object's ``zip-sha256`` metadata is a label: replacing the object (``aws s3 cp`` with
``--metadata``, a copy made by hand) may keep it over other bytes. What S3 computed from the
bytes cannot be kept that way, but S3 keeps a SHA-256 of the whole object only when the
writer asked for one, in a single request (``PutObject``, ``CopyObject``); a multipart
object's SHA-256 is a checksum of its parts' checksums, and S3's default checksums are CRCs.
So an object with a whole-object SHA-256 is judged by it, and any other is read (streamed,
pinned to the version and ETag that HeadObject saw) and hashed here. The upload step writes
every zip with a whole-object SHA-256, so only objects written some other way are read.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import botocore.exceptions

from layer_builder.aws.clients import aws_errors, error_code, head_object_or_none, is_not_found
from layer_builder.errors import StaleUploadError
from layer_builder.model.s3path import S3Path

logger = logging.getLogger(__name__)

#: The user metadata key (``x-amz-meta-zip-sha256``) that labels an object with its zip.
META_ZIP_SHA256 = "zip-sha256"
#: How much of an object is read into memory at a time while hashing it.
READ_CHUNK = 1024 * 1024


def full_object_sha256(head: Mapping[str, Any]) -> str | None:
    """The sha256 (hex) that S3 keeps of the whole object a HeadObject (asked with its
    checksum) describes; None when it keeps none (a CRC only, or a multipart object's
    checksum of its parts' checksums)."""
    checksum = head.get("ChecksumSHA256")
    if not checksum or head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        return None
    # A composite checksum ends in "-<parts>" on S3; moto (5.2) leaves the suffix and the
    # type out, but a multipart object's ETag still ends in "-<parts>".
    if "-" in checksum or "-" in str(head.get("ETag", "")):
        return None
    return base64.b64decode(checksum).hex()


def read_sha256(s3: Any, s3path: S3Path, head: Mapping[str, Any]) -> str | None:
    """The sha256 (hex) of the object ``head`` describes, read and hashed as it streams;
    None when the object vanished or changed since ``head``."""
    kwargs: dict[str, str] = {"IfMatch": str(head["ETag"])}
    if head.get("VersionId"):
        kwargs["VersionId"] = str(head["VersionId"])
    logger.info("%s has no SHA-256 of its whole object: reading it to hash its bytes", s3path.uri)
    digest = hashlib.sha256()
    with aws_errors(f"reading {s3path.uri}"):
        try:
            response = s3.get_object(Bucket=s3path.bucket, Key=s3path.key, **kwargs)
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc) or error_code(exc) in ("PreconditionFailed", "412"):
                return None
            raise
        for chunk in response["Body"].iter_chunks(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def holds_zip(s3: Any, s3path: S3Path, head: Mapping[str, Any], zip_sha256: str) -> bool:
    """Whether the object ``head`` (HeadObject asked with its checksum) describes is labelled
    as the zip ``zip_sha256`` and holds its very bytes."""
    if head.get("Metadata", {}).get(META_ZIP_SHA256) != zip_sha256:
        return False  # not written by layer_builder, or another zip
    found = full_object_sha256(head)
    if found is None:
        found = read_sha256(s3, s3path, head)
    return found == zip_sha256


def head_zip_or_none(
    s3: Any, s3path: S3Path, zip_sha256: str, version_id: str | None = None
) -> Any:
    """HeadObject of a content-addressed zip (or one version of it) when it holds the bytes
    of ``zip_sha256``, else None."""
    head = head_object_or_none(s3, s3path, version_id, checksum=True)
    return head if head is not None and holds_zip(s3, s3path, head, zip_sha256) else None


def seal_whole_sha256(s3: Any, s3path: S3Path, zip_sha256: str) -> Any:
    """Copy the object at ``s3path`` onto itself, asking S3 for a SHA-256 of its whole bytes
    (a multipart object has only its parts'); its HeadObject when it then holds the zip
    ``zip_sha256``, None when it vanished, was replaced, or holds other bytes."""
    head = head_object_or_none(s3, s3path)
    if head is None or head.get("Metadata", {}).get(META_ZIP_SHA256) != zip_sha256:
        return None
    source = {"Bucket": s3path.bucket, "Key": s3path.key}
    if head.get("VersionId"):
        source["VersionId"] = head["VersionId"]
    with aws_errors(f"copying {s3path.uri} onto itself for its SHA-256"):
        try:
            s3.copy_object(
                Bucket=s3path.bucket,
                Key=s3path.key,
                CopySource=source,
                CopySourceIfMatch=head["ETag"],  # only the object HeadObject saw
                MetadataDirective="REPLACE",
                ContentType="application/zip",
                Metadata={META_ZIP_SHA256: zip_sha256},
                ChecksumAlgorithm="SHA256",
            )
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc) or error_code(exc) in ("PreconditionFailed", "412"):
                return None
            raise
    return head_zip_or_none(s3, s3path, zip_sha256)


def changed_after_upload(
    s3path: S3Path, zip_sha256: str, fix: str, staged_by: S3Path | None = None
) -> StaleUploadError:
    """The error for an object whose bytes are no longer the zip's it was uploaded with
    (``staged_by``: the staging copy that names it)."""
    what = f"{s3path.uri}, the zip that {staged_by.uri} stages," if staged_by else s3path.uri
    return StaleUploadError(
        f"{what} changed after it was uploaded (its bytes are no longer the zip of sha256 "
        f"{zip_sha256}): {fix}"
    )
