"""Step 4: publish a layer version from the uploaded object, only when the build changed."""

from __future__ import annotations

import base64
import re
from typing import Any

import attrs
import botocore.exceptions

from layer_builder.aws.clients import AwsClients, aws_errors, head_object_or_none, is_not_found
from layer_builder.errors import ConfigurationError, MismatchedBuildError, StaleUploadError
from layer_builder.model.fingerprint import VersionStamp
from layer_builder.model.layout import LayerS3Layout
from layer_builder.model.manifest import Manifest
from layer_builder.model.s3path import S3Path
from layer_builder.model.target import LayerTarget
from layer_builder.steps.base import Step
from layer_builder.steps.publish.lock import PublishLock
from layer_builder.steps.upload import META_ZIP_SHA256, UploadResult

LAYER_NAME = re.compile(r"[A-Za-z0-9_-]{1,140}")
#: Lambda allows 256 characters of Description; the version stamp takes the rest.
MAX_DESCRIPTION_PREFIX = 256 - len(VersionStamp("0" * 64, "0" * 64).to_description()) - 1
MAX_LICENSE_INFO = 512
#: The publish lock's name under ``layer/``.
LOCK_NAME = ".publish.lock"


def validate_layer_name(name: str) -> str:
    if not LAYER_NAME.fullmatch(name or ""):
        raise ConfigurationError(
            f"invalid layer name {name!r}: use 1 to 140 letters, digits, '-' or '_' "
            f"(e.g. --layer-name my_app_deps)"
        )
    return name


def _check_layer_name(_: object, __: object, value: str) -> None:
    validate_layer_name(value)


def _check_description(_: object, __: object, value: str) -> None:
    if len(value) > MAX_DESCRIPTION_PREFIX:
        raise ConfigurationError(
            f"description is {len(value)} characters, over the {MAX_DESCRIPTION_PREFIX} that "
            f"fit next to the version stamp in Lambda's 256: shorten --description"
        )


STORAGE_MODES = ("COPY", "REFERENCE")


def _check_storage_mode(_: object, __: object, value: str | None) -> None:
    if value is not None and value not in STORAGE_MODES:
        raise ConfigurationError(
            f"unknown storage mode {value!r}: choose COPY or REFERENCE (--storage-mode)"
        )


def check_storage_mode_supported(lambda_: Any) -> None:
    """Refuse ``S3ObjectStorageMode`` when the installed botocore does not know it."""
    operation = lambda_.meta.service_model.operation_model("PublishLayerVersion")
    if "S3ObjectStorageMode" not in operation.input_shape.members["Content"].members:
        raise ConfigurationError(
            "the installed boto3/botocore does not know Lambda's S3ObjectStorageMode: "
            "upgrade boto3, or drop --storage-mode"
        )


def reference_needs_versioning(bucket: str) -> ConfigurationError:
    return ConfigurationError(
        f"storage mode REFERENCE needs a versioned bucket and s3://{bucket}/ is not versioned: "
        f"enable versioning on it, or drop --storage-mode REFERENCE"
    )


def require_versioned_bucket(s3: Any, bucket: str) -> None:
    """Fail before any work when REFERENCE storage is asked of an unversioned bucket."""
    with aws_errors(f"reading the versioning of S3 bucket {bucket!r}"):
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    if status != "Enabled":
        raise reference_needs_versioning(bucket)


def _check_license_info(_: object, __: object, value: str | None) -> None:
    if value is not None and len(value) > MAX_LICENSE_INFO:
        raise ConfigurationError(
            f"license info is {len(value)} characters, over Lambda's {MAX_LICENSE_INFO}: "
            f"shorten --license-info (an SPDX identifier or a URL)"
        )


@attrs.frozen
class PublishResult:
    """Whether a version was published, why, and the version that holds the dependencies."""

    published: bool
    reason: str
    layer_version: int
    layer_version_arn: str
    s3path_manifest: S3Path | None = None
    #: The sha256 of the zip the version holds, when known.
    zip_sha256: str | None = None


@attrs.frozen
class PublishedVersion:
    """The latest version of a layer as Lambda reports it."""

    version: int
    arn: str
    stamp: VersionStamp | None


def layer_code_sha256(lambda_: Any, layer_name: str, version: int) -> str | None:
    """The sha256 (hex) of the zip a layer version holds, as Lambda reports it."""
    with aws_errors(f"reading version {version} of layer {layer_name!r}"):
        response = lambda_.get_layer_version(LayerName=layer_name, VersionNumber=version)
    encoded = response.get("Content", {}).get("CodeSha256")
    return base64.b64decode(encoded).hex() if encoded else None


def latest_layer_version(lambda_: Any, layer_name: str) -> PublishedVersion | None:
    """The newest version of ``layer_name``, or None when it has none."""
    with aws_errors(f"listing versions of layer {layer_name!r}"):
        response = lambda_.list_layer_versions(LayerName=layer_name)
    versions = response.get("LayerVersions", [])
    if not versions:
        return None
    newest = max(versions, key=lambda v: v["Version"])
    return PublishedVersion(
        version=newest["Version"],
        arn=newest["LayerVersionArn"],
        stamp=VersionStamp.from_description(newest.get("Description")),
    )


def decide_publish(
    latest: PublishedVersion | None,
    fingerprint: str,
    manifest: Manifest,
    layer_name: str,
    force: bool = False,
) -> tuple[bool, str]:
    """Whether a build with ``fingerprint`` makes a new version over ``latest``, and why."""
    filename = manifest.filename
    if latest is None:
        return True, f"first version of layer {layer_name!r}"
    if force:
        return True, f"forced (--force) over version {latest.version}"
    if latest.stamp is None:
        return True, f"version {latest.version} was not published by layer_builder"
    if latest.stamp.fingerprint == fingerprint:
        return False, f"{filename} and build options unchanged since version {latest.version}"
    if latest.stamp.manifest_sha256 != manifest.sha256:
        return True, f"{filename} changed since version {latest.version}"
    return True, f"the target or package options changed since version {latest.version}"


@attrs.frozen
class PublishOptions:
    """What the user decides about the versions published."""

    layer_name: str = attrs.field(validator=_check_layer_name)
    description: str = attrs.field(default="", validator=_check_description)
    license_info: str | None = attrs.field(default=None, validator=_check_license_info)
    force: bool = False
    #: Lambda's ``S3ObjectStorageMode``: None (Lambda's default, a copy), ``COPY`` or
    #: ``REFERENCE`` (Lambda reads the S3 object itself; needs a versioned bucket).
    storage_mode: str | None = attrs.field(default=None, validator=_check_storage_mode)


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
        options: PublishOptions,
        target: LayerTarget,
        manifest: Manifest,
        s3_layout: LayerS3Layout,
        aws: AwsClients,
        *,
        expected_fingerprint: str | None = None,
    ):
        self.options = options
        self.target = target
        self.manifest = manifest
        self.s3_layout = s3_layout
        self.aws = aws
        #: The fingerprint of the build this step may publish (None: any build of the manifest).
        self.expected_fingerprint = expected_fingerprint

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
        self.check(upload)
        # One run at a time decides and publishes; a run that waited finds the version the
        # other made and reports it instead of publishing a twin.
        with self.make_lock():
            latest = latest_layer_version(self.aws.lambda_, self.options.layer_name)
            publish, reason = self.decide(latest, upload.fingerprint)
            if latest is not None and not publish:
                return self._unchanged(latest, reason, upload.zip_sha256)
            self._check_object_unchanged(upload)
            version, arn = self._publish(upload)
            backup = self._write_backups(version, only_if_missing=False)
        self.logger.info("published %s (%s)", arn, reason)
        return PublishResult(True, reason, version, arn, backup, upload.zip_sha256)

    def make_lock(self) -> PublishLock:
        """The lock held while deciding and publishing (``layer/.publish.lock``)."""
        return PublishLock(self.aws.s3, self.s3_layout.s3dir_layer.joinpath(LOCK_NAME))

    def check_unchanged(self, fingerprint: str, repair: bool = True) -> PublishResult | None:
        """The ``published=False`` result when the latest version already carries
        ``fingerprint``, found before anything is built; None when it does not or
        ``force`` is set. ``repair=False`` writes no missing manifest backup (for ``plan``)."""
        if self.options.force:
            return None  # no need to ask Lambda
        latest = latest_layer_version(self.aws.lambda_, self.options.layer_name)
        publish, reason = self.decide(latest, fingerprint)
        if latest is None or publish:
            return None
        zip_sha256 = layer_code_sha256(self.aws.lambda_, self.options.layer_name, latest.version)
        return self._unchanged(latest, reason, zip_sha256, repair)

    def decide(self, latest: PublishedVersion | None, fingerprint: str) -> tuple[bool, str]:
        """Whether to publish over ``latest``, and why (see ``decide_publish``)."""
        return decide_publish(
            latest, fingerprint, self.manifest, self.options.layer_name, self.options.force
        )

    def _unchanged(
        self, latest: PublishedVersion, reason: str, zip_sha256: str | None, repair: bool = True
    ) -> PublishResult:
        if repair:
            backup = self._write_backups(latest.version, only_if_missing=True)
        else:
            backup = self.s3_layout.s3path_manifest_backup(latest.version, self.manifest.filename)
        self.logger.info("nothing to publish: %s (%s)", reason, latest.arn)
        return PublishResult(False, reason, latest.version, latest.arn, backup, zip_sha256)

    def _check_object_unchanged(self, upload: UploadResult) -> None:
        s3path = upload.s3path
        head = head_object_or_none(self.aws.s3, s3path, upload.version_id)
        if head is None:
            raise StaleUploadError(
                f"{s3path.uri} no longer exists: run the upload again before publishing"
            )
        found = head.get("Metadata", {}).get(META_ZIP_SHA256)
        if found != upload.zip_sha256:
            raise StaleUploadError(
                f"{s3path.uri} was replaced since it was uploaded (zip sha256 {found} instead "
                f"of {upload.zip_sha256}), probably by a concurrent run: upload again, then publish"
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
            "LayerName": self.options.layer_name,
            "Description": stamp.to_description(self.options.description),
            "Content": content,
            "CompatibleRuntimes": [self.target.runtime],
            "CompatibleArchitectures": [self.target.architecture],
        }
        if self.options.license_info:
            kwargs["LicenseInfo"] = self.options.license_info
        with aws_errors(f"publishing layer {self.options.layer_name!r} from {upload.s3_uri}"):
            response = self.aws.lambda_.publish_layer_version(**kwargs)
        return int(response["Version"]), str(response["LayerVersionArn"])

    def _write_backups(self, version: int, only_if_missing: bool) -> S3Path:
        """Write ``00000N/<manifest>`` and ``last-<manifest>``; returns the first."""
        filename = self.manifest.filename
        backup = self.s3_layout.s3path_manifest_backup(version, filename)
        last = self.s3_layout.s3path_last_manifest(filename)
        for s3path in (backup, last):
            if only_if_missing and self._holds_manifest(s3path):
                continue
            with aws_errors(f"writing the manifest backup {s3path.uri}"):
                self.aws.s3.put_object(
                    Bucket=s3path.bucket,
                    Key=s3path.key,
                    Body=self.manifest.content,
                    ContentType="text/plain",
                    Metadata={"layer-version": str(version)},
                )
        return backup

    def _holds_manifest(self, s3path: S3Path) -> bool:
        try:
            body = self.aws.s3.get_object(Bucket=s3path.bucket, Key=s3path.key)["Body"].read()
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc):
                return False
            with aws_errors(f"reading {s3path.uri}"):
                raise
        return bool(body == self.manifest.content)
