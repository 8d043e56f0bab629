"""Outputs for infrastructure code: SSM parameter names and writes, GitHub output lines,
flat JSON strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from layer_builder import AwsClients, AwsError, ConfigurationError, LayerTarget
from layer_builder.operations.outputs import (
    SsmParameterTemplate,
    append_github_output,
    flat_strings,
    put_ssm_parameter,
)
from tests.aws_helpers import CallLog, count_calls

ARM = LayerTarget("3.13", "arm64")


def test_template_placeholders() -> None:
    template = SsmParameterTemplate("/layers/{layer_name}/{runtime}/{arch}/{target}/{region}")
    assert template.render("deps", ARM, "eu-west-1") == (
        "/layers/deps/python3.13/arm64/python3.13-arm64/eu-west-1"
    )
    assert SsmParameterTemplate("deps-arn").render("deps", ARM, "us-east-1") == "deps-arn"


USE = (
    "use {layer_name}, {runtime}, {arch}, {target}, {region} "
    "(e.g. --ssm-parameter '/layers/{layer_name}/{target}')"
)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("/layers/{name}", f"--ssm-parameter '/layers/{{name}}' names an unknown placeholder "
                           f"{{name}}: {USE}"),
        ("/layers/{target:>9}", f"--ssm-parameter '/layers/{{target:>9}}' formats {{target}}: "
                                f"give the bare name: {USE}"),
        ("/layers/{target", "--ssm-parameter '/layers/{target' is not a valid template "
                            f"(expected '}}' before end of string): {USE}"),
        ("layers/{target}", "SSM parameter name 'layers/python3.12-arm64' (from --ssm-parameter "
                            "'layers/{target}') must start with '/' when it has a path (SSM "
                            "wants the full path): change --ssm-parameter"),
        ("/aws/{target}", "SSM parameter name '/aws/python3.12-arm64' (from --ssm-parameter "
                          "'/aws/{target}') must not start with 'aws' or 'ssm' (SSM keeps those "
                          "names for itself): change --ssm-parameter"),
        ("/layers/{target} x", "SSM parameter name '/layers/python3.12-arm64 x' (from "
                               "--ssm-parameter '/layers/{target} x') has characters SSM refuses "
                               "in a parameter name (letters, digits, _.-/ only): change "
                               "--ssm-parameter"),
        ("/layers//{target}", "SSM parameter name '/layers//python3.12-arm64' (from "
                              "--ssm-parameter '/layers//{target}') has an empty path segment: "
                              "change --ssm-parameter"),
    ],
)  # fmt: skip
def test_bad_templates_are_refused(template: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        SsmParameterTemplate(template)
    assert str(info.value) == message


def test_ssm_parameter_is_written_only_when_its_value_changes(aws: AwsClients) -> None:
    name = f"/layers/{id(aws)}/python3.13-arm64"
    calls = count_calls(aws)
    calls_ssm = CallLog(aws.ssm)

    first = put_ssm_parameter(aws.ssm, name, "arn:aws:lambda:us-east-1:123456789012:layer:d:1")
    again = put_ssm_parameter(aws.ssm, name, "arn:aws:lambda:us-east-1:123456789012:layer:d:1")
    changed = put_ssm_parameter(aws.ssm, name, "arn:aws:lambda:us-east-1:123456789012:layer:d:2")

    assert (first.written, again.written, changed.written) == (True, False, True)
    assert first.region == "us-east-1"
    parameter = aws.ssm.get_parameter(Name=name)["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("String", changed.value)
    # Two versions in the parameter's history, not three.
    assert parameter["Version"] == 2
    assert calls_ssm["PutParameter"] == 2
    assert calls.counts == {}  # S3 and Lambda untouched


def test_a_refused_ssm_write_is_one_line(aws: AwsClients) -> None:
    with pytest.raises(AwsError) as info:
        put_ssm_parameter(aws.ssm, "/aws-reserved", "x")
    assert str(info.value) == (
        "writing SSM parameter /aws-reserved (us-east-1) failed: ValidationException Parameter "
        'name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).: see the AWS error '
        "above"
    )


def test_github_output_lines(tmp_path: Path) -> None:
    path = tmp_path / "github_output"
    path.write_text("earlier=1\n")
    append_github_output(path, {"layer_version_arn": "arn:x:1", "published": "true"})
    append_github_output(path, {"notes": "two\nlines"})

    lines = path.read_text().splitlines()
    assert lines[:3] == ["earlier=1", "layer_version_arn=arn:x:1", "published=true"]
    # A multi-line value goes in a delimited block, as GitHub's format asks.
    opening, *body, closing = lines[3:]
    name, delimiter = opening.split("<<")
    assert (name, body, closing) == ("notes", ["two", "lines"], delimiter)
    assert delimiter.startswith("layer_builder_")


def test_flat_strings_keep_scalars_as_strings() -> None:
    document = {
        "published": False,
        "layer_version": 3,
        "layer_version_arn": "arn:x:3",
        "version_id": None,
        "excluded": ["boto3"],
        "size_report": [{"name": "x"}],
        "regions": [
            {"region": "eu-west-1", "layer_version_arn": "arn:eu:3"},
            {"region": "ap-south-1", "layer_version_arn": None, "error": "boom"},
        ],
    }
    assert flat_strings(document) == {
        "published": "false",
        "layer_version": "3",
        "layer_version_arn": "arn:x:3",
        "version_id": "",
        "layer_version_arn_eu_west_1": "arn:eu:3",
    }
