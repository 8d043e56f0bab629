"""Scripts written for aws_lambda_artifact_builder (shaped like its example_repo), run on the
façade with only their import line changed: build, package, upload, publish, publish again,
then the all-in-one workflow, for uv, Poetry and pip projects, against the moto server."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from layer_builder import AwsClients
from layer_builder.compat.artifact_builder import LayerS3Layout
from tests.compat.conftest import MakeSettings, RunScript, Settings

BUILD_SCRIPT = {
    "pip": "example_1_1_build_pip_local.py",
    "poetry": "example_2_1_build_poetry_local.py",
    "uv": "example_3_1_build_uv_local.py",
}
MANIFEST = {"pip": "requirements.txt", "poetry": "poetry.lock", "uv": "uv.lock"}


def layer_versions(aws: AwsClients, layer_name: str) -> list[int]:
    response = aws.lambda_.list_layer_versions(LayerName=layer_name)
    return sorted(v["Version"] for v in response["LayerVersions"])


def keys_under(aws: AwsClients, settings: Settings) -> set[str]:
    prefix = settings.s3dir_lambda.key
    listing = aws.s3.list_objects_v2(Bucket=settings.s3dir_lambda.bucket, Prefix=prefix)
    return {o["Key"][len(prefix) :] for o in listing.get("Contents", [])}


def read(aws: AwsClients, s3path: Any) -> bytes:
    body: bytes = aws.s3.get_object(Bucket=s3path.bucket, Key=s3path.key)["Body"].read()
    return body


@pytest.mark.parametrize("tool", ["uv", "poetry", "pip"])
def test_the_example_scripts_run_with_one_import_changed(
    tool: str,
    make_settings: MakeSettings,
    run_script: RunScript,
    aws: AwsClients,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(tool)
    project = settings.path_pyproject_toml.parent
    manifest = MANIFEST[tool]

    run_script(BUILD_SCRIPT[tool], settings)
    assert (project / "build/lambda/layer/artifacts/python/tinyhttp/__init__.py").is_file()
    run_script("example_4_package.py", settings)
    assert (project / "build/lambda/layer/layer.zip").is_file()
    run_script("example_5_upload.py", settings)
    run_script("example_6_publish.py", settings)
    assert layer_versions(aws, settings.layer_name) == [1]

    # The keys the old documentation names, where it named them.
    old = LayerS3Layout(settings.s3dir_lambda)
    local = (project / manifest).read_bytes()
    keys = keys_under(aws, settings)
    assert {"layer/layer.zip", f"layer/000001/{manifest}", f"layer/last-{manifest}"} <= keys
    assert old.s3path_temp_layer_zip.key.endswith("projects/my_app/lambda/layer/layer.zip")
    backup = {
        "pip": old.get_s3path_layer_requirements_txt,
        "poetry": old.get_s3path_layer_poetry_lock,
        "uv": old.get_s3path_layer_uv_lock,
    }[tool](1)
    last = {
        "pip": old.s3path_last_requirements_txt,
        "poetry": old.s3path_last_poetry_lock,
        "uv": old.s3path_last_uv_lock,
    }[tool]
    assert read(aws, backup) == read(aws, last) == local
    # What the old publisher checked before publishing: the manifest's md5 on layer.zip.
    head = aws.s3.head_object(
        Bucket=old.s3path_temp_layer_zip.bucket, Key=old.s3path_temp_layer_zip.key
    )
    assert head["ContentType"] == "application/zip"
    assert head["Metadata"]["manifest_md5"] == hashlib.md5(local).hexdigest()

    # Nothing changed: publishing again, and the whole workflow, publish nothing new.
    run_script("example_6_publish.py", settings)
    run_script("example_7_workflow.py", settings)
    assert layer_versions(aws, settings.layer_name) == [1]
    assert keys_under(aws, settings) == keys

    # The façade writes to the logger, never to stdout.
    assert capsys.readouterr().out == ""
