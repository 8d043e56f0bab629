"""Publishing one build to several regions: a server-side copy and a publish per region.

Lambda reads a layer's zip only from a bucket in the layer's own region, so each region has
its own S3 folder (``RegionTarget``). The zip uploaded in the home region is copied there by
S3 itself (nothing goes through this machine again) to the same content-addressed key
(``layer/zips/<sha256>.zip``), and published by the same ``PublishStep`` as at home: a
region that already holds the build publishes nothing, so a rerun after a partial failure
finishes only the regions that are missing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from layer_builder.aws.clients import AwsClients, aws_errors
from layer_builder.aws.settings import check_region_name
from layer_builder.errors import ConfigurationError, LayerBuilderError, RegionsFailedError
from layer_builder.model.layout import LayerS3Layout, parse_s3dir
from layer_builder.model.s3path import S3Path
from layer_builder.steps.publish.step import PublishResult, PublishStep
from layer_builder.steps.upload import UploadResult, head_zip_or_none

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CopySourceTypeDef

logger = logging.getLogger(__name__)


@attrs.frozen
class RegionTarget:
    """A region to publish in, and the S3 folder (in a bucket of that region) it reads from."""

    region: str = attrs.field(
        validator=lambda _, __, value: check_region_name(value, "--replicate-to")
    )
    s3dir_lambda: S3Path = attrs.field(converter=parse_s3dir)

    @classmethod
    def parse(cls, text: str) -> RegionTarget:
        """``eu-west-1=s3://bucket-eu/app/lambda/`` (the ``--replicate-to`` flag's form)."""
        region, sep, s3dir = text.partition("=")
        if not sep or not region.strip() or not s3dir.strip():
            raise ConfigurationError(
                f"invalid region target {text!r}: expected REGION=s3://bucket/prefix/ "
                f"(e.g. --replicate-to eu-west-1=s3://my-bucket-eu-west-1/app/lambda/)"
            )
        return cls(region.strip(), s3dir.strip())


@attrs.frozen
class RegionResult:
    """What happened in one region: the copied object (None when nothing needed copying)
    and the publish outcome, or the error that stopped that region."""

    region: str
    publish: PublishResult | None
    copy: UploadResult | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the region was served (published or found unchanged)."""
        return self.error is None


def check_regions(home_region: str, regions: Sequence[RegionTarget]) -> None:
    """Refuse a region given twice, or the home region given again."""
    seen = {home_region}
    for target in regions:
        if target.region in seen:
            raise ConfigurationError(
                f"region {target.region!r} is given twice (the home region is "
                f"{home_region!r}): give each extra region once with --replicate-to"
            )
        seen.add(target.region)


class RegionPublisher:
    """Copies the home region's upload into one region and publishes it there."""

    def __init__(self, target: RegionTarget, aws: AwsClients, publish_step: PublishStep):
        self.target = target
        self.aws = aws
        self.publish_step = publish_step
        self.s3_layout = LayerS3Layout(target.s3dir_lambda)

    def run(self, source: UploadResult | None, fingerprint: str) -> RegionResult:
        """``source`` None: only report the region when it already holds ``fingerprint``."""
        unchanged = self.publish_step.check_unchanged(fingerprint)
        if unchanged is not None:
            return RegionResult(self.target.region, unchanged)
        if source is None:
            raise ConfigurationError(
                f"region {self.target.region} lacks this build and no upload was given"
            )
        copy = self.copy(source)
        return RegionResult(self.target.region, self.publish_step.run(copy), copy)

    def copy(self, source: UploadResult) -> UploadResult:
        """Server-side copy of ``source`` to this region's ``layer/zips/<sha256>.zip``, unless
        that zip is there already; the result carries ``source``'s labels."""
        dest = self.s3_layout.s3path_zip(source.zip_sha256)
        s3 = self.aws.s3
        existing = head_zip_or_none(s3, dest, source.zip_sha256)
        if existing is not None:
            logger.info("%s already holds this zip: nothing to copy", dest.uri)
            return attrs.evolve(source, uploaded=False).naming(dest, existing, self.aws.region)
        copy_source: CopySourceTypeDef = {"Bucket": source.s3path.bucket, "Key": source.s3path.key}
        if source.version_id:
            copy_source["VersionId"] = source.version_id
        with aws_errors(f"copying {source.s3_uri} to {dest.uri} ({self.target.region})"):
            response = s3.copy_object(
                Bucket=dest.bucket,
                Key=dest.key,
                CopySource=copy_source,
                # Only the bytes ``source`` names, even if its key was overwritten since.
                CopySourceIfMatch=source.etag,
                MetadataDirective="COPY",
                ChecksumAlgorithm="SHA256",
            )
        logger.info("copied %s to %s", source.s3_uri, dest.uri)
        etag = response["CopyObjectResult"]["ETag"]
        head = {"VersionId": response.get("VersionId"), "ETag": etag}
        return attrs.evolve(source, uploaded=True).naming(dest, head, self.aws.region)


def publish_regions(
    publishers: Sequence[RegionPublisher], source: UploadResult | None, fingerprint: str
) -> tuple[RegionResult, ...]:
    """Every region in turn; one failing does not stop the others. Raises
    ``RegionsFailedError`` (carrying every result) when any failed."""
    results = []
    for publisher in publishers:
        region = publisher.target.region
        try:
            results.append(publisher.run(source, fingerprint))
        except LayerBuilderError as exc:
            logger.warning("region %s failed: %s", region, exc)
            results.append(RegionResult(region, None, error=str(exc)))
    if any(not r.ok for r in results):
        raise RegionsFailedError(results)
    return tuple(results)
