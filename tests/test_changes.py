"""The layer's diff with real parts: real builds from the local index, the moto server, the
records each version keeps (``contents.json``, the SBOM), ``plan`` and ``run``."""

from __future__ import annotations

import json

import pytest

from layer_builder import AwsClients, LayerWorkflow, LocalAwsEndpoint, plan_run
from layer_builder.cli import main
from layer_builder.model.contents import LayerContents
from layer_builder.model.layer_diff import VersionChange
from layer_builder.operations.regions import RegionTarget
from layer_builder.steps.publish.records import LocalVersionRecords
from tests.aws_helpers import object_keys
from tests.conftest import MakeProject


def _record(aws: AwsClients, bucket: str, key: str) -> bytes:
    return bytes(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_each_version_keeps_what_it_holds_and_the_next_run_says_what_changed(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    s3dir = f"s3://{bucket}/app/lambda/"
    first = LayerWorkflow(project, layer_name, s3dir, aws=aws).run()

    assert first.diff is not None and first.diff.compared_with is None
    assert first.diff.added == (VersionChange("tinyutil", None, "1.0.0"),)
    local = first.package.path_zip.with_name("contents.json")  # type: ignore[union-attr]
    stored = _record(aws, bucket, "app/lambda/layer/000001/contents.json")
    assert stored == local.read_bytes()
    contents = LayerContents.loads(stored, "v1")
    assert contents.zip_sha256 == first.zip_sha256
    assert (contents.runtime, contents.architecture) == ("python3.12", "x86_64")
    [tinyutil] = contents.distributions
    assert (tinyutil.name, tinyutil.version, tinyutil.license) == ("tinyutil", "1.0.0", "MIT")
    package = first.package
    assert package is not None
    [size] = [d for d in package.distributions if d.name == "tinyutil"]
    assert (tinyutil.files, tinyutil.unzipped_size) == (size.files, size.unzipped_size)
    sbom = json.loads(_record(aws, bucket, "app/lambda/layer/000001/sbom.cdx.json"))
    assert [c["name"] for c in sbom["components"]] == ["tinyutil"]

    make_project({"tinyutil": "1.1.0", "tinyhttp": "2.0.0"})
    planned = plan_run(LayerWorkflow(project, layer_name, s3dir, aws=aws)).diff
    assert planned is not None and planned.compared_with == 1
    assert planned.added == (VersionChange("tinyhttp", None, "2.0.0"),)
    assert planned.changed == (VersionChange("tinyutil", "1.0.0", "1.1.0"),)
    assert planned.unzipped_size_change is None, "plan builds nothing"

    second = LayerWorkflow(project, layer_name, s3dir, aws=aws).run()

    assert second.publish.layer_version == 2
    diff = second.diff
    assert diff is not None and diff.compared_with == 1
    assert (diff.added, diff.changed, diff.removed) == (planned.added, planned.changed, ())
    new = LayerContents.loads(_record(aws, bucket, "app/lambda/layer/000002/contents.json"), "v2")
    assert diff.unzipped_size_change == new.unzipped_size - contents.unzipped_size
    assert diff.zipped_size_change == new.zip_size - contents.zip_size > 0

    rerun = LayerWorkflow(project, layer_name, s3dir, aws=aws).run()
    assert rerun.skipped and rerun.diff is not None
    assert rerun.diff.empty and rerun.diff.compared_with == 2


def test_a_version_without_a_record_gives_no_diff_and_no_error(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    s3dir = f"s3://{bucket}/app/"
    LayerWorkflow(project, layer_name, s3dir, aws=aws).run()
    # As a version published by an older layer-builder: no contents.json.
    aws.s3.delete_object(Bucket=bucket, Key="app/layer/000001/contents.json")
    make_project({"tinyutil": "1.1.0"})
    message = (
        "no record of version 1's contents (published by an older layer-builder, or by "
        "something else)"
    )
    planned = plan_run(LayerWorkflow(project, layer_name, s3dir, aws=aws)).diff
    assert planned is not None and (planned.known, planned.note) == (False, message)
    result = LayerWorkflow(project, layer_name, s3dir, aws=aws).run()
    assert result.publish.published
    assert result.diff is not None and (result.diff.known, result.diff.note) == (False, message)
    assert "app/layer/000002/contents.json" in object_keys(aws, bucket), "the new one has one"


def test_every_region_keeps_the_records(
    moto_endpoint: LocalAwsEndpoint,
    make_project: MakeProject,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
) -> None:
    eu = f"{bucket}-eu"
    moto_endpoint.ensure_bucket(eu, "eu-west-1")
    project = make_project({"tinyutil": "1.0.0"})
    workflow = LayerWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws,
                             regions=[RegionTarget("eu-west-1", f"s3://{eu}/app/")])  # fmt: skip
    workflow.run()
    eu_keys = object_keys(workflow.region_aws("eu-west-1"), eu)
    assert {"app/layer/000001/contents.json", "app/layer/000001/sbom.cdx.json"} <= set(eu_keys)


def test_records_of_another_zip_are_not_stored(
    make_project: MakeProject,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    workflow = LayerWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws)
    workflow.package(workflow.build())
    caplog.set_level("WARNING", logger="layer_builder")
    stored = LocalVersionRecords(workflow.layout).store(aws.s3, workflow.s3_layout, 5, "0" * 64)
    assert stored == ()
    assert object_keys(aws, bucket) == []
    assert f"{workflow.layout.path_contents} describes another zip" in caplog.text
    assert f"{workflow.layout.path_sbom} describes another zip" in caplog.text


@pytest.mark.usefixtures("aws_env")
def test_plan_and_run_print_the_diff(
    make_project: MakeProject, bucket: str, layer_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    base = ["--project", str(project), "--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"]
    assert main(["run", *base, "-q"]) == 0
    capsys.readouterr()
    make_project({"tinyutil": "1.1.0", "tinyhttp": "2.0.0"})

    assert main(["plan", *base, "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "us-east-1: publish version 2 (requirements.txt changed since version 1)",
        "against version 1:",
        "  + tinyhttp 2.0.0",
        "  ~ tinyutil 1.0.0 -> 1.1.0",
        "  (sizes are known once built)",
    ]
    assert main(["plan", *base, "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)["diff"]
    assert planned["changed"] == [
        {"name": "tinyutil", "old_version": "1.0.0", "new_version": "1.1.0"}
    ]
    assert planned["unzipped_size_change"] is None

    assert main(["run", *base, "--json", "-q"]) == 0
    diff = json.loads(capsys.readouterr().out)["diff"]
    assert (diff["compared_with"], diff["known"]) == (1, True)
    assert (diff["added"], diff["changed"]) == (planned["added"], planned["changed"])
    assert diff["unzipped_size_change"] > 0 and diff["zipped_size_change"] > 0

    make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    assert main(["run", *base, "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("published: arn:aws:lambda:us-east-1:")
    assert lines[2] == (
        f"console: https://us-east-1.console.aws.amazon.com/lambda/home?region=us-east-1"
        f"#/layers/{layer_name}/versions/3"
    )
    assert lines[3:5] == ["against version 2:", "  ~ tinyutil 1.1.0 -> 1.0.0"]
    assert lines[5].startswith("  size: +0 bytes unzipped, ")  # same length of version text
