"""The checks a run makes before any work: the buckets it will write to, home and extra."""

from __future__ import annotations

from collections.abc import Sequence

from layer_builder.aws.clients import AwsClients, check_bucket
from layer_builder.operations.regions import RegionTarget, check_regions
from layer_builder.steps.publish.options import (
    StorageMode,
    check_storage_mode_supported,
    require_versioned_bucket,
)


def check_buckets(
    aws: AwsClients,
    bucket: str,
    storage_mode: StorageMode | None,
    regions: Sequence[tuple[RegionTarget, AwsClients]] = (),
) -> None:
    """Refuse, before the build, a bucket that is missing, in another region than its
    clients, owned by another account, or unversioned where ``REFERENCE`` storage needs it;
    and Lambda's lack of ``storage_mode`` support."""
    check_bucket(aws.s3, bucket, aws.region)  # its errors are one line already
    if storage_mode is not None:
        check_storage_mode_supported(aws.lambda_)
    if storage_mode == "REFERENCE":
        require_versioned_bucket(aws.s3, bucket)
    check_regions(aws.region, [region for region, _ in regions])
    for region, region_aws in regions:
        region_bucket = region.s3dir_lambda.bucket
        check_bucket(region_aws.s3, region_bucket, region.region, replicated=True)
        if storage_mode == "REFERENCE":
            require_versioned_bucket(region_aws.s3, region_bucket)
