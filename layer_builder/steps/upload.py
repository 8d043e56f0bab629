"""Step 3: put ``layer.zip`` on S3, stamped with the manifest hash and build fingerprint."""

from __future__ import annotations

import base64
from typing import Any

import attrs
from s3pathlib.api import S3Path

from layer_builder.aws import aws_errors
from layer_builder.errors import AwsError
from layer_builder.layout import LayerS3Layout
from layer_builder.manifest import Manifest
from layer_builder.steps.base import Step
from layer_builder.steps.package import PackageResult

# User metadata keys on the uploaded object (S3 stores them as x-amz-meta-<key>).
META_MANIFEST_SHA256 = "manifest-sha256"
META_MANIFEST_FILE = "manifest-file"
META_ZIP_SHA256 = "zip-sha256"
META_FINGERPRINT = "fingerprint"


@attrs.frozen
class UploadResult:
    """The exact S3 object a layer version will be published from."""

    s3path: S3Path
    version_id: str | None
    etag: str
    zip_sha256: str
    manifest_sha256: str
    fingerprint: str
    console_url: str
    uploaded: bool

    @property
    def s3_uri(self) -> str:
        return str(self.s3path.uri)

    @classmethod
    def from_s3_object(cls, s3: Any, s3path: S3Path, version_id: str | None = None) -> UploadResult:
        """Describe an object uploaded earlier, from its metadata (to publish it later)."""
        kwargs = {"VersionId": version_id} if version_id else {}
        with aws_errors(f"reading {s3path.uri}"):
            head = s3.head_object(Bucket=s3path.bucket, Key=s3path.key, **kwargs)
        metadata = head.get("Metadata", {})
        missing = [k for k in (META_MANIFEST_SHA256, META_ZIP_SHA256, META_FINGERPRINT)
                   if k not in metadata]  # fmt: skip
        if missing:
            raise AwsError(
                f"{s3path.uri} was not uploaded by layer_builder (no {', '.join(missing)} "
                f"metadata): run `layer-builder upload` first"
            )
        return cls(
            s3path=s3path,
            version_id=head.get("VersionId"),
            etag=head["ETag"],
            zip_sha256=metadata[META_ZIP_SHA256],
            manifest_sha256=metadata[META_MANIFEST_SHA256],
            fingerprint=metadata[META_FINGERPRINT],
            console_url=s3path.console_url,
            uploaded=False,
        )


class UploadStep(Step):
    """Uploads to ``${s3dir_lambda}/layer/layer.zip`` with an S3-verified SHA-256 checksum."""

    name = "upload"

    def __init__(self, s3_layout: LayerS3Layout, manifest: Manifest, s3: Any):
        self.s3_layout = s3_layout
        self.manifest = manifest
        self.s3 = s3

    def run(self, package: PackageResult) -> UploadResult:
        s3path = self.s3_layout.s3path_layer_zip
        # S3 recomputes the checksum and refuses the object if a byte changed on the way.
        checksum = base64.b64encode(bytes.fromhex(package.sha256)).decode()
        with self.timed(f"uploading {package.path_zip.name} to {s3path.uri}"), \
                aws_errors(f"uploading {package.path_zip} to {s3path.uri}"), \
                package.path_zip.open("rb") as body:  # fmt: skip
            response = self.s3.put_object(
                Bucket=s3path.bucket,
                Key=s3path.key,
                Body=body,
                ContentType="application/zip",
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                Metadata={
                    META_MANIFEST_SHA256: self.manifest.sha256,
                    META_MANIFEST_FILE: self.manifest.filename,
                    META_ZIP_SHA256: package.sha256,
                    META_FINGERPRINT: package.fingerprint,
                },
            )
        result = UploadResult(
            s3path=s3path,
            version_id=response.get("VersionId"),
            etag=response["ETag"],
            zip_sha256=package.sha256,
            manifest_sha256=self.manifest.sha256,
            fingerprint=package.fingerprint,
            console_url=s3path.console_url,
            uploaded=True,
        )
        self.logger.info("uploaded %s", result.s3_uri)
        self.logger.info("console: %s", result.console_url)
        return result
