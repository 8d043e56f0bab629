"""The old all-in-one workflow on ``LayerWorkflow``: a real build, package, upload and
publish against the moto server, a rerun that publishes nothing, and the old error on demand."""

from __future__ import annotations

from typing import Any

import pytest

from layer_builder import AwsClients, ContainerInstaller, LayerTarget
from layer_builder.compat.artifact_builder import (
    BuildPackageUploadAndPublishWorkflow,
    DependenciesUnchangedError,
    LambdaLayerBuildPackageUploadAndPublishWorkflow,
    LayerBuildToolEnum,
)
from tests.compat.conftest import MakeSettings, Settings


def workflow(settings: Settings, **kwargs: Any) -> LambdaLayerBuildPackageUploadAndPublishWorkflow:
    # The call of the issue: no Python version, no architecture (the defaults apply).
    arguments: dict[str, Any] = {
        "layer_name": settings.layer_name,
        "path_pyproject_toml": settings.path_pyproject_toml,
        "s3dir_lambda": settings.s3dir_lambda,
        "s3_client": settings.bsm.s3_client,
        "lambda_client": settings.bsm.lambda_client,
        "layer_build_tool": LayerBuildToolEnum(settings.layer_build_tool),
        "ignore_package_list": None,
        "publish_layer_version_kwargs": None,
        "verbose": True,
    }
    return BuildPackageUploadAndPublishWorkflow(**{**arguments, **kwargs})


def test_both_names_are_the_same_workflow() -> None:
    assert BuildPackageUploadAndPublishWorkflow is LambdaLayerBuildPackageUploadAndPublishWorkflow


def test_run_publishes_then_reruns_without_publishing(
    make_settings: MakeSettings, aws: AwsClients, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings("poetry")
    lines: list[str] = []
    first = workflow(settings, printer=lines.append).run()
    assert (first.published, first.layer_version) == (True, 1)
    assert first.s3path_manifest is not None
    assert first.s3path_manifest.key == "projects/my_app/lambda/layer/000001/poetry.lock"
    layer_zip = settings.s3dir_lambda.joinpath("layer", "layer.zip")
    assert f"S3 console: {layer_zip.console_url}" in lines
    assert f"published layer version 1: {first.layer_version_arn}" in lines

    again = workflow(settings).run()
    assert (again.published, again.layer_version) == (False, 1)
    assert again.reason == "poetry.lock and build options unchanged since version 1"

    with pytest.raises(DependenciesUnchangedError, match=r"^nothing to publish for layer '"):
        workflow(settings, raise_on_unchanged=True).run()
    versions = aws.lambda_.list_layer_versions(LayerName=settings.layer_name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [1]
    assert capsys.readouterr().out == ""


def test_the_steps_one_by_one_then_by_their_short_names(make_settings: MakeSettings) -> None:
    settings = make_settings("pip")
    steps = workflow(settings, py_ver_major=3, py_ver_minor=12, is_arm=True)
    build = steps.step_1_build()
    assert build.target == LayerTarget("3.12", "arm64")
    package = steps.step_2_package()
    assert package.path_zip == settings.path_pyproject_toml.parent / "build/lambda/layer/layer.zip"
    upload = steps.step_3_upload()
    assert upload.zip_sha256 == package.sha256
    deployment = steps.step_4_publish()
    assert (deployment.published, deployment.layer_version) == (True, 1)

    short = workflow(settings, py_ver_major=3, py_ver_minor=12, is_arm=True)
    short.build()
    short.package()
    short.upload()
    assert short.publish().layer_version == 1
    assert not short.publish().published


def test_publish_kwargs_set_the_description_and_the_target(
    make_settings: MakeSettings, aws: AwsClients
) -> None:
    settings = make_settings("uv")
    kwargs = {
        "Description": "my_app deps",
        "LicenseInfo": "MIT",
        "CompatibleRuntimes": ["python3.13"],
        "CompatibleArchitectures": ["arm64"],
    }
    deployment = workflow(settings, publish_layer_version_kwargs=kwargs).run()
    version = aws.lambda_.get_layer_version(
        LayerName=settings.layer_name, VersionNumber=deployment.layer_version
    )
    assert version["Description"].startswith("my_app deps [layer_builder fingerprint=")
    assert version["LicenseInfo"] == "MIT"
    assert version["CompatibleRuntimes"] == ["python3.13"]
    assert version["CompatibleArchitectures"] == ["arm64"]


def test_container_asks_for_the_build_image(make_settings: MakeSettings) -> None:
    settings = make_settings("uv")
    native = workflow(
        settings, py_ver_major=3, py_ver_minor=11, is_arm=False, container="docker"
    ).make_workflow()
    step = native.make_build_step()
    assert isinstance(step.installer, ContainerInstaller)
    assert step.installer.image_for(native.target) == (
        "public.ecr.aws/sam/build-python3.11:latest-x86_64"
    )
