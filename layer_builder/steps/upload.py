"""Step 3: put ``layer.zip`` on S3, stamped with the manifest hash and build fingerprint."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from boto3.s3.transfer import TransferConfig

from layer_builder.aws.clients import aws_errors, head_object_or_none
from layer_builder.errors import AwsError, StaleUploadError
from layer_builder.model.layout import LayerS3Layout
from layer_builder.model.manifest import Manifest
from layer_builder.model.s3path import S3Path
from layer_builder.steps.base import Step
from layer_builder.steps.package.step import PackageResult

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
        return cls.from_head(s3path, head)

    @classmethod
    def from_head(cls, s3path: S3Path, head: Mapping[str, Any]) -> UploadResult:
        """Describe an object from a HeadObject response already in hand."""
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


#: ``progress(bytes_sent, total_bytes)``: called as the upload goes (from worker threads).
ProgressCallback = Callable[[int, int], None]

#: Zips at least this large go up as a parallel multipart upload.
MULTIPART_THRESHOLD = 16 * 1024 * 1024
DEFAULT_TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=MULTIPART_THRESHOLD,
    multipart_chunksize=8 * 1024 * 1024,
    max_concurrency=8,
)


class UploadStep(Step):
    """Uploads to ``${s3dir_lambda}/layer/layer.zip`` with an S3-verified SHA-256 checksum.

    Nothing is sent when the object there already holds the same zip for the same manifest
    and fingerprint (``uploaded=False``). Zips from ``transfer_config.multipart_threshold``
    on go up in parallel parts, each verified by S3 against its SHA-256 checksum.
    """

    name = "upload"

    def __init__(
        self,
        s3_layout: LayerS3Layout,
        manifest: Manifest,
        s3: Any,
        progress: ProgressCallback | None = None,
        transfer_config: TransferConfig | None = None,
    ):
        self.s3_layout = s3_layout
        self.manifest = manifest
        self.s3 = s3
        self.progress = progress
        self.transfer_config = transfer_config or DEFAULT_TRANSFER_CONFIG

    def run(self, package: PackageResult) -> UploadResult:
        s3path = self.s3_layout.s3path_layer_zip
        metadata = {
            META_MANIFEST_SHA256: self.manifest.sha256,
            META_MANIFEST_FILE: self.manifest.filename,
            META_ZIP_SHA256: package.sha256,
            META_FINGERPRINT: package.fingerprint,
        }
        existing = head_object_or_none(self.s3, s3path)
        if existing is not None and _holds(existing, metadata):
            self.logger.info("%s already holds this zip: nothing to upload", s3path.uri)
            return self._result(package, existing, uploaded=False)
        what = f"uploading {package.path_zip.name} ({package.zip_size:,} bytes) to {s3path.uri}"
        with self.timed(what), aws_errors(f"uploading {package.path_zip} to {s3path.uri}"):
            if package.zip_size >= self.transfer_config.multipart_threshold:
                head = self._upload_multipart(package, s3path, metadata)
            else:
                head = self._put(package, s3path, metadata)
        result = self._result(package, head, uploaded=True)
        self.logger.info("uploaded %s", result.s3_uri)
        self.logger.info("console: %s", result.console_url)
        return result

    def _put(self, package: PackageResult, s3path: S3Path, metadata: dict[str, str]) -> Any:
        # S3 recomputes the checksum and refuses the object if a byte changed on the way.
        checksum = base64.b64encode(bytes.fromhex(package.sha256)).decode()
        with package.path_zip.open("rb") as body:
            response = self.s3.put_object(
                Bucket=s3path.bucket,
                Key=s3path.key,
                Body=body,
                ContentType="application/zip",
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                Metadata=metadata,
            )
        if self.progress:
            self.progress(package.zip_size, package.zip_size)
        return response

    def _upload_multipart(
        self, package: PackageResult, s3path: S3Path, metadata: dict[str, str]
    ) -> Any:
        sent = [0]
        lock = threading.Lock()

        def on_chunk(size: int) -> None:
            with lock:
                sent[0] += size
                if self.progress:
                    self.progress(sent[0], package.zip_size)

        self.s3.upload_file(
            str(package.path_zip),
            s3path.bucket,
            s3path.key,
            # Each part carries its SHA-256, which S3 verifies; the whole zip's is metadata.
            ExtraArgs={
                "ContentType": "application/zip",
                "ChecksumAlgorithm": "SHA256",
                "Metadata": metadata,
            },
            Config=self.transfer_config,
            Callback=on_chunk,
        )
        # upload_file returns nothing: read back what was stored (etag, version id).
        head = self.s3.head_object(Bucket=s3path.bucket, Key=s3path.key)
        if head.get("Metadata", {}).get(META_ZIP_SHA256) != package.sha256:
            raise StaleUploadError(
                f"{s3path.uri} was replaced while it was uploaded, probably by a concurrent "
                f"run: run the upload again"
            )
        return head

    def _result(self, package: PackageResult, response: Any, uploaded: bool) -> UploadResult:
        s3path = self.s3_layout.s3path_layer_zip
        return UploadResult(
            s3path=s3path,
            version_id=response.get("VersionId"),
            etag=response["ETag"],
            zip_sha256=package.sha256,
            manifest_sha256=self.manifest.sha256,
            fingerprint=package.fingerprint,
            console_url=s3path.console_url,
            uploaded=uploaded,
        )


def _holds(head: Mapping[str, Any], metadata: dict[str, str]) -> bool:
    """Whether an object's metadata says it is this very upload."""
    found = head.get("Metadata", {})
    return all(found.get(key) == value for key, value in metadata.items())
