"""Each step of the façade on its own, against the moto server: what it returns, where its
messages go, and every error it raises."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from layer_builder import (
    AwsClients,
    BuildResult,
    ContainerInstaller,
    LayerTarget,
    MismatchedBuildError,
    PackageResult,
    PipInstaller,
    ToolMissingError,
    UploadResult,
)
from layer_builder.compat.artifact_builder import (
    Credentials,
    DependenciesUnchangedError,
    InconsistentLayerZipError,
    LambdaLayerVersionPublisher,
    LambdaLayerZipper,
    LayerDeployment,
    LayerZipNotUploadedError,
    ManifestNotFoundError,
    NothingBuiltError,
    PipBasedLambdaLayerLocalBuilder,
    UVBasedLambdaLayerContainerBuilder,
    UVBasedLambdaLayerLocalBuilder,
    upload_layer_zip_to_s3,
)
from tests.compat.conftest import AuthIndex, MakeSettings, Settings
from tests.conftest import MakeProject


def publisher(settings: Settings, **kwargs: Any) -> LambdaLayerVersionPublisher:
    return LambdaLayerVersionPublisher(
        layer_name=settings.layer_name,
        path_pyproject_toml=settings.path_pyproject_toml,
        s3dir_lambda=settings.s3dir_lambda,
        s3_client=settings.bsm.s3_client,
        lambda_client=settings.bsm.lambda_client,
        layer_build_tool=settings.layer_build_tool,
        **kwargs,
    )


def build_package_upload(settings: Settings, **kwargs: Any) -> UploadResult:
    UVBasedLambdaLayerLocalBuilder(path_pyproject_toml=settings.path_pyproject_toml, **kwargs).run()
    LambdaLayerZipper(settings.path_pyproject_toml, "uv", **kwargs).run()
    return upload_layer_zip_to_s3(
        settings.bsm.s3_client, settings.path_pyproject_toml, settings.s3dir_lambda, **kwargs
    )


def test_each_step_returns_its_result_and_tells_the_printer(
    make_settings: MakeSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings("uv")
    lines: list[str] = []
    build = UVBasedLambdaLayerLocalBuilder(
        path_pyproject_toml=settings.path_pyproject_toml, printer=lines.append
    ).run()
    assert isinstance(build, BuildResult)
    assert {d.name for d in build.distributions} == {"tinyhttp", "tinyutil", "s3transfer"}
    package = LambdaLayerZipper(settings.path_pyproject_toml, "uv", printer=lines.append).run()
    assert isinstance(package, PackageResult)
    assert package.excluded == ("s3transfer",)  # the old default list leaves it out
    upload = upload_layer_zip_to_s3(
        settings.bsm.s3_client,
        settings.path_pyproject_toml,
        settings.s3dir_lambda,
        printer=lines.append,
    )
    assert upload.s3path.key.startswith("projects/my_app/lambda/layer/zips/")
    deployment = publisher(settings, printer=lines.append).run()

    assert isinstance(deployment, LayerDeployment)
    assert (deployment.published, deployment.layer_version) == (True, 1)
    assert deployment.layer_version_arn.endswith(f":layer:{settings.layer_name}:1")
    assert deployment.s3path_manifest is not None
    assert deployment.s3path_manifest.key == "projects/my_app/lambda/layer/000001/uv.lock"
    bucket = settings.s3dir_lambda.bucket
    console = "https://console.aws.amazon.com/s3/object/" + bucket + "?prefix=projects/my_app/"
    assert f"S3 console: {console}lambda/layer/layer.zip" in lines
    assert f"S3 console: {console}lambda/layer/000001/uv.lock" in lines
    assert f"published layer version 1: {deployment.layer_version_arn}" in lines
    assert any(line.startswith("installed 3 distributions: s3transfer 99.0.0") for line in lines)
    assert "left out s3transfer" in lines
    assert capsys.readouterr().out == ""


def test_quiet_steps_tell_the_printer_only_where_the_upload_went(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings("uv")
    lines: list[str] = []
    caplog.set_level(logging.DEBUG, logger="layer_builder.compat")
    build_package_upload(settings, verbose=False, printer=lines.append)
    publisher(settings, verbose=False, printer=lines.append).run()

    layer_zip = settings.s3dir_lambda.joinpath("layer", "layer.zip")
    path_zip = settings.path_pyproject_toml.parent / "build/lambda/layer/layer.zip"
    assert lines == [
        f"uploaded {path_zip} to {layer_zip.uri}",
        f"S3 console: {layer_zip.console_url}",
    ]
    quiet = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(m.startswith("published layer version 1") for m in quiet)


def test_without_a_printer_messages_go_to_the_logger(
    make_settings: MakeSettings,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings("uv")
    caplog.set_level(logging.INFO, logger="layer_builder.compat")
    build_package_upload(settings)
    publisher(settings).run()
    logged = [
        r.getMessage() for r in caplog.records if r.name == "layer_builder.compat.artifact_builder"
    ]
    assert any(m.startswith("published layer version 1: arn:aws:lambda:") for m in logged)
    assert capsys.readouterr().out == ""


def test_an_unchanged_publish_returns_the_version_or_raises_when_asked(
    make_settings: MakeSettings, aws: AwsClients
) -> None:
    settings = make_settings("uv")
    build_package_upload(settings)
    first = publisher(settings).run()

    again = publisher(settings).run()
    assert (again.published, again.layer_version) == (False, 1)
    assert again.layer_version_arn == first.layer_version_arn
    assert again.reason == "uv.lock and build options unchanged since version 1"

    with pytest.raises(DependenciesUnchangedError) as raised:
        publisher(settings, raise_on_unchanged=True).run()
    assert isinstance(raised.value, ValueError)  # what the old publisher raised
    assert str(raised.value) == (
        f"nothing to publish for layer {settings.layer_name!r}: uv.lock and build options "
        f"unchanged since version 1 ({first.layer_version_arn}); raise_on_unchanged=False "
        f"returns that version"
    )
    versions = aws.lambda_.list_layer_versions(LayerName=settings.layer_name)["LayerVersions"]
    assert len(versions) == 1


def test_a_build_for_another_target_publishes_for_it(make_settings: MakeSettings) -> None:
    settings = make_settings("uv")
    UVBasedLambdaLayerLocalBuilder(
        path_pyproject_toml=settings.path_pyproject_toml,
        py_ver_major=3,
        py_ver_minor=13,
        is_arm=True,
    ).run()
    LambdaLayerZipper(settings.path_pyproject_toml, "uv").run()
    upload_layer_zip_to_s3(
        settings.bsm.s3_client, settings.path_pyproject_toml, settings.s3dir_lambda, "uv"
    )
    deployment = publisher(settings).run()
    version = settings.bsm.lambda_client.get_layer_version(
        LayerName=settings.layer_name, VersionNumber=deployment.layer_version
    )
    assert version["CompatibleRuntimes"] == ["python3.13"]
    assert version["CompatibleArchitectures"] == ["arm64"]


def test_a_missing_lock_is_named_with_its_fix(make_settings: MakeSettings) -> None:
    settings = make_settings("pip")
    path = settings.path_pyproject_toml.parent / "uv.lock"
    with pytest.raises(ManifestNotFoundError) as raised:
        UVBasedLambdaLayerLocalBuilder(path_pyproject_toml=settings.path_pyproject_toml).run()
    assert isinstance(raised.value, FileNotFoundError)
    assert str(raised.value) == (
        f"{path} does not exist, and a uv-based build installs from it: run `uv lock` in "
        f"{path.parent}"
    )


def test_packaging_before_building_is_refused(make_settings: MakeSettings) -> None:
    settings = make_settings("uv")
    dir_python = settings.path_pyproject_toml.parent / "build/lambda/layer/artifacts/python"
    with pytest.raises(NothingBuiltError) as raised:
        LambdaLayerZipper(settings.path_pyproject_toml, "uv").run()
    assert isinstance(raised.value, FileNotFoundError)
    assert str(raised.value) == (
        f"{dir_python} holds no build of layer_builder: run a builder first "
        f"(e.g. UVBasedLambdaLayerLocalBuilder(path_pyproject_toml=...).run())"
    )


def test_packaging_a_tree_of_another_manifest_is_refused(make_settings: MakeSettings) -> None:
    settings = make_settings("pip")
    project = settings.path_pyproject_toml.parent
    PipBasedLambdaLayerLocalBuilder(path_pyproject_toml=settings.path_pyproject_toml).run()
    (project / "requirements.txt").write_text("tinyutil==1.0.0\n")
    with pytest.raises(MismatchedBuildError) as raised:
        LambdaLayerZipper(settings.path_pyproject_toml, "pip").run()
    assert str(raised.value) == (
        f"{project / 'build/lambda/layer/artifacts/python'} was built from another "
        f"requirements.txt or pyproject.toml than those in {project}: run the builder again "
        f"before packaging"
    )


def test_uploading_before_packaging_is_refused(make_settings: MakeSettings) -> None:
    settings = make_settings("uv")
    path_zip = settings.path_pyproject_toml.parent / "build/lambda/layer/layer.zip"
    with pytest.raises(NothingBuiltError) as raised:
        upload_layer_zip_to_s3(
            settings.bsm.s3_client, settings.path_pyproject_toml, settings.s3dir_lambda
        )
    assert str(raised.value) == (
        f"{path_zip} does not exist: run LambdaLayerZipper(path_pyproject_toml=...).run() first"
    )


def test_publishing_before_uploading_is_refused(make_settings: MakeSettings) -> None:
    settings = make_settings("uv")
    with pytest.raises(LayerZipNotUploadedError) as raised:
        publisher(settings).run()
    assert isinstance(raised.value, FileNotFoundError)  # what the old publisher raised
    assert str(raised.value) == (
        f"{settings.s3dir_lambda.uri}layer/layer.zip does not exist: run "
        f"upload_layer_zip_to_s3(...) first"
    )


def test_a_layer_zip_the_old_tool_uploaded_is_refused(
    make_settings: MakeSettings, aws: AwsClients
) -> None:
    settings = make_settings("uv")
    staging = settings.s3dir_lambda.joinpath("layer", "layer.zip")
    aws.s3.put_object(
        Bucket=staging.bucket, Key=staging.key, Body=b"PK", Metadata={"manifest_md5": "0" * 32}
    )
    with pytest.raises(InconsistentLayerZipError) as raised:
        publisher(settings).run()
    assert isinstance(raised.value, ValueError)
    assert str(raised.value) == (
        f"{staging.uri} was not uploaded by layer_builder (by aws_lambda_artifact_builder?): "
        f"upload it again with upload_layer_zip_to_s3(...) of "
        f"layer_builder.compat.artifact_builder, then publish"
    )


def test_an_upload_of_another_manifest_is_refused(make_settings: MakeSettings) -> None:
    settings = make_settings("pip")
    project = settings.path_pyproject_toml.parent
    PipBasedLambdaLayerLocalBuilder(path_pyproject_toml=settings.path_pyproject_toml).run()
    LambdaLayerZipper(settings.path_pyproject_toml, "pip").run()
    upload_layer_zip_to_s3(
        settings.bsm.s3_client, settings.path_pyproject_toml, settings.s3dir_lambda, "pip"
    )
    (project / "requirements.txt").write_text("tinyutil==1.0.0\n")
    with pytest.raises(InconsistentLayerZipError) as raised:
        publisher(settings).run()
    assert str(raised.value) == (
        f"{settings.s3dir_lambda.uri}layer/layer.zip was uploaded from another "
        f"requirements.txt than {project / 'requirements.txt'}: package and upload again, "
        f"then publish"
    )


def test_credentials_reach_the_private_index_and_nothing_shows_them(
    make_project: MakeProject,
    auth_index: AuthIndex,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.1.0"})
    # Only the private index can serve the build.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple/")
    caplog.set_level(logging.DEBUG)
    lines: list[str] = []
    credentials = Credentials("private", auth_index.url, auth_index.user, auth_index.password)
    builder = PipBasedLambdaLayerLocalBuilder(
        path_bin_pip=Path(".venv/bin/pip").resolve(),
        path_pyproject_toml=project / "pyproject.toml",
        credentials=credentials,
        printer=lines.append,
    )
    installer = builder.make_installer()
    assert isinstance(installer, PipInstaller)
    result = builder.run()
    assert {d.name for d in result.distributions} == {"tinyhttp", "tinyutil"}
    assert result.installer == "pip"
    shown = "\n".join(lines) + caplog.text + repr(builder)
    assert auth_index.password not in shown
    assert not (tmp_path / "build/lambda/private-repository-credentials.json").exists()


def test_a_container_builder_runs_the_build_image_of_its_target(
    make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = make_settings("uv")
    builder = UVBasedLambdaLayerContainerBuilder(
        path_pyproject_toml=settings.path_pyproject_toml,
        py_ver_major=3,
        py_ver_minor=12,
        is_arm=True,
    )
    step = builder.make_build_step()
    assert step.target == LayerTarget("3.12", "arm64")
    assert isinstance(step.installer, ContainerInstaller)
    assert (
        step.installer.image_for(step.target) == "public.ecr.aws/sam/build-python3.12:latest-arm64"
    )
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker here
    with pytest.raises(ToolMissingError, match="docker is not installed"):
        builder.run()
