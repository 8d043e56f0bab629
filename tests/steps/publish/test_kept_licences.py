"""``--deny-license`` on a run that finds its build already published: the version it keeps is
judged from its contents record (S3, else the local one of the same zip), else built and
packaged, against the moto server."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from layer_builder import AwsClients, LayerTarget, LayerWorkflow, PackageOptions
from layer_builder.errors import LicenseDeniedError
from tests.conftest import MakeProject

PINS = {"tinyutil": "1.0.0", "tinygpl": "1.0.0", "fastcalc": "1.0.0"}
TARGET = LayerTarget("3.12", "x86_64")
FIX = (
    "remove it from the project's dependencies, leave it out with --exclude tinygpl if the "
    "function does not import it, or stop denying that licence"
)


def workflow(project: Path, layer_name: str, bucket: str, aws: AwsClients, *deny: str) -> Any:
    options = PackageOptions(deny_licenses=deny)
    return LayerWorkflow(
        project, layer_name, f"s3://{bucket}/app/", TARGET, aws=aws, package_options=options
    )


@pytest.fixture
def published(make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str) -> Path:
    """A project whose layer (tinygpl included) is version 1, published with no policy."""
    project = make_project(PINS)
    assert workflow(project, layer_name, bucket, aws).run().publish.layer_version == 1
    return project


def versions(aws: AwsClients, layer_name: str) -> list[int]:
    listed = aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    return [v["Version"] for v in listed]


def test_an_unchanged_layer_shipping_a_denied_licence_fails_the_run(
    published: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    denying = workflow(published, layer_name, bucket, aws, "GPL-*")

    with pytest.raises(LicenseDeniedError) as info:
        denying.run()

    assert str(info.value) == (
        f"tinygpl 1.0.0 is GPL-3.0-or-later (from s3://{bucket}/app/layer/000001/contents.json)"
        f", refused by --deny-license GPL-*: {FIX}"
    )
    assert versions(aws, layer_name) == [1]


def test_the_local_record_of_the_same_zip_serves_when_s3_has_none(
    published: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    aws.s3.delete_object(Bucket=bucket, Key="app/layer/000001/contents.json")
    denying = workflow(published, layer_name, bucket, aws, "GPL-3.0-or-later")
    local = denying.layout.path_contents
    shutil.rmtree(denying.layout.dir_python)  # judged from the record: nothing is built

    with pytest.raises(LicenseDeniedError) as info:
        denying.run()

    assert str(info.value) == (
        f"tinygpl 1.0.0 is GPL-3.0-or-later (from {local}), refused by --deny-license "
        f"GPL-3.0-or-later: {FIX}"
    )
    assert not denying.layout.dir_python.exists()
    assert versions(aws, layer_name) == [1]


def test_with_no_record_of_the_version_the_tree_is_built_and_judged(
    published: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    aws.s3.delete_object(Bucket=bucket, Key="app/layer/000001/contents.json")
    denying = workflow(published, layer_name, bucket, aws, "GPL-*")
    shutil.rmtree(denying.layout.dir_build)

    with pytest.raises(LicenseDeniedError) as info:
        denying.run()

    assert str(info.value) == (
        f"tinygpl 1.0.0 is GPL-3.0-or-later (from License-Expression), refused by "
        f"--deny-license GPL-*: {FIX}"
    )
    assert denying.layout.dir_python.is_dir()  # built, then refused by the package step
    assert not denying.layout.path_layer_zip.exists()
    assert versions(aws, layer_name) == [1]


def test_an_allowed_unchanged_layer_stays_a_no_op(
    published: Path,
    aws: AwsClients,
    bucket: str,
    layer_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "layer_builder")
    shutil.rmtree(published / "build")

    result = workflow(published, layer_name, bucket, aws, "AGPL-*").run()

    assert result.skipped and result.build is None
    assert result.publish.layer_version == 1
    assert (
        "--deny-license cannot judge fastcalc 1.0.0 (BSD) in version 1: their metadata gives "
        "no SPDX licence; review them in the licence report"
    ) in caplog.text
