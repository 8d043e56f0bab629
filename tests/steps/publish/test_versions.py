"""One layer name, many targets: each build is compared with the newest version its own
target can use, in ``run``, the instant no-op and ``plan`` alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.stub
import pytest

from layer_builder import AwsClients, LayerTarget
from layer_builder.plan import plan_run
from layer_builder.steps.publish.versions import latest_layer_version
from tests.aws_helpers import HandmadeWorkflow, count_calls, make_manifest, object_keys

PY312_X86 = LayerTarget("3.12", "x86_64")
PY313_ARM = LayerTarget("3.13", "arm64")


def _workflow(
    project: Path, aws: AwsClients, bucket: str, layer_name: str, target: LayerTarget
) -> HandmadeWorkflow:
    return HandmadeWorkflow(project, layer_name, f"s3://{bucket}/app/", target, aws=aws)


def _read(aws: AwsClients, bucket: str, key: str) -> tuple[bytes, str]:
    response = aws.s3.get_object(Bucket=bucket, Key=f"app/layer/{key}")
    return response["Body"].read(), response["Metadata"]["layer-version"]


def test_alternating_two_targets_makes_two_versions_then_only_no_ops(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    outcomes = []
    for _round in range(3):
        for target in (PY312_X86, PY313_ARM):
            plan = plan_run(_workflow(project, aws, bucket, layer_name, target))
            result = _workflow(project, aws, bucket, layer_name, target).run()
            # plan said what run then did, and names the version run reports.
            assert plan.home.publish == result.publish.published
            if not plan.home.publish:
                assert plan.home.current_version == result.publish.layer_version
            outcomes.append((target.name, result.publish.published, result.publish.layer_version))

    assert outcomes == [
        ("python3.12-x86_64", True, 1),
        ("python3.13-arm64", True, 2),
        ("python3.12-x86_64", False, 1),
        ("python3.13-arm64", False, 2),
        ("python3.12-x86_64", False, 1),
        ("python3.13-arm64", False, 2),
    ]
    versions = aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert sorted(
        (v["Version"], v["CompatibleRuntimes"], v["CompatibleArchitectures"]) for v in versions
    ) == [(1, ["python3.12"], ["x86_64"]), (2, ["python3.13"], ["arm64"])]
    # One manifest history per target; last- is the newest version's, whatever its target.
    assert _read(aws, bucket, "targets/python3.12-x86_64/last-requirements.txt")[1] == "1"
    assert _read(aws, bucket, "targets/python3.13-arm64/last-requirements.txt")[1] == "2"
    assert _read(aws, bucket, "last-requirements.txt")[1] == "2"


def test_plan_of_a_new_target_on_a_used_name_is_its_first_version(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    _workflow(project, aws, bucket, layer_name, PY312_X86).run()

    plan = plan_run(_workflow(project, aws, bucket, layer_name, PY313_ARM))

    assert plan.build and plan.home.publish
    assert plan.home.reason == f"first version of layer {layer_name!r} for python3.13 arm64"
    # Lambda numbers versions across targets: the next one is 2, not 1.
    assert (plan.home.current_version, plan.home.next_version) == (None, 2)


def test_the_no_op_asks_lambda_for_this_targets_versions_only(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    _workflow(project, aws, bucket, layer_name, PY313_ARM).run()
    calls = count_calls(aws)

    assert _workflow(project, aws, bucket, layer_name, PY313_ARM).run().skipped

    [params] = calls.params["ListLayerVersions"]
    assert params["CompatibleRuntime"] == "python3.13"
    assert params["CompatibleArchitecture"] == "arm64"
    assert params["MaxItems"] == 50


def test_a_no_op_leaves_last_to_the_newer_version_of_another_target(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    # Two projects share a layer name, one per target, with different manifests.
    old, new = tmp_path / "old", tmp_path / "new"
    make_manifest(old, b"tinyutil==1.0.0\n")
    make_manifest(new, b"tinyutil==1.1.0\n")
    _workflow(old, aws, bucket, layer_name, PY312_X86).run()
    _workflow(new, aws, bucket, layer_name, PY313_ARM).run()
    target_last = "app/layer/targets/python3.12-x86_64/last-requirements.txt"
    aws.s3.delete_object(Bucket=bucket, Key=target_last)
    calls = count_calls(aws)

    assert _workflow(old, aws, bucket, layer_name, PY312_X86).run().skipped

    # The missing key of this target is written back; last- keeps the newer version 2.
    assert [p["Key"] for p in calls.params["PutObject"]] == [target_last]
    assert _read(aws, bucket, "targets/python3.12-x86_64/last-requirements.txt") == (
        b"tinyutil==1.0.0\n",
        "1",
    )
    assert _read(aws, bucket, "last-requirements.txt") == (b"tinyutil==1.1.0\n", "2")
    assert _read(aws, bucket, "000001/requirements.txt") == (b"tinyutil==1.0.0\n", "1")


def test_a_no_op_repairs_last_when_its_version_is_the_newest(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = tmp_path / "project"
    make_manifest(project)
    _workflow(project, aws, bucket, layer_name, PY312_X86).run()
    _workflow(project, aws, bucket, layer_name, PY313_ARM).run()
    # A run stopped after publishing version 2 wrote none of its backups.
    for key in ("000002/requirements.txt", "targets/python3.13-arm64/last-requirements.txt"):
        aws.s3.delete_object(Bucket=bucket, Key=f"app/layer/{key}")
    aws.s3.put_object(Bucket=bucket, Key="app/layer/last-requirements.txt", Body=b"old\n",
                      Metadata={"layer-version": "1"})  # fmt: skip

    assert _workflow(project, aws, bucket, layer_name, PY313_ARM).run().skipped

    for key in (
        "000002/requirements.txt",
        "last-requirements.txt",
        "targets/python3.13-arm64/last-requirements.txt",
    ):
        assert _read(aws, bucket, key) == (b"tinyutil==1.0.0\n", "2")
    assert "app/layer/targets/python3.12-x86_64/last-requirements.txt" in object_keys(aws, bucket)


def _listing(version: int, runtimes: list[str], architectures: list[str]) -> dict[str, Any]:
    return {
        "Version": version,
        "LayerVersionArn": f"arn:aws:lambda:us-east-1:123456789012:layer:deps:{version}",
        "Description": "",
        "CompatibleRuntimes": runtimes,
        "CompatibleArchitectures": architectures,
    }


def test_latest_version_reads_every_page_and_keeps_only_the_targets_versions(
    aws: AwsClients,
) -> None:
    # moto neither pages nor filters ListLayerVersions: Lambda's answers, stubbed.
    lambda_ = aws.lambda_
    expected = {"LayerName": "deps", "CompatibleRuntime": "python3.13",
                "CompatibleArchitecture": "arm64", "MaxItems": 50}  # fmt: skip
    with botocore.stub.Stubber(lambda_) as stub:
        first = [_listing(7, ["python3.13"], ["arm64"]), _listing(9, ["python3.12"], ["arm64"])]
        stub.add_response(
            "list_layer_versions", {"LayerVersions": first, "NextMarker": "page-2"}, expected
        )
        both = _listing(12, ["python3.12", "python3.13"], ["x86_64", "arm64"])
        second = [both, _listing(3, ["python3.13"], ["arm64"])]
        stub.add_response(
            "list_layer_versions", {"LayerVersions": second}, {**expected, "Marker": "page-2"}
        )
        latest = latest_layer_version(lambda_, "deps", PY313_ARM)
        stub.assert_no_pending_responses()

    assert latest is not None
    # A version made for several runtimes and both architectures serves this target too.
    assert (latest.version, latest.runtimes) == (12, ("python3.12", "python3.13"))
    assert latest.serves(PY313_ARM) and not latest.serves(LayerTarget("3.14", "arm64"))


def test_latest_version_of_any_target(aws: AwsClients) -> None:
    with botocore.stub.Stubber(aws.lambda_) as stub:
        stub.add_response(
            "list_layer_versions",
            {"LayerVersions": [_listing(4, [], []), _listing(2, ["python3.12"], ["x86_64"])]},
            {"LayerName": "deps", "MaxItems": 50},
        )
        latest = latest_layer_version(aws.lambda_, "deps")
    assert latest is not None and latest.version == 4


@pytest.mark.parametrize("target", [PY312_X86, PY313_ARM])
def test_no_version_for_a_target_of_a_name_unknown_to_lambda(
    aws: AwsClients, layer_name: str, target: LayerTarget
) -> None:
    assert latest_layer_version(aws.lambda_, layer_name, target) is None
