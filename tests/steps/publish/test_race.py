"""Two manifests racing on one layer: every version holds the zip its own run built.

Real ``layer-builder run`` processes against the moto server; one pauses before
``PublishLayerVersion`` (holding the publish lock) while the other builds, uploads and stages
its own zip, then waits for the lock; then the first goes on.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from layer_builder import AwsClients, LocalAwsEndpoint, VersionStamp
from tests.conftest import MakeProject
from tests.pause_hook import CliChild


def _finish(child: CliChild) -> dict[str, Any]:
    assert child.wait() == 0, child.stderr
    data = json.loads(child.stdout)
    assert isinstance(data, dict)
    return data


def check_version_holds_its_runs_zip(aws: AwsClients, layer_name: str, run: dict[str, Any]) -> None:
    """The version a run published holds that run's zip, labelled with that run's build."""
    version = aws.lambda_.get_layer_version(
        LayerName=layer_name, VersionNumber=run["layer_version"]
    )
    assert base64.b64decode(version["Content"]["CodeSha256"]).hex() == run["zip_sha256"]
    stamp = VersionStamp.from_description(version["Description"])
    assert stamp is not None
    assert stamp.fingerprint == run["fingerprint"]
    # The object it was published from holds those very bytes, and so does the run's zip.
    bucket, key = run["s3_uri"][len("s3://") :].split("/", 1)
    body = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == run["zip_sha256"]
    assert hashlib.sha256(Path(run["path"]).read_bytes()).hexdigest() == run["zip_sha256"]


@pytest.mark.usefixtures("aws_env")
def test_a_second_manifests_upload_during_a_publish_does_not_change_its_zip(
    make_project: MakeProject,
    tmp_path: Path,
    moto_endpoint: LocalAwsEndpoint,
    bucket: str,
    layer_name: str,
) -> None:
    first = make_project({"tinyutil": "1.0.0"}, name="first")
    second = make_project({"tinyutil": "1.1.0"}, name="second")
    remote = ["--layer-name", layer_name, "--s3dir", f"s3://{bucket}/app/", "--json"]
    paused = CliChild(tmp_path / "first-run", ["run", "--project", first, *remote],
                      operation="PublishLayerVersion")  # fmt: skip
    other: CliChild | None = None
    try:
        paused.wait_until_paused()
        other = CliChild(tmp_path / "second-run", ["run", "--project", second, *remote])
        # It has uploaded and staged its zip (layer.zip holds it now) and waits for the lock.
        other.wait_for_stderr("waiting for the publish lock")
        aws = moto_endpoint.clients()
        staged = aws.s3.head_object(Bucket=bucket, Key="app/layer/layer.zip")["Metadata"]
        assert (
            staged["manifest-sha256"]
            == hashlib.sha256((second / "requirements.txt").read_bytes()).hexdigest()
        )
        paused.resume()
        runs = [_finish(paused), _finish(other)]
    finally:
        paused.stop()
        if other is not None:
            other.stop()

    assert [(r["published"], r["layer_version"]) for r in runs] == [(True, 1), (True, 2)]
    assert runs[0]["zip_sha256"] != runs[1]["zip_sha256"]
    for run in runs:
        check_version_holds_its_runs_zip(aws, layer_name, run)
