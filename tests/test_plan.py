"""plan: what run would do, with no side effects."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from layer_builder import AwsClients, LocalAwsEndpoint
from layer_builder.operations.regions import RegionTarget
from layer_builder.operations.sharing import Grant
from layer_builder.plan import plan_run
from tests.aws_helpers import HandmadeWorkflow, count_calls, make_manifest, object_keys

READ_ONLY = {"HeadBucket", "ListLayerVersions", "HeadObject", "GetLayerVersionPolicy",
             "GetBucketVersioning", "ListMultipartUploads", "GetObject"}  # fmt: skip


def _workflow(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str, **kwargs: object
) -> HandmadeWorkflow:
    project = tmp_path / "project"
    if not project.exists():
        make_manifest(project)
    return HandmadeWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws, **kwargs)  # type: ignore[arg-type]


def test_plan_of_a_first_run_changes_nothing(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    workflow = _workflow(tmp_path, aws, bucket, layer_name, grants=[Grant.everyone()])
    calls = count_calls(aws)

    plan = plan_run(workflow)

    assert plan.build and plan.changes
    assert plan.upload == "upload layer.zip"
    assert plan.home.publish
    assert plan.home.reason == f"first version of layer {layer_name!r} for python3.12 x86_64"
    assert (plan.home.current_version, plan.home.next_version) == (None, 1)
    assert plan.home.grants_to_add == ("everyone",)
    assert set(calls.counts) <= READ_ONLY
    assert object_keys(aws, bucket) == []
    assert not workflow.layout.dir_build.exists()
    assert aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"] == []
    document = json.loads(json.dumps(plan.to_json()))
    assert document["publish"] is True
    assert document["next_version"] == 1
    assert document["s3_uri"] == f"s3://{bucket}/app/layer/layer.zip"


def test_plan_after_a_run_says_nothing_to_do(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    published = _workflow(tmp_path, aws, bucket, layer_name).run().publish

    plan = plan_run(_workflow(tmp_path, aws, bucket, layer_name))

    assert not plan.changes
    assert (plan.build, plan.upload, plan.home.publish) == (False, "none", False)
    assert plan.home.current_version == 1
    assert plan.home.current_version_arn == published.layer_version_arn
    assert plan.home.reason == "requirements.txt and build options unchanged since version 1"


def test_plan_sees_a_changed_manifest_and_new_grants(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    _workflow(tmp_path, aws, bucket, layer_name).run()
    granted = _workflow(tmp_path, aws, bucket, layer_name, grants=[Grant.account("210987654321")])
    assert plan_run(granted).home.grants_to_add == ("account 210987654321",)
    assert not plan_run(granted).build

    make_manifest(tmp_path / "project", b"tinyutil==1.1.0\n")
    plan = plan_run(_workflow(tmp_path, aws, bucket, layer_name))

    assert plan.build and plan.home.publish
    assert plan.home.reason == "requirements.txt changed since version 1"
    assert plan.home.next_version == 2


def test_plan_of_a_missing_region_needs_no_build(
    tmp_path: Path,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    moto_endpoint: LocalAwsEndpoint,
) -> None:
    _workflow(tmp_path, aws, bucket, layer_name).run()
    eu = f"test-eu-{uuid.uuid4().hex[:8]}"
    moto_endpoint.session().client(
        "s3", region_name="eu-west-1", endpoint_url=moto_endpoint.endpoint_url
    ).create_bucket(Bucket=eu, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    workflow = _workflow(
        tmp_path, aws, bucket, layer_name, regions=[RegionTarget("eu-west-1", f"s3://{eu}/app/")]
    )

    plan = plan_run(workflow)

    assert not plan.home.publish
    [eu_plan] = plan.regions
    assert (eu_plan.region, eu_plan.publish, eu_plan.next_version) == ("eu-west-1", True, 1)
    assert not plan.build  # the staged layer.zip is this build: copied, not rebuilt
    assert plan.changes
    assert object_keys(workflow.region_aws("eu-west-1"), eu) == []
