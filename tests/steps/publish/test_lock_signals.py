"""The publish lock and real signals: a CLI ``run`` paused while it holds the lock, then
stopped (SIGTERM, SIGINT) or killed (SIGKILL); the next run publishes without waiting."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest

from layer_builder import LocalAwsEndpoint
from tests.aws_helpers import object_keys
from tests.cli.test_cli import run_subprocess
from tests.conftest import MakeProject
from tests.pause_hook import CliChild

pytestmark = [
    pytest.mark.usefixtures("aws_env"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]
LOCK = "app/layer/.publish.lock"


def _paused_holding_the_lock(
    tmp_path: Path, project: Path, remote: list[str], moto_endpoint: LocalAwsEndpoint, bucket: str
) -> CliChild:
    child = CliChild(tmp_path / "paused", ["run", "--project", project, *remote],
                     operation="PublishLayerVersion")  # fmt: skip
    child.wait_until_paused()
    body = moto_endpoint.clients().s3.get_object(Bucket=bucket, Key=LOCK)["Body"].read()
    assert json.loads(body)["pid"] == child.process.pid
    return child


@pytest.mark.parametrize(
    ("signum", "said"),
    [(signal.SIGTERM, "stopped by SIGTERM; cleaned up"), (signal.SIGINT, "interrupted")],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_stopped_run_releases_the_publish_lock(
    make_project: MakeProject,
    tmp_path: Path,
    moto_endpoint: LocalAwsEndpoint,
    bucket: str,
    layer_name: str,
    signum: int,
    said: str,
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    remote = ["--layer-name", layer_name, "--s3dir", f"s3://{bucket}/app/", "--json"]
    child = _paused_holding_the_lock(tmp_path, project, remote, moto_endpoint, bucket)
    try:
        child.process.send_signal(signum)
        code = child.wait()
    finally:
        child.stop()

    assert code == 128 + signum, child.stderr
    assert said in child.stderr
    aws = moto_endpoint.clients()
    assert LOCK not in object_keys(aws, bucket)
    assert aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"] == []

    rerun = run_subprocess("run", "--project", project, *remote)
    assert rerun.code == 0, rerun.err
    assert (rerun.json["published"], rerun.json["layer_version"]) == (True, 1)
    assert "waiting for the publish lock" not in rerun.err
    assert "taking over" not in rerun.err


def test_a_killed_runs_lock_is_taken_over_at_once(
    make_project: MakeProject,
    tmp_path: Path,
    moto_endpoint: LocalAwsEndpoint,
    bucket: str,
    layer_name: str,
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    remote = ["--layer-name", layer_name, "--s3dir", f"s3://{bucket}/app/", "--json"]
    child = _paused_holding_the_lock(tmp_path, project, remote, moto_endpoint, bucket)
    try:
        child.process.kill()
        assert child.wait() == -signal.SIGKILL
    finally:
        child.stop()
    aws = moto_endpoint.clients()
    assert LOCK in object_keys(aws, bucket)  # SIGKILL leaves no chance to clean up

    rerun = run_subprocess("run", "--project", project, *remote)

    assert rerun.code == 0, rerun.err
    assert (rerun.json["published"], rerun.json["layer_version"]) == (True, 1)
    assert (
        f"taking over s3://{bucket}/{LOCK}: its holder, pid {child.process.pid} on host "
    ) in rerun.err
    assert "is dead" in rerun.err
    # Not the 5-minute expiry: the holder was known dead, so nothing waited for it.
    assert "did not release it within" not in rerun.err
    assert "waiting for the publish lock" not in rerun.err
    assert LOCK not in object_keys(aws, bucket)
