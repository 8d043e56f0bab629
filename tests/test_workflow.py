"""The four steps chained by LayerWorkflow against the moto server."""

from __future__ import annotations

import zipfile

from layer_builder import AwsClients, LayerTarget, LayerWorkflow
from tests.conftest import MakeProject


def test_run_publishes_then_reruns_as_no_op(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0", "fastcalc": "1.0.0"})
    workflow = LayerWorkflow(
        project, layer_name, f"s3://{bucket}/app/lambda/", LayerTarget("3.12", "arm64"), aws=aws
    )
    first = workflow.run()
    assert first.publish.published
    assert first.publish.layer_version == 1
    with zipfile.ZipFile(first.package.path_zip) as zf:
        names = zf.namelist()
    assert "python/fastcalc/_speedups.cpython-312-aarch64-linux-gnu.so" in names

    second = workflow.run()
    assert not second.publish.published
    assert second.publish.layer_version == 1
    assert second.publish.layer_version_arn == first.publish.layer_version_arn
    assert second.package.sha256 == first.package.sha256
