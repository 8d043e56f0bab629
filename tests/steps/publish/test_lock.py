"""The publish lock, and two runs racing on the same layer and manifest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from layer_builder import AwsClients, LocalAwsEndpoint, UploadResult
from layer_builder.model.s3path import S3Path
from layer_builder.steps.publish.lock import LockTimeoutError, PublishLock
from tests.aws_helpers import HandmadeWorkflow, make_manifest, object_keys
from tests.conftest import MakeProject


def _lock_path(bucket: str) -> S3Path:
    return S3Path(bucket, "app/layer/.publish.lock")


def test_lock_is_exclusive_and_released(aws: AwsClients, bucket: str) -> None:
    first = PublishLock(aws.s3, _lock_path(bucket))
    first.acquire()
    body = aws.s3.get_object(Bucket=bucket, Key="app/layer/.publish.lock")["Body"].read()
    assert json.loads(body) == {"owner": first.owner, "ttl": 300.0}

    second = PublishLock(aws.s3, _lock_path(bucket), wait_timeout=0)
    with pytest.raises(LockTimeoutError) as info:
        second.acquire()
    message = str(info.value)
    assert message.startswith(
        f"s3://{bucket}/app/layer/.publish.lock is held by {first.owner} for "
    )
    assert message.endswith(
        "another run is publishing this layer; wait for it, or delete the lock object if "
        "that run died"
    )

    first.release()
    assert object_keys(aws, bucket) == []
    with second:
        assert object_keys(aws, bucket) == ["app/layer/.publish.lock"]
    assert object_keys(aws, bucket) == []


def test_waiter_gets_the_lock_when_the_holder_releases_it(aws: AwsClients, bucket: str) -> None:
    holder = PublishLock(aws.s3, _lock_path(bucket))
    holder.acquire()
    sleeps: list[float] = []

    def holder_finishes(seconds: float) -> None:
        sleeps.append(seconds)
        holder.release()

    waiter = PublishLock(aws.s3, _lock_path(bucket), sleep=holder_finishes)
    waiter.acquire()

    assert waiter.waited
    assert sleeps == [0.5]
    body = aws.s3.get_object(Bucket=bucket, Key="app/layer/.publish.lock")["Body"].read()
    assert json.loads(body)["owner"] == waiter.owner
    waiter.release()


def test_expired_lock_of_a_dead_run_is_taken_over(
    aws: AwsClients, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    dead = json.dumps({"owner": "ci-runner:4242:dead", "ttl": -1}).encode()
    aws.s3.put_object(Bucket=bucket, Key="app/layer/.publish.lock", Body=dead)

    with PublishLock(aws.s3, _lock_path(bucket), wait_timeout=0) as lock:
        body = aws.s3.get_object(Bucket=bucket, Key="app/layer/.publish.lock")["Body"].read()
        assert json.loads(body)["owner"] == lock.owner

    assert "taking over" in caplog.text
    assert "ci-runner:4242:dead did not release it" in caplog.text


def test_release_never_deletes_a_lock_taken_over_by_another_run(
    aws: AwsClients, bucket: str
) -> None:
    lock = PublishLock(aws.s3, _lock_path(bucket))
    lock.acquire()
    # Another run decided the lock expired and took it over.
    aws.s3.put_object(Bucket=bucket, Key="app/layer/.publish.lock", Body=b'{"owner": "x"}')

    lock.release()

    assert object_keys(aws, bucket) == ["app/layer/.publish.lock"]


def test_two_threads_racing_publish_exactly_one_version(
    tmp_path: Path, moto_endpoint: LocalAwsEndpoint, bucket: str, layer_name: str
) -> None:
    barrier = threading.Barrier(2, timeout=60)

    class RacingWorkflow(HandmadeWorkflow):
        def after_upload(self, result: UploadResult) -> None:
            # Both runs have passed the no-op check and uploaded before either publishes.
            barrier.wait()

    results = []
    errors: list[BaseException] = []

    def run(name: str) -> None:
        project = tmp_path / name
        make_manifest(project, b"tinyutil==1.0.0\n")
        workflow = RacingWorkflow(
            project, layer_name, f"s3://{bucket}/app/", aws=moto_endpoint.clients()
        )
        try:
            results.append(workflow.run())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(r.publish.published for r in results) == [False, True]
    assert {r.publish.layer_version for r in results} == {1}
    assert len({r.publish.layer_version_arn for r in results}) == 1
    loser = next(r for r in results if not r.publish.published)
    assert loser.publish.reason == "requirements.txt and build options unchanged since version 1"
    aws = moto_endpoint.clients()
    versions = aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [1]
    assert ".publish.lock" not in " ".join(object_keys(aws, bucket))


def test_two_processes_racing_publish_exactly_one_version(
    make_project: MakeProject,
    tmp_path: Path,
    moto_endpoint: LocalAwsEndpoint,
    aws_env: None,
    bucket: str,
    layer_name: str,
) -> None:
    first = make_project({"tinyutil": "1.0.0"}, name="first")
    second = tmp_path / "second"
    shutil.copytree(first, second)
    command = [sys.executable, "-m", "layer_builder.cli", "run", "--layer-name", layer_name,
               "--s3dir", f"s3://{bucket}/app/", "--json", "-q"]  # fmt: skip
    processes = [
        subprocess.Popen(
            [*command, "--project", str(project)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ),
            text=True,
        )
        for project in (first, second)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]

    assert [p.returncode for p in processes] == [0, 0], outputs
    data = [json.loads(stdout) for stdout, _ in outputs]
    assert sorted(d["published"] for d in data) == [False, True]
    assert {d["layer_version"] for d in data} == {1}
    versions = moto_endpoint.clients().lambda_.list_layer_versions(LayerName=layer_name)
    assert [v["Version"] for v in versions["LayerVersions"]] == [1]
