"""Step 3: put the zip on S3 under its own sha256, and stage a labelled copy as ``layer.zip``.

Lambda reads a version's zip from S3 when the publish call lands, not when it is made, so
the key it reads must never hold other bytes: ``layer/zips/<sha256>.zip`` is written only
with the bytes of that sha256. ``layer/layer.zip`` is a server-side copy carrying the labels
(manifest hash, fingerprint) of the latest upload; it is what ``layer-builder publish`` and
reruns read to find what was uploaded, never what Lambda reads.

Every zip goes up with a SHA-256 of its whole object that S3 computes and checks (a
multipart upload is copied onto itself to get one), so that the publish step can tell from
S3 alone that the object still holds the zip's bytes (``steps.zip_object``).
"""

from __future__ import annotations

import base64
import datetime
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from boto3.s3.transfer import TransferConfig

from layer_builder.aws.clients import aws_errors, head_object_or_none
from layer_builder.aws.console import s3_console_url
from layer_builder.aws.multipart import STALE_AGE, abort_stale_uploads
from layer_builder.errors import (
    AwsError,
    ConfigurationError,
    MismatchedBuildError,
    StaleUploadError,
)
from layer_builder.model.contents import LayerContents
from layer_builder.model.layout import LayerS3Layout
from layer_builder.model.manifest import Manifest
from layer_builder.model.s3path import S3Path
from layer_builder.steps.base import Step
from layer_builder.steps.package.step import PackageResult
from layer_builder.steps.upload_body import VerifiedReader, package_record, read_verified
from layer_builder.steps.zip_object import META_ZIP_SHA256 as META_ZIP_SHA256
from layer_builder.steps.zip_object import changed_after_upload, holds_zip, seal_whole_sha256
from layer_builder.steps.zip_object import head_zip_or_none as head_zip_or_none

# User metadata keys on the uploaded object (S3 stores them as x-amz-meta-<key>).
META_MANIFEST_SHA256 = "manifest-sha256"
META_MANIFEST_FILE = "manifest-file"
META_FINGERPRINT = "fingerprint"
#: The zip's target (from the package step's record), so that ``layer-builder publish``
#: needs no --python/--arch.
META_RUNTIME = "runtime"
META_ARCHITECTURE = "architecture"


@attrs.frozen
class UploadResult:
    """The exact S3 object a layer version will be published from, and its labels.

    ``s3path`` is the content-addressed ``layer/zips/<sha256>.zip`` (``version_id`` pins it
    further on a versioned bucket); ``manifest_sha256`` and ``fingerprint`` are the labels
    the version is published with.
    """

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
        """``s3://bucket/key`` of the object."""
        return str(self.s3path.uri)

    @classmethod
    def from_s3_object(cls, s3: Any, s3path: S3Path, version_id: str | None = None) -> UploadResult:
        """Describe an object from its labels (the metadata of ``layer/layer.zip``); to publish
        what was staged, use ``staged_upload()``, which names the immutable zip instead."""
        kwargs = {"VersionId": version_id} if version_id else {}
        with aws_errors(f"reading {s3path.uri}"):
            head = s3.head_object(Bucket=s3path.bucket, Key=s3path.key, **kwargs)
        return cls.from_head(s3path, head)

    def naming(
        self, s3path: S3Path, head: Mapping[str, Any], region: str | None = None
    ) -> UploadResult:
        """These labels, naming the object ``s3path`` (in a bucket of ``region``) that
        ``head`` (HeadObject) describes."""
        return attrs.evolve(
            self,
            s3path=s3path,
            version_id=head.get("VersionId"),
            etag=head["ETag"],
            console_url=s3_console_url(s3path, region),
        )

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


class UploadStep(Step[PackageResult, UploadResult]):
    """Uploads to ``${s3dir_lambda}/layer/zips/<sha256>.zip`` with S3-verified SHA-256
    checksums, then copies it (inside S3) to ``layer/layer.zip`` with the labels.

    The zip's sha256, fingerprint and target come from the package step's record beside it
    (``contents.json``); a zip whose bytes are not the recorded ones is refused. No byte is
    sent when the zip's key already holds its bytes, and nothing is written at all when
    ``layer.zip`` also carries this upload's labels (``uploaded=False``). Zips from
    ``transfer_config.multipart_threshold`` on go up in parallel parts, each verified by S3
    against its SHA-256, then are copied onto themselves for a SHA-256 of the whole object;
    an interrupted multipart upload is aborted (by s3transfer, on any exception including
    ``KeyboardInterrupt``), and one a killed run left under ``layer/zips/`` is aborted by a
    later upload once ``stale_upload_age`` old.
    """

    name = "upload"

    def __init__(
        self,
        s3_layout: LayerS3Layout,
        manifest: Manifest,
        s3: Any,
        progress: ProgressCallback | None = None,
        transfer_config: TransferConfig | None = None,
        *,
        expected_fingerprint: str | None = None,
        stale_upload_age: datetime.timedelta = STALE_AGE,
    ):
        self.s3_layout = s3_layout
        self.manifest = manifest
        self.s3 = s3
        self.progress = progress
        self.transfer_config = transfer_config or DEFAULT_TRANSFER_CONFIG
        #: The fingerprint of the build this step may upload (None: any build of the manifest).
        self.expected_fingerprint = expected_fingerprint
        #: Unfinished multipart uploads under ``layer/zips/`` started and last active this
        #: long ago are a killed run's: each upload aborts them.
        self.stale_upload_age = stale_upload_age

    def check(self, package: PackageResult) -> LayerContents:
        """The package step's record of the zip; refuse a zip that is not the one recorded,
        or that holds another manifest's build or (with ``expected_fingerprint``) another
        build: it would be labelled as this one."""
        # First the bytes: the identity below is the zip's own only for the recorded bytes.
        record = package_record(package.path_zip, package.sha256)
        identity = package.identity
        if identity is not None and identity.manifest_sha256 != self.manifest.sha256:
            raise MismatchedBuildError(
                f"{package.path_zip} was packaged from another {self.manifest.filename} than "
                f"the one in {self.manifest.project_dir}: run `layer-builder build` and "
                f"`layer-builder package` again (or `layer-builder run`) before uploading"
            )
        if self.expected_fingerprint not in (None, record.fingerprint):
            made_for = f" (made for {record.runtime} {record.architecture})"
            raise MismatchedBuildError(
                f"{package.path_zip} was packaged for another target or with other options"
                f"{made_for} than this command's: pass the --python, --arch and package "
                f"options given to `layer-builder package`, or package again"
            )
        return record

    def last_result(self) -> UploadResult:
        """What an earlier run of this step staged at ``layer/layer.zip``, naming the
        immutable zip to publish from (the publish step checks whose build it is)."""
        found = staged_upload(self.s3, self.s3_layout)
        if found is None:
            raise AwsError(
                f"nothing uploaded at {self.s3_layout.s3path_layer_zip.uri}: run "
                f"`layer-builder upload` first (or `layer-builder run`)"
            )
        return found

    def run(self, package: PackageResult) -> UploadResult:
        """Upload ``package``'s zip to its content-addressed key and stage it as ``layer.zip``."""
        record = self.check(package)
        s3path = self.s3_layout.s3path_zip(package.sha256)
        labels = {
            META_MANIFEST_SHA256: self.manifest.sha256,
            META_MANIFEST_FILE: self.manifest.filename,
            META_ZIP_SHA256: package.sha256,
            META_FINGERPRINT: record.fingerprint,
            META_RUNTIME: record.runtime,
            META_ARCHITECTURE: record.architecture,
        }
        head = head_zip_or_none(self.s3, s3path, package.sha256)
        sent = head is None
        if head is None:
            what = f"uploading {package.path_zip.name} ({package.zip_size:,} bytes) to {s3path.uri}"
            with self.timed(what), aws_errors(f"uploading {package.path_zip} to {s3path.uri}"):
                if package.zip_size >= self.transfer_config.multipart_threshold:
                    head = self._upload_multipart(package, s3path)
                else:
                    head = self._put(package, s3path)
        else:
            self.logger.info("%s already holds this zip: nothing to send", s3path.uri)
        staged = self._stage(s3path, head, labels, check_first=not sent)
        result = UploadResult(
            s3path=s3path,
            version_id=head.get("VersionId"),
            etag=head["ETag"],
            zip_sha256=package.sha256,
            manifest_sha256=self.manifest.sha256,
            fingerprint=record.fingerprint,
            console_url=s3_console_url(s3path, self.s3.meta.region_name),
            uploaded=sent,
        )
        if sent:
            self.logger.info("uploaded %s", result.s3_uri)
            self.logger.info("console: %s", result.console_url)
        elif staged:
            self.logger.info("staged it as %s", self.s3_layout.s3path_layer_zip.uri)
        self._abort_stale_uploads()
        return result

    def _put(self, package: PackageResult, s3path: S3Path) -> Any:
        # The bytes sent are the bytes hashed; S3 also recomputes the checksum and refuses
        # the object if a byte changed on the way.
        body = read_verified(package.path_zip, package.sha256)
        response = self.s3.put_object(
            Bucket=s3path.bucket,
            Key=s3path.key,
            Body=body,
            ContentType="application/zip",
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=base64.b64encode(bytes.fromhex(package.sha256)).decode(),
            Metadata={META_ZIP_SHA256: package.sha256},
        )
        if self.progress:
            self.progress(package.zip_size, package.zip_size)
        return response

    def _upload_multipart(self, package: PackageResult, s3path: S3Path) -> Any:
        sent = [0]
        lock = threading.Lock()

        def on_chunk(size: int) -> None:
            with lock:
                sent[0] += size
                if self.progress:
                    self.progress(sent[0], package.zip_size)

        # S3 verifies each part but keeps no SHA-256 of the whole object: the reader hashes
        # what is sent and fails the last read when it is not the packaged zip, and
        # s3transfer then aborts the upload instead of completing it. The copy below then
        # gives the object a SHA-256 of its whole bytes.
        with package.path_zip.open("rb") as raw:
            body = VerifiedReader(raw, package.path_zip, package.sha256, package.zip_size)
            self.s3.upload_fileobj(
                body,
                s3path.bucket,
                s3path.key,
                ExtraArgs={
                    "ContentType": "application/zip",
                    "ChecksumAlgorithm": "SHA256",
                    "Metadata": {META_ZIP_SHA256: package.sha256},
                },
                Config=self.transfer_config,
                Callback=on_chunk,
            )
        sealed = seal_whole_sha256(self.s3, s3path, package.sha256)
        if sealed is None:
            raise StaleUploadError(
                f"{s3path.uri} was deleted or replaced right after it was uploaded (by a "
                f"prune or a hand-made change?): run the upload again"
            )
        return sealed

    def _abort_stale_uploads(self) -> None:
        """Abort what killed runs left unfinished under ``layer/zips/``: housekeeping, so a
        caller that may not list or abort them (``s3:ListBucketMultipartUploads``) is only
        warned."""
        try:
            abort_stale_uploads(self.s3, self.s3_layout.s3dir_zips, self.stale_upload_age)
        except AwsError as exc:
            self.logger.warning("not aborting unfinished uploads left by killed runs: %s", exc)

    def _stage(
        self, s3path: S3Path, head: Mapping[str, Any], labels: dict[str, str], check_first: bool
    ) -> bool:
        """Copy the zip to ``layer/layer.zip`` with ``labels``, unless it is there already."""
        staging = self.s3_layout.s3path_layer_zip
        if check_first:
            found = head_object_or_none(self.s3, staging)
            if found is not None and _holds(found, labels):
                self.logger.info("%s already stages this upload", staging.uri)
                return False
        source = {"Bucket": s3path.bucket, "Key": s3path.key}
        if head.get("VersionId"):
            source["VersionId"] = head["VersionId"]
        with aws_errors(f"copying {s3path.uri} to {staging.uri}"):
            self.s3.copy_object(
                Bucket=staging.bucket,
                Key=staging.key,
                CopySource=source,
                MetadataDirective="REPLACE",
                ContentType="application/zip",
                Metadata=labels,
                ChecksumAlgorithm="SHA256",
            )
        return True


def staged_upload(s3: Any, s3_layout: LayerS3Layout) -> UploadResult | None:
    """What ``layer/layer.zip`` stages, naming the immutable zip to publish from; None when
    nothing is staged. Raises ``AwsError`` for a ``layer.zip`` that ``layer_builder`` did
    not write, ``StaleUploadError`` when the zip it names is gone (pruned)."""
    staging = s3_layout.s3path_layer_zip
    head = head_object_or_none(s3, staging)
    if head is None:
        return None
    return zip_of(s3, s3_layout, UploadResult.from_head(staging, head))


def zip_of(s3: Any, s3_layout: LayerS3Layout, labels: UploadResult) -> UploadResult:
    """``labels`` (read from ``layer.zip``) pointing at the content-addressed zip they name."""
    try:
        s3path = s3_layout.s3path_zip(labels.zip_sha256)
    except ConfigurationError:
        raise AwsError(
            f"{labels.s3_uri} carries a zip-sha256 that is not a sha256 "
            f"({labels.zip_sha256!r}): run `layer-builder upload` again"
        ) from None
    head = head_object_or_none(s3, s3path, checksum=True)
    if head is None:
        raise StaleUploadError(
            f"{s3path.uri}, the zip that {labels.s3_uri} stages, no longer exists: run "
            f"`layer-builder upload` again"
        )
    if not holds_zip(s3, s3path, head, labels.zip_sha256):
        fix = "run `layer-builder upload` again"
        raise changed_after_upload(s3path, labels.zip_sha256, fix, staged_by=labels.s3path)
    return labels.naming(s3path, head, s3.meta.region_name)


def _holds(head: Mapping[str, Any], metadata: dict[str, str]) -> bool:
    """Whether an object's metadata says it is this very upload."""
    found = head.get("Metadata", {})
    return all(found.get(key) == value for key, value in metadata.items())
