"""``--ssm-parameter``, ``--github-output`` and ``--json-strings`` of ``run`` and
``publish``, through ``main()`` against the moto server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from layer_builder import AwsClients, LocalAwsEndpoint
from layer_builder.cli import main
from tests.conftest import MakeProject


def _main(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def github_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "github-output"
    path.touch()
    monkeypatch.setenv("GITHUB_OUTPUT", str(path))
    return path


@pytest.mark.usefixtures("aws_env")
def test_run_writes_the_arn_to_ssm_and_github_output_also_on_the_no_op(
    make_project: MakeProject,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    github_output: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    args = ["run", "--project", project, "--layer-name", layer_name, "--s3dir",
            f"s3://{bucket}/app/", "--arch", "arm64", "--ssm-parameter",
            "/layers/{layer_name}/{target}", "--github-output", "--json"]  # fmt: skip
    name = f"/layers/{layer_name}/python3.12-arm64"

    code, out, err = _main(capsys, *args)
    assert code == 0, err
    first = json.loads(out)
    assert first["published"] is True
    arn = first["layer_version_arn"]
    assert first["ssm_parameters"] == [
        {"name": name, "region": "us-east-1", "value": arn, "written": True}
    ]

    code, out, err = _main(capsys, *args)
    assert code == 0, err
    second = json.loads(out)
    assert second["skipped"] is True  # the instant no-op
    assert second["ssm_parameters"] == [
        {"name": name, "region": "us-east-1", "value": arn, "written": False}
    ]
    parameter = aws.ssm.get_parameter(Name=name)["Parameter"]
    assert (parameter["Value"], parameter["Type"], parameter["Version"]) == (arn, "String", 1)
    assert github_output.read_text().splitlines() == [
        f"layer_version_arn={arn}",
        "layer_version=1",
        "published=true",
        f"layer_version_arn={arn}",
        "layer_version=1",
        "published=false",
    ]

    code, out, err = _main(capsys, *args[:-1])  # the human output
    assert code == 0, err
    assert f"SSM parameter {name} (us-east-1): already holds {arn}" in out.splitlines()


@pytest.mark.usefixtures("aws_env")
def test_json_strings_is_one_flat_object_of_strings(
    make_project: MakeProject, bucket: str, layer_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    args = ["run", "--project", project, "--layer-name", layer_name, "--s3dir",
            f"s3://{bucket}/app/", "--json-strings", "-q"]  # fmt: skip
    for published in ("true", "false"):  # a publish, then the instant no-op
        code, out, err = _main(capsys, *args)
        assert code == 0, err
        # What Terraform's external data source requires: one JSON object of strings.
        document = json.loads(out)
        assert isinstance(document, dict)
        assert all(isinstance(v, str) for v in document.values()), document
        assert document["published"] == published
        assert document["layer_version"] == "1"
        assert document["layer_version_arn"].endswith(f":layer:{layer_name}:1")
        assert "regions" not in document and "ssm_parameters" not in document


@pytest.mark.usefixtures("aws_env")
def test_publish_writes_the_ssm_parameter_from_pyproject(
    make_project: MakeProject,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = f"/deploy/{uuid.uuid4().hex[:8]}"
    project = make_project(
        {"tinyutil": "1.0.0"},
        pyproject_extra=f'[tool.layer_builder]\nssm_parameter = "{prefix}/{{runtime}}/{{arch}}"\n',
    )
    common = ["--project", project, "--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"]
    for argv in (["build", *common[:2]], ["package", *common[:2]], ["upload", *common]):
        code, _, err = _main(capsys, *argv)
        assert code == 0, err

    code, out, err = _main(capsys, "publish", *common, "--json")

    assert code == 0, err
    data = json.loads(out)
    [write] = data["ssm_parameters"]
    assert write["name"] == f"{prefix}/python3.12/x86_64"
    assert (
        aws.ssm.get_parameter(Name=write["name"])["Parameter"]["Value"]
        == (data["layer_version_arn"])
    )


@pytest.mark.usefixtures("aws_env")
def test_a_bad_template_fails_before_the_build(
    make_project: MakeProject, bucket: str, layer_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    args = ["run", "--project", project, "--layer-name", layer_name, "--s3dir",
            f"s3://{bucket}/app/", "--ssm-parameter", "/x/{python}"]  # fmt: skip
    code, out, err = _main(capsys, *args)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "layer-builder: error: --ssm-parameter '/x/{python}' names an unknown placeholder "
        "{python}: use {layer_name}, {runtime}, {arch}, {target}, {region} "
        "(e.g. --ssm-parameter '/layers/{layer_name}/{target}')"
    ]
    assert not (project / "build").exists()


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize(
    "targets", [[], ["--target", "3.12/x86_64", "--target", "3.13/x86_64"]], ids=["one", "two"]
)
def test_github_output_outside_github_actions_warns_once_and_writes_nothing(
    targets: list[str],
    make_project: MakeProject,
    bucket: str,
    layer_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    project = make_project({"tinyutil": "1.0.0"})
    args = ["run", "--project", project, "--layer-name", layer_name, "--s3dir",
            f"s3://{bucket}/app/", "--github-output", *targets]  # fmt: skip
    code, out, err = _main(capsys, *args)
    assert code == 0, err
    assert "published" in out
    warning = (
        "--github-output: $GITHUB_OUTPUT is not set (not in a GitHub Actions step): no outputs "
        "written"
    )
    assert sum(line.endswith(warning) for line in err.splitlines()) == 1, err


@pytest.mark.usefixtures("aws_env")
def test_each_region_gets_its_own_parameter(
    make_project: MakeProject,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    moto_endpoint: LocalAwsEndpoint,
    github_output: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    eu = f"test-eu-{uuid.uuid4().hex[:8]}"
    moto_endpoint.ensure_bucket(eu, "eu-west-1")
    project = make_project({"tinyutil": "1.0.0"})
    args = ["run", "--project", project, "--layer-name", layer_name, "--s3dir",
            f"s3://{bucket}/app/", "--replicate-to", f"eu-west-1=s3://{eu}/app/", "--ssm-parameter",
            "/layers/{layer_name}/{region}", "--github-output", "--json"]  # fmt: skip
    code, out, err = _main(capsys, *args)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    [eu_result] = data["regions"]
    assert [(w["name"], w["region"], w["value"]) for w in data["ssm_parameters"]] == [
        (f"/layers/{layer_name}/us-east-1", "us-east-1", data["layer_version_arn"]),
        (f"/layers/{layer_name}/eu-west-1", "eu-west-1", eu_result["layer_version_arn"]),
    ]
    eu_ssm = moto_endpoint.session().client(
        "ssm", region_name="eu-west-1", endpoint_url=moto_endpoint.endpoint_url
    )
    parameter = eu_ssm.get_parameter(Name=f"/layers/{layer_name}/eu-west-1")["Parameter"]
    assert parameter["Value"] == eu_result["layer_version_arn"]
    assert f"layer_version_arn_eu_west_1={eu_result['layer_version_arn']}" in (
        github_output.read_text().splitlines()
    )
