"""The operator commands and flags of ``layer-builder``: plan, prune, --replicate-to,
--grant-*."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from layer_builder import LocalAwsEndpoint
from layer_builder.cli import main
from tests.conftest import MakeProject


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in argv and code == 0 else out), err


@pytest.fixture
def eu_bucket(moto_endpoint: LocalAwsEndpoint) -> str:
    name = f"test-eu-{uuid.uuid4().hex[:8]}"
    s3 = moto_endpoint.session().client(
        "s3", region_name="eu-west-1", endpoint_url=moto_endpoint.endpoint_url
    )
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return name


def test_plan_run_with_region_and_grant_then_plan_again(
    make_project: MakeProject,
    aws_env: None,
    bucket: str,
    eu_bucket: str,
    layer_name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    common = ["--project", str(project), "--layer-name", layer_name, "--s3dir",
              f"s3://{bucket}/app/", "--replicate-to", f"eu-west-1=s3://{eu_bucket}/app/",
              "--grant-account", "210987654321", "--json"]  # fmt: skip

    code, plan, _ = _run(capsys, "plan", *common)
    assert code == 0
    assert (plan["build"], plan["publish"], plan["next_version"]) == (True, True, 1)
    assert plan["regions"][0]["region"] == "eu-west-1"
    assert plan["grants_to_add"] == ["account 210987654321"]
    assert not (project / "build").exists()

    code, run, _ = _run(capsys, "run", *common)
    assert code == 0
    assert run["published"] and run["layer_version"] == 1
    [eu] = run["regions"]
    assert eu["published"] and eu["layer_version_arn"].startswith("arn:aws:lambda:eu-west-1:")
    assert [g["added"] for g in run["grants"]] == [True, True]

    code, again, _ = _run(capsys, "plan", *common)
    assert code == 0
    assert again["changes"] is False

    code, human, _ = _run(capsys, "run", *common[:-1])
    assert code == 0
    assert "unchanged, not published" in human
    assert f"eu-west-1: {eu['layer_version_arn']}" in human


def test_prune_is_a_dry_run_unless_yes(
    aws_env: None,
    moto_endpoint: LocalAwsEndpoint,
    bucket: str,
    layer_name: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    aws = moto_endpoint.clients()
    aws.s3.put_object(Bucket=bucket, Key="layer.zip", Body=b"PK")
    for _ in range(3):
        aws.lambda_.publish_layer_version(
            LayerName=layer_name, Content={"S3Bucket": bucket, "S3Key": "layer.zip"}
        )
    (tmp_path / "requirements.txt").write_text("tinyutil==1.0.0\n")
    common = ["--project", str(tmp_path), "--layer-name", layer_name, "--keep-last", "1"]

    code, out, _ = _run(capsys, "prune", *common)
    assert code == 0
    assert out == (
        "would delete: 2, 1; kept: 3\nzips and unfinished uploads: not checked (no --s3dir)\n"
        "dry run: pass --yes to delete\n"
    )

    code, data, _ = _run(capsys, "prune", *common, "--yes", "--json")
    assert code == 0
    assert (data["dry_run"], data["deleted"], data["kept"]) == (False, [2, 1], [3])
    versions = aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [3]


def test_prune_applies_the_rule_in_every_region(
    aws_env: None,
    moto_endpoint: LocalAwsEndpoint,
    bucket: str,
    eu_bucket: str,
    layer_name: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    home, eu = moto_endpoint.clients(), moto_endpoint.clients().for_region("eu-west-1")
    for aws, where in ((home, bucket), (eu, eu_bucket)):
        aws.s3.put_object(Bucket=where, Key="layer.zip", Body=b"PK")
        for _ in range(2):
            aws.lambda_.publish_layer_version(
                LayerName=layer_name, Content={"S3Bucket": where, "S3Key": "layer.zip"}
            )
    (tmp_path / "requirements.txt").write_text("tinyutil==1.0.0\n")

    region = f"eu-west-1=s3://{eu_bucket}/app/"
    code, out, _ = _run(capsys, "prune", "--project", str(tmp_path), "--layer-name", layer_name,
                        "--keep-last", "1", "--replicate-to", region)  # fmt: skip

    assert code == 0
    assert out == (
        "us-east-1: would delete: 1; kept: 2\n"
        "us-east-1: zips and unfinished uploads: not checked (no --s3dir)\n"
        "eu-west-1: would delete: 1; kept: 2\n"
        "dry run: pass --yes to delete\n"
    )


def test_prune_and_plan_with_s3dir_see_the_zips_and_unfinished_uploads(
    make_project: MakeProject,
    aws_env: None,
    moto_endpoint: LocalAwsEndpoint,
    bucket: str,
    layer_name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    common = ["--project", str(project), "--layer-name", layer_name,
              "--s3dir", f"s3://{bucket}/app/"]  # fmt: skip
    code, run, err = _run(capsys, "run", *common, "--json")
    assert code == 0, err
    aws = moto_endpoint.clients()
    key = f"app/layer/zips/{'c' * 64}.zip"
    started = aws.s3.create_multipart_upload(Bucket=bucket, Key=key)  # a killed run's

    code, plan, _ = _run(capsys, "plan", *common)
    assert code == 0
    assert (f"us-east-1: unfinished multipart upload of s3://{bucket}/{key} (started ") in plan
    assert "`prune --yes` aborts it once a day old" in plan

    code, out, _ = _run(capsys, "prune", *common, "--keep-last", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "would delete: nothing; kept: 1"
    assert lines[1] == "zips no kept version needs: 0 (0 bytes) to delete; kept: 1"
    assert lines[2].startswith(f"would abort the unfinished upload of s3://{bucket}/{key}")
    assert lines[3] == "dry run: pass --yes to delete"

    code, data, _ = _run(capsys, "prune", *common, "--keep-last", "1", "--yes", "--json")
    assert code == 0
    assert data["s3_uri_layer"] == f"s3://{bucket}/app/layer/"
    assert data["zips_kept"] == [run["s3_uri"]]
    assert (data["zips_deleted"], data["zips_deleted_bytes"]) == ([], 0)
    assert [u["upload_id"] for u in data["uploads_aborted"]] == [started["UploadId"]]
    assert aws.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["prune"], "prune needs a rule: --keep-last N and/or --newer-than-days D"),
        (["plan", "--replicate-to", "eu-west-1"], "invalid region target 'eu-west-1': expected "
         "REGION=s3://bucket/prefix/"),
        (["plan", "--region", "eu-west-1=s3://b-eu/a/"], "--region eu-west-1=s3://b-eu/a/ names "
         "an extra region, but --region is now the home region (the Lambda and S3 region of the "
         "run, as in the AWS CLI): use --replicate-to eu-west-1=s3://b-eu/a/"),
        (["prune", "--keep-last", "1", "--region", "eu-west-1=s3://b-eu/a/"], "--region "
         "eu-west-1=s3://b-eu/a/ names an extra region"),
        (["plan", "--region", "s3://b-eu/a/"], "invalid AWS region 's3://b-eu/a/': expected a "
         "region name such as us-east-1 or eu-west-1 (--region)"),
        (["plan", "--grant-account", "42"], "invalid AWS account id '42': expected 12 digits"),
    ],
)  # fmt: skip
def test_operator_input_errors_exit_1_with_one_line(
    aws_env: None,
    bucket: str,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    (tmp_path / "requirements.txt").write_text("tinyutil==1.0.0\n")
    command, *flags = extra
    code, _, err = _run(capsys, command, "--project", str(tmp_path), "--layer-name", "my_layer",
                        "--s3dir", f"s3://{bucket}/app/", *flags)  # fmt: skip
    assert code == 1
    assert err.startswith(f"layer-builder: error: {message}")
    assert err.count("\n") == 1


def test_a_region_in_pyproject_must_be_an_s3_folder(
    capsys: pytest.CaptureFixture[str], make_project: MakeProject, bucket: str
) -> None:
    project = make_project(
        {"tinyutil": "1.0.0"},
        pyproject_extra=(
            f'\n[tool.layer_builder]\nlayer_name = "app"\ns3dir = "s3://{bucket}/a/"\n'
            f"replicate_to = {{ eu-west-1 = 3 }}\n"
        ),
    )
    code, _, err = _run(capsys, "plan", "--local", "--project", str(project))
    assert code == 1
    assert err == (
        "layer-builder: error: [tool.layer_builder] replicate_to.eu-west-1 must be an S3 folder "
        'string (e.g. replicate_to = { eu-west-1 = "s3://my-bucket-eu/app/lambda/" })\n'
    )


def test_the_old_regions_key_is_still_read_with_a_warning(
    capsys: pytest.CaptureFixture[str], make_project: MakeProject, bucket: str, eu_bucket: str
) -> None:
    table = f'{{ eu-west-1 = "s3://{eu_bucket}/a/" }}'
    project = make_project(
        {"tinyutil": "1.0.0"},
        pyproject_extra=(
            f'\n[tool.layer_builder]\nlayer_name = "app"\ns3dir = "s3://{bucket}/a/"\n'
            f"regions = {table}\n"
        ),
    )
    code, plan, err = _run(capsys, "plan", "--local", "--project", str(project), "--json")
    assert code == 0
    assert [r["region"] for r in plan["regions"]] == ["eu-west-1"]
    warning = (
        f"layer-builder: [tool.layer_builder] regions in {project / 'pyproject.toml'} is "
        f"deprecated: rename it to replicate_to (the same table of region = S3 folder); "
        f"--region is now the home region\n"
    )
    assert err.count(warning) == 1, "said once, however often the table is read"

    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f"replicate_to = {table}\n")
    code, _, err = _run(capsys, "plan", "--local", "--project", str(project))
    assert code == 1
    assert err == (
        f"layer-builder: error: [tool.layer_builder] of {pyproject} has both regions and "
        f"replicate_to: keep replicate_to (regions is its old name)\n"
    )
