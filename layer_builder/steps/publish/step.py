"""Step 4: publish a layer version from the uploaded object, only when the build changed."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import botocore.exceptions

from layer_builder.aws.clients import AwsClients, aws_errors, head_object_or_none, is_not_found
from layer_builder.errors import MismatchedBuildError, StaleUploadError
from layer_builder.model.fingerprint import VersionStamp
from layer_builder.model.layout import LayerS3Layout
from layer_builder.model.manifest import Manifest
from layer_builder.model.s3path import S3Path
from layer_builder.model.target import LayerTarget, TargetSet
from layer_builder.steps.base import Step
from layer_builder.steps.publish.lock import PublishLock
from layer_builder.steps.publish.options import (
    PublishOptions,
    check_storage_mode_supported,
    reference_needs_versioning,
    validate_layer_name,
)
from layer_builder.steps.publish.records import VersionRecords, manifest_backup
from layer_builder.steps.publish.versions import Comparison, compare, newest_versions
from layer_builder.steps.publish.versions import PublishedVersion as PublishedVersion
from layer_builder.steps.publish.versions import decide_publish as decide_publish
from layer_builder.steps.publish.versions import latest_layer_version as latest_layer_version
from layer_builder.steps.publish.versions import layer_code_sha256 as layer_code_sha256
from layer_builder.steps.upload import UploadResult
from layer_builder.steps.zip_object import changed_after_upload, holds_zip

#: The publish lock's name under ``layer/``.
LOCK_NAME = ".publish.lock"
#: What to do about an object that no longer holds the zip it was uploaded with.
UPLOAD_AGAIN = "run `layer-builder upload` again (or `layer-builder run`), then publish"


@attrs.frozen(kw_only=True)
class PublishResult:
    """Whether a version was published, why, and the version that holds the dependencies."""

    published: bool
    reason: str
    layer_version: int
    layer_version_arn: str
    s3path_manifest: S3Path | None = None
    #: The sha256 of the zip the version holds, when known.
    zip_sha256: str | None = None
    #: The version is a universal layer's (one pure-Python zip declared for several targets).
    universal: bool = False


class PublishStep(Step[UploadResult, PublishResult]):
    """Publishes ``UploadResult``'s object as a new layer version when its fingerprint is new.

    The latest version's Description carries the fingerprint it was built from, so the
    decision needs no state but Lambda's. Deciding and publishing hold the publish lock
    (``layer/.publish.lock``, see ``steps.publish.lock``), so two runs of the same build make
    one version. Manifest backups are written only after the version exists; a rerun after
    a failure in between writes the missing ones. An upload made from another manifest, or
    (given ``expected_fingerprint``) from another build, is refused before anything happens.
    """

    name = "publish"

    def __init__(
        self,
        layer_name: str,
        target: LayerTarget,
        manifest: Manifest,
        s3_layout: LayerS3Layout,
        aws: AwsClients,
        options: PublishOptions | None = None,
        *,
        expected_fingerprint: str | None = None,
        records: VersionRecords | None = None,
        universal_fingerprint: str | None = None,
        targets: TargetSet | None = None,
    ):
        self.layer_name = validate_layer_name(layer_name)
        self.options = options or PublishOptions()
        self.target = target
        self.manifest = manifest
        self.s3_layout = s3_layout
        self.aws = aws
        #: The fingerprint of the build this step may publish (None: any build of the manifest).
        self.expected_fingerprint = expected_fingerprint
        #: Stored with each version published (``contents.json``, the SBOM), if given.
        self.records = records
        #: A version stamped with it (the universal layer of the same manifest and options)
        #: holds this build too (None: only the build's own fingerprint counts).
        self.universal_fingerprint = universal_fingerprint
        #: The targets the version declares: ``target`` alone, or a universal layer's set
        #: (each compared with the newest version that serves it).
        self.targets = targets or TargetSet([target])

    def check(self, upload: UploadResult) -> None:
        """Refuse an upload of another manifest or (with ``expected_fingerprint``) of
        another build: it would be published under this build's label."""
        if upload.manifest_sha256 != self.manifest.sha256:
            raise MismatchedBuildError(
                f"{upload.s3_uri} was built from another {self.manifest.filename} than the "
                f"one in {self.manifest.project_dir}: run `layer-builder run` (or build, "
                f"package and upload again) before publishing"
            )
        if self.expected_fingerprint not in (None, upload.fingerprint):
            raise MismatchedBuildError(
                f"{upload.s3_uri} was built for another target or package options than "
                f"{self.target.description}: pass the --python, --arch and --exclude it was "
                f"built with, or run `layer-builder run`"
            )

    def run(self, upload: UploadResult) -> PublishResult:
        """Publish the uploaded zip unless a version already holds it; under the publish lock."""
        self.check(upload)
        # One run at a time decides and publishes; a run that waited finds the version the
        # other made and reports it instead of publishing a twin.
        with self.make_lock():
            comparison = self.compare(upload.fingerprint)
            latest, publish, reason = comparison.latest, comparison.publish, comparison.reason
            publish, reason = self._compare_bytes(latest, publish, reason, upload)
            if latest is not None and not publish:
                return self._unchanged(comparison, upload.zip_sha256)
            self._check_object_unchanged(upload)
            version, arn = self._publish(upload)
            backup = self._write_backups(version, repair=False, zip_sha256=upload.zip_sha256)
        self.logger.info("published %s (%s)", arn, reason)
        return PublishResult(
            published=True,
            reason=reason,
            layer_version=version,
            layer_version_arn=arn,
            s3path_manifest=backup,
            zip_sha256=upload.zip_sha256,
            universal=len(self.targets) > 1,
        )

    def make_lock(self) -> PublishLock:
        """The lock held while deciding and publishing (``layer/.publish.lock``)."""
        return PublishLock(self.aws.s3, self.s3_layout.s3dir_layer.joinpath(LOCK_NAME))

    def latest(self) -> PublishedVersion | None:
        """The version a build of ``expected_fingerprint`` is compared with: the newest one
        this step's target can use (of a universal layer's set, the first target's newest
        that lacks the build); see ``compare``."""
        return self.compare(self.expected_fingerprint or "").latest

    def compare(self, fingerprint: str) -> Comparison:
        """The decision for a build of ``fingerprint`` over each target's newest version
        (``run``, ``check_unchanged`` and ``plan`` all ask here; see ``versions.compare``)."""
        newest = newest_versions(self.aws.lambda_, self.layer_name, self.targets)
        return compare(
            newest,
            fingerprint,
            self.manifest,
            self.layer_name,
            self.options.force,
            self.universal_fingerprint,
        )

    def check_unchanged(self, fingerprint: str, repair: bool = True) -> PublishResult | None:
        """The ``published=False`` result when the latest version already carries
        ``fingerprint``, found before anything is built; None when it does not or
        ``force`` is set. ``repair=False`` writes no missing manifest backup (for ``plan``)."""
        if self.options.force:
            return None  # no need to ask Lambda
        comparison = self.compare(fingerprint)
        latest = comparison.latest
        if latest is None or comparison.publish:
            return None
        zip_sha256 = layer_code_sha256(self.aws.lambda_, self.layer_name, latest.version)
        return self._unchanged(comparison, zip_sha256, repair, zip_known=True)

    def _unchanged(
        self,
        comparison: Comparison,
        zip_sha256: str | None,
        repair: bool = True,
        zip_known: bool = False,
    ) -> PublishResult:
        """``zip_known``: ``zip_sha256`` is the zip Lambda says the version holds, whose
        records may then be written again with a missing backup."""
        latest, reason = comparison.latest, comparison.reason
        assert latest is not None  # a build with no version to hold it is published
        if repair:
            records_of = zip_sha256 if zip_known else None
            # A target's backup follows its newest version: never one it does not get.
            serves = comparison.newest_at(latest.version)
            backup = self._write_backups(
                latest.version, repair=True, zip_sha256=records_of, targets=serves
            )
        else:
            backup = self.s3_layout.s3path_manifest_backup(latest.version, self.manifest.filename)
        self.logger.info("nothing to publish: %s (%s)", reason, latest.arn)
        return PublishResult(
            published=False,
            reason=reason,
            layer_version=latest.version,
            layer_version_arn=latest.arn,
            s3path_manifest=backup,
            zip_sha256=zip_sha256,
            universal=len(self.targets) > 1
            or (
                latest.stamp is not None and latest.stamp.fingerprint == self.universal_fingerprint
            ),
        )

    def _check_object_unchanged(self, upload: UploadResult) -> None:
        s3path = upload.s3path
        head = head_object_or_none(self.aws.s3, s3path, upload.version_id, checksum=True)
        if head is None:
            raise StaleUploadError(
                f"{s3path.uri} no longer exists: run the upload again before publishing"
            )
        # Its bytes, not its label: S3's SHA-256 of the whole object, else the object read.
        if not holds_zip(self.aws.s3, s3path, head, upload.zip_sha256):
            raise changed_after_upload(s3path, upload.zip_sha256, UPLOAD_AGAIN)

    def _compare_bytes(
        self, latest: PublishedVersion | None, publish: bool, reason: str, upload: UploadResult
    ) -> tuple[bool, str]:
        """``(publish, reason)`` once the bytes are compared too: a build that ``latest``
        holds by its label (its fingerprint) but not by its bytes (its ``CodeSha256``), as
        after a tree edited before it was packaged and then rebuilt, is published."""
        if publish or latest is None or latest.stamp is None:
            return publish, reason
        if latest.stamp.fingerprint != upload.fingerprint:
            return publish, reason  # held as the universal layer's: other bytes by design
        held = layer_code_sha256(self.aws.lambda_, self.layer_name, latest.version)
        if held is None or held == upload.zip_sha256:
            return publish, reason
        return True, (
            f"the zip's bytes differ from version {latest.version}'s (sha256 "
            f"{upload.zip_sha256[:12]} instead of {held[:12]}), {self.manifest.filename} and "
            f"build options unchanged"
        )

    def _check_code_sha256(self, response: Any, upload: UploadResult) -> None:
        """Lambda's ``CodeSha256`` of the version just published must be the zip's: one made
        from other bytes (the object replaced between the check and the publish) is deleted."""
        version = int(response["Version"])
        encoded = response.get("Content", {}).get("CodeSha256")
        if not encoded:
            self.logger.warning("Lambda gave no CodeSha256 for version %d: not compared", version)
            return
        held = base64.b64decode(encoded).hex()
        if held == upload.zip_sha256:
            return
        with aws_errors(f"deleting version {version} of layer {self.layer_name!r}"):
            self.aws.lambda_.delete_layer_version(LayerName=self.layer_name, VersionNumber=version)
        raise StaleUploadError(
            f"{upload.s3_uri} changed while version {version} of layer {self.layer_name!r} was "
            f"published from it (its CodeSha256 is the sha256 {held}, not the zip's "
            f"{upload.zip_sha256}): deleted version {version}; {UPLOAD_AGAIN}"
        )

    def _publish(self, upload: UploadResult) -> tuple[int, str]:
        content = {"S3Bucket": upload.s3path.bucket, "S3Key": upload.s3path.key}
        # Pinning the object version: a later upload to the same key cannot change what
        # this version is made from.
        if upload.version_id:
            content["S3ObjectVersion"] = upload.version_id
        mode = self.options.storage_mode
        if mode is not None:
            check_storage_mode_supported(self.aws.lambda_)
            if mode == "REFERENCE" and not upload.version_id:
                raise reference_needs_versioning(upload.s3path.bucket)
            content["S3ObjectStorageMode"] = mode
        stamp = VersionStamp(upload.fingerprint, upload.manifest_sha256)
        kwargs: dict[str, Any] = {
            "LayerName": self.layer_name,
            "Description": stamp.to_description(self.options.description),
            "Content": content,
            "CompatibleRuntimes": list(self.targets.runtimes),
            "CompatibleArchitectures": list(self.targets.architectures),
        }
        if self.options.license_info:
            kwargs["LicenseInfo"] = self.options.license_info
        with aws_errors(f"publishing layer {self.layer_name!r} from {upload.s3_uri}"):
            response = self.aws.lambda_.publish_layer_version(**kwargs)
        self._check_code_sha256(response, upload)
        return int(response["Version"]), str(response["LayerVersionArn"])

    def _write_backups(
        self,
        version: int,
        repair: bool,
        zip_sha256: str | None = None,
        targets: Sequence[LayerTarget] | None = None,
    ) -> S3Path:
        """Write the manifest as ``00000N/<manifest>``, ``last-<manifest>`` and
        ``targets/<target>/last-<manifest>`` of each target (of ``targets``, when given:
        those whose newest version ``version`` is); returns the first.

        ``repair=True`` (a rerun that found ``version`` already published) writes only the
        keys that lack it (a run stopped after publishing, a key deleted by hand), and
        ``last-<manifest>`` only when no newer version, of another target, has taken it.
        The version's records (``records``, for the zip ``zip_sha256`` when given) are written
        just before ``00000N/<manifest>``, which so marks a folder whose writes all happened:
        a repair that finds it missing writes the records again too.
        """
        filename = self.manifest.filename
        backup = self.s3_layout.s3path_manifest_backup(version, filename)
        last = self.s3_layout.s3path_last_manifest(filename)
        target_lasts = [
            self.s3_layout.s3path_target_last_manifest(t, filename)
            for t in (self.targets if targets is None else targets)
        ]
        paths = (backup, last, *target_lasts)
        # Every copy with its URLs' credentials masked, and metadata that says so.
        body, redacted = manifest_backup(self.manifest)
        found = self._read_backups(paths) if repair else [None] * len(paths)
        for s3path, state in zip(paths, found, strict=True):
            if state is not None:
                named, holds = state
                if (named == version and holds) or (s3path == last and named > version):
                    continue
            if s3path == backup and zip_sha256 and self.records is not None:
                self.records.store(self.aws.s3, self.s3_layout, version, zip_sha256)
            with aws_errors(f"writing the manifest backup {s3path.uri}"):
                self.aws.s3.put_object(
                    Bucket=s3path.bucket,
                    Key=s3path.key,
                    Body=body,
                    ContentType="text/plain",
                    Metadata={"layer-version": str(version), **redacted},
                )
        return backup

    def _read_backups(self, paths: Sequence[S3Path]) -> list[tuple[int, bool] | None]:
        """``_read_backup`` of each path, side by side: one round trip for the no-op rerun
        instead of one per key."""
        with ThreadPoolExecutor(max_workers=len(paths)) as pool:
            return list(pool.map(self._read_backup, paths))

    def _read_backup(self, s3path: S3Path) -> tuple[int, bool]:
        """The version a manifest backup names (its ``layer-version``; 0 when missing or
        unnamed), and whether it holds this manifest (as stored: credentials masked)."""
        try:
            response = self.aws.s3.get_object(Bucket=s3path.bucket, Key=s3path.key)
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc):
                return 0, False
            with aws_errors(f"reading {s3path.uri}"):
                raise
        with aws_errors(f"reading {s3path.uri}"):
            body = response["Body"].read()
        named = str(response.get("Metadata", {}).get("layer-version", ""))
        stored = manifest_backup(self.manifest)[0]
        return int(named) if named.isdigit() else 0, body == stored
