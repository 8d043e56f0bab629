"""The old API's value objects: build tool, credentials, layouts, publish kwargs, targets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from layer_builder import ConfigurationError, LayerTarget, PackageOptions, Tool
from layer_builder import LayerS3Layout as NativeS3Layout
from layer_builder.compat._layouts import default_python_version, make_target, tool_of
from layer_builder.compat._publish import PublishSettings
from layer_builder.compat._zipper import package_options
from layer_builder.compat.artifact_builder import (
    DEFAULT_IGNORE_PACKAGE_LIST,
    Credentials,
    LayerBuildToolEnum,
    LayerPathLayout,
    LayerS3Layout,
    default_ignore_package_list,
)

S3DIR = "s3://my-bucket/projects/my_app/lambda/"


def test_the_s3_keys_are_those_the_old_layout_named() -> None:
    layout = LayerS3Layout(S3DIR)
    assert isinstance(layout, NativeS3Layout)  # our steps take it as it is
    assert layout.s3path_temp_layer_zip.uri == S3DIR + "layer/layer.zip"
    assert layout.get_s3dir_layer_version(1).uri == S3DIR + "layer/000001/"
    assert (
        layout.get_s3path_layer_requirements_txt(2).uri == S3DIR + "layer/000002/requirements.txt"
    )
    assert layout.get_s3path_layer_poetry_lock(12).uri == S3DIR + "layer/000012/poetry.lock"
    assert layout.get_s3path_layer_uv_lock(3).uri == S3DIR + "layer/000003/uv.lock"
    assert layout.s3path_last_requirements_txt.uri == S3DIR + "layer/last-requirements.txt"
    assert layout.s3path_last_poetry_lock.uri == S3DIR + "layer/last-poetry.lock"
    assert layout.s3path_last_uv_lock.uri == S3DIR + "layer/last-uv.lock"
    # A folder given without its trailing slash is the same folder.
    assert LayerS3Layout(S3DIR.rstrip("/")) == layout


def test_the_local_paths_are_those_the_old_layout_named(tmp_path: Path) -> None:
    layout = LayerPathLayout(path_pyproject_toml=tmp_path / "pyproject.toml")
    root = tmp_path.resolve()
    assert layout.dir_project_root == root
    assert layout.dir_build_lambda == root / "build/lambda"
    assert layout.dir_build_lambda_layer == root / "build/lambda/layer"
    assert layout.path_build_lambda_layer_zip == root / "build/lambda/layer/layer.zip"
    assert layout.dir_artifacts == root / "build/lambda/layer/artifacts"
    assert layout.dir_python == root / "build/lambda/layer/artifacts/python"
    assert layout.native.dir_python == layout.dir_python
    assert layout.get_path_manifest(LayerBuildToolEnum.pip) == root / "requirements.txt"
    assert layout.get_path_manifest(LayerBuildToolEnum.poetry) == layout.path_poetry_lock
    assert layout.get_path_manifest("uv") == layout.path_uv_lock == root / "uv.lock"


def test_build_tools_map_onto_ours() -> None:
    assert [t.tool for t in LayerBuildToolEnum] == [Tool.PIP, Tool.POETRY, Tool.UV]
    assert LayerBuildToolEnum.uv == "uv"  # a str, as it was
    assert tool_of("poetry") is Tool.POETRY


def test_an_unknown_build_tool_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"unsupported layer_build_tool 'pdm': use "):
        tool_of("pdm")


def test_credentials_become_an_index_url_only_the_installer_environment_sees() -> None:
    credentials = Credentials(
        index_name="esc",
        index_url="https://esc-111122223333.d.codeartifact.us-east-1.amazonaws.com/pypi/r/",
        username="aws",
        password="t0k/en+",
    )
    expected = (
        "https://aws:t0k%2Fen%2B@esc-111122223333.d.codeartifact.us-east-1.amazonaws.com"
        "/pypi/r/simple/"
    )
    assert credentials.index_url_with_credentials == expected
    assert credentials.index_options().index_url == expected
    assert "t0k" not in repr(credentials) and "t0k" not in repr(credentials.index_options())
    # A URL ending in /simple, or without a scheme, says the same.
    for url in ("esc.example.com/pypi/r/simple", "https://esc.example.com/pypi/r/simple/"):
        same = Credentials("esc", url, "aws", "tok").index_url_with_credentials
        assert same == "https://aws:tok@esc.example.com/pypi/r/simple/"
    local = Credentials("local", "http://127.0.0.1:8080/simple/", "u", "p")
    assert local.index_url_with_credentials == "http://u:p@127.0.0.1:8080/simple/"
    ipv6 = Credentials("local", "http://old:creds@[::1]:8080/pypi", "u", "p")
    assert ipv6.index_url_with_credentials == "http://u:p@[::1]:8080/pypi/simple/"


def test_credentials_without_a_host_are_refused() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"invalid index_url 'https:///simple/' for index 'esc': expected https://host/path/simple/",
    ):
        _ = Credentials("esc", "https:///simple/", "aws", "tok").index_url_with_credentials


def test_the_default_target_is_the_running_python_when_lambda_has_it() -> None:
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    expected = host if host in ("3.10", "3.11", "3.12", "3.13", "3.14") else "3.12"
    assert default_python_version() == expected
    assert make_target() == LayerTarget(expected, "x86_64")
    assert make_target(3, 13, True) == LayerTarget("3.13", "arm64")


def test_half_a_python_version_is_refused() -> None:
    with pytest.raises(
        ConfigurationError, match=r"give both py_ver_major and py_ver_minor \(got 3 and None\)"
    ):
        make_target(3, None)


def test_the_old_default_exclusions_by_distribution_name() -> None:
    assert default_ignore_package_list == list(DEFAULT_IGNORE_PACKAGE_LIST)
    assert "urllib3" in default_ignore_package_list
    options = package_options(None)
    assert "urllib3" in options.excludes and "twine" in options.excludes
    assert options.kept_when_required == ()  # followed as given, as the old list was
    # The old prefix patterns: "boto3*" meant boto3.
    assert package_options(["boto3*", "mypy"]).excludes == ("boto3", "mypy")
    assert package_options([]) == PackageOptions(excludes=())


def test_publish_kwargs_map_onto_publish_options_and_the_target() -> None:
    settings = PublishSettings.from_kwargs(
        {
            "Description": "my deps",
            "LicenseInfo": "MIT",
            "CompatibleRuntimes": ["python3.13"],
            "CompatibleArchitectures": ["arm64"],
        }
    )
    assert (settings.options.description, settings.options.license_info) == ("my deps", "MIT")
    assert settings.target(None, None, None) == LayerTarget("3.13", "arm64")
    assert PublishSettings.from_kwargs(None).target(3, 12, False) == LayerTarget("3.12")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"LayerName": "x", "Content": {}},
            r"publish_layer_version_kwargs Content, LayerName not supported: give only "
            r"Description, LicenseInfo, CompatibleRuntimes, CompatibleArchitectures",
        ),
        (
            {"CompatibleRuntimes": ["python3.11", "python3.12"]},
            r"publish_layer_version_kwargs CompatibleRuntimes=\['python3.11', 'python3.12'\]: "
            r"layer_builder declares the one runtime the layer is built for",
        ),
        (
            {"CompatibleArchitectures": "arm64"},
            r"CompatibleArchitectures='arm64': layer_builder declares the one architecture",
        ),
        ({"Description": "x" * 83}, r"description is 83 characters"),
    ],
)
def test_publish_kwargs_that_cannot_be_honoured_are_refused(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        PublishSettings.from_kwargs(kwargs)


def test_publish_kwargs_naming_another_target_are_refused() -> None:
    settings = PublishSettings.from_kwargs({"CompatibleRuntimes": ["python3.13"]})
    with pytest.raises(
        ConfigurationError,
        match=r"publish_layer_version_kwargs CompatibleRuntimes names python3.13, but the layer "
        r"is built for python3.12 x86_64: drop CompatibleRuntimes, or build for python3.13",
    ):
        settings.target(3, 12, False)
