"""The local build tree and the S3 keys of the published layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from layer_builder import ConfigurationError, LayerPathLayout, LayerS3Layout
from layer_builder.model.layout import parse_s3dir
from layer_builder.model.s3path import S3Path


def test_local_paths_live_under_build_lambda_layer(tmp_path: Path) -> None:
    layout = LayerPathLayout(tmp_path / "proj" / ".." / "proj")
    root = (tmp_path / "proj").resolve()
    assert layout.project_dir == root
    assert layout.dir_build == root / "build" / "lambda" / "layer"
    assert layout.dir_artifacts == root / "build" / "lambda" / "layer" / "artifacts"
    assert layout.dir_python == root / "build" / "lambda" / "layer" / "artifacts" / "python"
    assert layout.path_layer_zip == root / "build" / "lambda" / "layer" / "layer.zip"
    assert layout.path_lock == root / "build" / "lambda" / "layer" / ".lock"
    assert layout.path_lock == layout.path_layer_zip.with_name(".lock"), "PackageStep's default"
    assert layout.path_local_aws_state.parent == root / "build" / "lambda" / "local-aws"


def test_local_layout_accepts_a_string_and_compares_by_value(tmp_path: Path) -> None:
    assert LayerPathLayout(str(tmp_path)) == LayerPathLayout(tmp_path)


def test_s3_keys_follow_the_published_contract() -> None:
    layout = LayerS3Layout("s3://bucket/projects/my_app/lambda/")
    assert layout.s3dir_layer.uri == "s3://bucket/projects/my_app/lambda/layer/"
    assert layout.s3path_layer_zip.uri == "s3://bucket/projects/my_app/lambda/layer/layer.zip"
    assert layout.s3path_layer_zip.bucket == "bucket"
    assert layout.s3path_layer_zip.key == "projects/my_app/lambda/layer/layer.zip"
    assert (
        layout.s3path_manifest_backup(1, "uv.lock").uri
        == "s3://bucket/projects/my_app/lambda/layer/000001/uv.lock"
    )
    assert (
        layout.s3path_last_manifest("uv.lock").uri
        == "s3://bucket/projects/my_app/lambda/layer/last-uv.lock"
    )


@pytest.mark.parametrize(
    ("version", "folder"),
    [(1, "000001"), (12, "000012"), (999_999, "999999"), (1_000_000, "1000000")],
)
def test_backup_folders_are_zero_padded_to_six_digits(version: int, folder: str) -> None:
    layout = LayerS3Layout("s3://bkt/app/")
    path = layout.s3path_manifest_backup(version, "requirements.txt")
    assert path.key == f"app/layer/{folder}/requirements.txt"


@pytest.mark.parametrize("filename", ["requirements.txt", "poetry.lock", "uv.lock"])
def test_every_manifest_has_its_last_copy(filename: str) -> None:
    assert (
        LayerS3Layout("s3://bkt/x").s3path_last_manifest(filename).key == f"x/layer/last-{filename}"
    )


@pytest.mark.parametrize(
    "uri", ["s3://bucket/app/lambda/", "s3://bucket/app/lambda", S3Path("bucket", "app", "lambda/")]
)
def test_s3dir_with_or_without_trailing_slash(uri: str | S3Path) -> None:
    s3dir = parse_s3dir(uri)
    assert s3dir.is_dir()
    assert s3dir.uri == "s3://bucket/app/lambda/"
    assert LayerS3Layout(uri).s3path_layer_zip.key == "app/lambda/layer/layer.zip"


@pytest.mark.parametrize("uri", ["s3://bucket", "s3://bucket/"])
def test_s3dir_at_the_bucket_root(uri: str) -> None:
    layout = LayerS3Layout(uri)
    assert layout.s3path_layer_zip.uri == "s3://bucket/layer/layer.zip"
    assert layout.s3path_manifest_backup(2, "uv.lock").key == "layer/000002/uv.lock"


def test_s3_file_path_object_becomes_its_folder() -> None:
    assert parse_s3dir(S3Path("bucket", "app", "lambda")).uri == "s3://bucket/app/lambda/"


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "bucket/app/",
        "s3://",
        "s3:///app/",
        "https://bucket.s3.amazonaws.com/app/",
        "S3://bucket/app/",
        "s3:/bucket/app/",
    ],
)
def test_bad_s3_uris_are_refused_with_an_example(uri: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_s3dir(uri)
    assert str(info.value) == (
        f"invalid S3 folder {uri!r}: expected s3://bucket/prefix/ "
        f"(e.g. --s3dir s3://my-bucket/projects/my_app/lambda/)"
    )
    with pytest.raises(ConfigurationError):
        LayerS3Layout(uri)


@pytest.mark.parametrize(
    ("bucket", "problem"),
    [
        ("ab", "a bucket name has 3 to 63 characters, not 2"),
        ("b", "a bucket name has 3 to 63 characters, not 1"),
        ("a" * 256, "a bucket name has 3 to 63 characters, not 256"),
        ("bad bucket", "a bucket name has only lowercase letters, digits, '.' and '-', not ' '"),
        ("b@d", "a bucket name has only lowercase letters, digits, '.' and '-', not '@'"),
        (
            "bucket?x=1",
            "a bucket name has only lowercase letters, digits, '.' and '-', not '?' or '='",
        ),
    ],
)
def test_bucket_names_boto_would_refuse_are_refused_first_saying_why(
    bucket: str, problem: str
) -> None:
    uri = f"s3://{bucket}/app/"
    with pytest.raises(ConfigurationError) as info:
        parse_s3dir(uri)
    assert str(info.value) == (
        f"invalid S3 bucket name {bucket!r} in {uri!r}: {problem} (e.g. s3://my-bucket/app/lambda/)"
    )
