"""One build published to several regions against the moto server."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from layer_builder import AwsClients, AwsError, ConfigurationError, LocalAwsEndpoint, VersionStamp
from layer_builder.errors import RegionsFailedError
from layer_builder.operations.regions import RegionTarget
from layer_builder.operations.sharing import Grant
from tests.aws_helpers import HandmadeWorkflow, count_calls, failing, make_manifest, object_keys

RegionBucket = Callable[[str], str]


@pytest.fixture
def region_bucket(moto_endpoint: LocalAwsEndpoint) -> RegionBucket:
    def make(region: str) -> str:
        name = f"test-{region}-{uuid.uuid4().hex[:8]}"
        s3 = moto_endpoint.session().client(
            "s3", region_name=region, endpoint_url=moto_endpoint.endpoint_url
        )
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        return name

    return make


def _workflow(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str, regions: list[RegionTarget]
) -> HandmadeWorkflow:
    project = tmp_path / "project"
    if not project.exists():
        make_manifest(project)
    return HandmadeWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws, regions=regions)


def test_one_build_is_published_in_two_more_regions(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str, region_bucket: RegionBucket
) -> None:
    eu, west = region_bucket("eu-west-1"), region_bucket("us-west-2")
    regions = [
        RegionTarget("eu-west-1", f"s3://{eu}/eu/lambda/"),
        RegionTarget.parse(f"us-west-2=s3://{west}/west/"),
    ]
    workflow = _workflow(tmp_path, aws, bucket, layer_name, regions)
    eu_calls = count_calls(workflow.region_aws("eu-west-1"))

    result = workflow.run()

    assert result.publish.published
    # Copied by S3 itself, not uploaded again from this machine.
    # zip; lock, contents record, SBOM, 3 backups
    assert (eu_calls["CopyObject"], eu_calls["PutObject"]) == (1, 6)
    assert [r.region for r in result.regions] == ["eu-west-1", "us-west-2"]
    for region_result, region in zip(result.regions, ("eu-west-1", "us-west-2"), strict=True):
        assert region_result.ok
        assert region_result.publish is not None and region_result.publish.published
        assert region_result.publish.layer_version == 1
        assert region_result.publish.layer_version_arn == (
            f"arn:aws:lambda:{region}:123456789012:layer:{layer_name}:1"
        )
        assert region_result.copy is not None
        assert region_result.copy.zip_sha256 == result.upload.zip_sha256  # type: ignore[union-attr]
    eu_s3 = workflow.region_aws("eu-west-1").s3
    zip_sha256 = result.upload.zip_sha256  # type: ignore[union-attr]
    # The same content-addressed key as at home; the labels travel in the Description.
    assert object_keys(workflow.region_aws("eu-west-1"), eu) == [
        "eu/lambda/layer/000001/contents.json",
        "eu/lambda/layer/000001/requirements.txt",
        "eu/lambda/layer/000001/sbom.cdx.json",
        "eu/lambda/layer/last-requirements.txt",
        "eu/lambda/layer/targets/python3.12-x86_64/last-requirements.txt",
        f"eu/lambda/layer/zips/{zip_sha256}.zip",
    ]
    head = eu_s3.head_object(Bucket=eu, Key=f"eu/lambda/layer/zips/{zip_sha256}.zip")
    assert head["Metadata"] == {"zip-sha256": zip_sha256}
    eu_version = workflow.region_aws("eu-west-1").lambda_.get_layer_version(
        LayerName=layer_name, VersionNumber=1
    )
    assert base64.b64decode(eu_version["Content"]["CodeSha256"]).hex() == zip_sha256
    stamp = VersionStamp.from_description(eu_version["Description"])
    assert stamp is not None and stamp.fingerprint == workflow.fingerprint
    # Each region's layer is its own: the home region still has exactly one version.
    assert len(aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"]) == 1


def test_unchanged_rerun_touches_no_region(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str, region_bucket: RegionBucket
) -> None:
    regions = [RegionTarget("eu-west-1", f"s3://{region_bucket('eu-west-1')}/app/")]
    _workflow(tmp_path, aws, bucket, layer_name, regions).run()
    workflow = _workflow(tmp_path, aws, bucket, layer_name, regions)
    home_calls = count_calls(aws)
    eu_calls = count_calls(workflow.region_aws("eu-west-1"))

    result = workflow.run()

    assert result.skipped
    [eu_result] = result.regions
    assert eu_result.publish is not None and not eu_result.publish.published
    assert eu_result.copy is None
    for calls in (home_calls, eu_calls):
        for operation in ("PutObject", "CopyObject", "PublishLayerVersion"):
            assert calls[operation] == 0


def test_rerun_after_a_region_failed_finishes_it_without_building(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str, region_bucket: RegionBucket
) -> None:
    eu, west = region_bucket("eu-west-1"), region_bucket("us-west-2")
    regions = [
        RegionTarget("eu-west-1", f"s3://{eu}/app/"),
        RegionTarget("us-west-2", f"s3://{west}/app/"),
    ]
    workflow = _workflow(tmp_path, aws, bucket, layer_name, regions)
    with (
        failing(workflow.region_aws("eu-west-1").lambda_, "PublishLayerVersion"),
        pytest.raises(RegionsFailedError) as info,
    ):
        workflow.run()
    zip_key = f"app/layer/zips/{workflow.staged_upload().zip_sha256}.zip"  # type: ignore[union-attr]
    assert str(info.value) == (
        f"1 of 2 regions failed (eu-west-1: publishing layer {layer_name!r} from "
        f"s3://{eu}/{zip_key} failed: InternalError injected failure: see the AWS "
        "error above); 1 done: run again to finish the failed ones"
    )
    assert [r.ok for r in info.value.results] == [False, True]

    rerun = _workflow(tmp_path, aws, bucket, layer_name, regions)
    result = rerun.run()

    assert result.skipped  # served from the zip staged at home, nothing rebuilt
    eu_result, west_result = result.regions
    assert eu_result.publish is not None and eu_result.publish.published
    assert west_result.publish is not None and not west_result.publish.published


def test_region_given_twice_is_refused(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    regions = [RegionTarget("us-east-1", f"s3://{bucket}/other/")]
    workflow = _workflow(tmp_path, aws, bucket, layer_name, regions)
    with pytest.raises(ConfigurationError) as info:
        workflow.run()
    assert str(info.value) == (
        "region 'us-east-1' is given twice (the home region is 'us-east-1'): give each extra "
        "region once with --replicate-to"
    )


def test_missing_region_bucket_fails_before_any_build(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    regions = [RegionTarget("eu-west-1", "s3://no-such-bucket-eu/app/")]
    workflow = _workflow(tmp_path, aws, bucket, layer_name, regions)
    with pytest.raises(AwsError) as info:
        workflow.run()
    assert str(info.value) == (
        "S3 bucket 'no-such-bucket-eu' does not exist: create it or pass another --s3dir"
    )
    assert not workflow.layout.dir_build.exists()


@pytest.mark.parametrize("text", ["eu-west-1", "=s3://b/", "eu-west-1="])
def test_bad_region_target_says_the_form(text: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        RegionTarget.parse(text)
    assert str(info.value) == (
        f"invalid region target {text!r}: expected REGION=s3://bucket/prefix/ "
        "(e.g. --replicate-to eu-west-1=s3://my-bucket-eu-west-1/app/lambda/)"
    )


def test_a_misspelt_region_is_refused_before_any_call() -> None:
    # It used to reach botocore, whose InvalidRegionError read as a bad endpoint URL.
    with pytest.raises(ConfigurationError) as info:
        RegionTarget.parse("eu_west_1=s3://my-bucket-eu/app/lambda/")
    assert str(info.value) == (
        "invalid AWS region 'eu_west_1': expected a region name such as us-east-1 or "
        "eu-west-1 (--replicate-to)"
    )


# Every AWS call made in an extra region by a first run, in order.
REGION_CALLS = [
    ("s3", "HeadBucket", 1),
    ("lambda_", "ListLayerVersions", 1),  # does the region hold the build?
    ("s3", "HeadObject", 1),  # is the zip already copied?
    ("s3", "CopyObject", 1),
    ("s3", "PutObject", 1),  # the region's publish lock
    ("lambda_", "ListLayerVersions", 2),
    ("s3", "HeadObject", 2),  # is the copy still there?
    ("lambda_", "PublishLayerVersion", 1),
    ("s3", "PutObject", 2),  # 000001/contents.json
    ("s3", "PutObject", 3),  # 000001/sbom.cdx.json
    ("s3", "PutObject", 4),  # 000001/requirements.txt
    ("s3", "PutObject", 5),  # last-requirements.txt
    ("s3", "PutObject", 6),  # targets/python3.12-x86_64/last-requirements.txt
]


@pytest.mark.parametrize("after", [False, True], ids=["request-lost", "response-lost"])
@pytest.mark.parametrize(("client", "operation", "nth"), REGION_CALLS)
def test_rerun_after_a_failure_in_a_region_converges(
    tmp_path: Path,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    region_bucket: RegionBucket,
    client: str,
    operation: str,
    nth: int,
    after: bool,
) -> None:
    eu = region_bucket("eu-west-1")
    regions = [RegionTarget("eu-west-1", f"s3://{eu}/app/")]
    workflow = _workflow(tmp_path, aws, bucket, layer_name, regions)
    eu_aws = workflow.region_aws("eu-west-1")
    with (
        failing(getattr(eu_aws, client), operation, nth, after) as seen,
        pytest.raises(AwsError, match="InternalError injected failure"),
    ):
        workflow.run()
    assert seen[0] == nth

    rerun = _workflow(tmp_path, aws, bucket, layer_name, regions)
    result = rerun.run()

    [eu_result] = result.regions
    assert eu_result.ok and eu_result.publish is not None
    assert eu_result.publish.layer_version == 1
    versions = eu_aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [1]
    assert object_keys(eu_aws, eu) == [
        "app/layer/000001/contents.json",
        "app/layer/000001/requirements.txt",
        "app/layer/000001/sbom.cdx.json",
        "app/layer/last-requirements.txt",
        "app/layer/targets/python3.12-x86_64/last-requirements.txt",
        f"app/layer/zips/{result.zip_sha256}.zip",
    ]
    home = aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert [v["Version"] for v in home] == [1]


def test_grants_reach_every_region(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str, region_bucket: RegionBucket
) -> None:
    regions = [RegionTarget("eu-west-1", f"s3://{region_bucket('eu-west-1')}/app/")]
    project = tmp_path / "project"
    make_manifest(project)
    workflow = HandmadeWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws,
                                regions=regions, grants=[Grant.everyone()])  # fmt: skip

    result = workflow.run()

    assert [g.layer_version_arn.split(":")[3] for g in result.grants] == ["us-east-1", "eu-west-1"]
    eu_lambda = workflow.region_aws("eu-west-1").lambda_
    policy = eu_lambda.get_layer_version_policy(LayerName=layer_name, VersionNumber=1)
    [statement] = json.loads(policy["Policy"])["Statement"]
    assert statement["Sid"] == "layer-builder-public"
