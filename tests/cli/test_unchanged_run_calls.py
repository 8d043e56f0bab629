"""The instant no-op: an unchanged ``run`` checks the bucket once, asks Lambda twice, and
writes nothing (its repair of missing backups: tests/steps/publish/test_step.py). Every AWS
operation is counted on its way to the moto server (a spy on botocore's call, which still
makes it)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.conftest import MakeProject


@pytest.mark.usefixtures("aws_env")
def test_an_unchanged_run_checks_the_bucket_once_and_writes_nothing(
    make_project: MakeProject,
    bucket: str,
    layer_name: str,
    cli: Any,
    aws_operations: Counter[str],
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    args = ["run", "--project", project, "--layer-name", layer_name,
            "--s3dir", f"s3://{bucket}/app/lambda/", "--json"]  # fmt: skip
    assert cli(*args).json["published"] is True
    assert aws_operations["PublishLayerVersion"] == 1, "the spy sees the calls"
    aws_operations.clear()

    rerun = cli(*args).json
    assert rerun["skipped"] is True and rerun["layer_version"] == 1
    assert aws_operations == Counter(
        HeadBucket=1,  # the bucket check, once (the CLI used to make it twice)
        ListLayerVersions=1,  # the newest version for this target
        GetLayerVersion=1,  # its CodeSha256, for the result
        GetObject=3,  # the manifest backups it repairs when missing, read side by side
    )
