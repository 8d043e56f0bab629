"""The publish lock, and two runs racing on the same layer and manifest."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from layer_builder import AwsClients, LocalAwsEndpoint, UploadResult
from layer_builder.errors import LockTimeoutError
from layer_builder.model.s3path import S3Path
from layer_builder.steps.publish.liveness import ProcessId
from layer_builder.steps.publish.lock import PublishLock
from tests.aws_helpers import HandmadeWorkflow, make_manifest, object_keys
from tests.conftest import MakeProject


def _lock_path(bucket: str) -> S3Path:
    return S3Path(bucket, "app/layer/.publish.lock")


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat, read here independently of the code under test."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _put_lock(aws: AwsClients, bucket: str, **holder: object) -> None:
    body = {"owner": "someone", "ttl": 300.0, **holder}
    aws.s3.put_object(Bucket=bucket, Key="app/layer/.publish.lock", Body=json.dumps(body))


def _lock_owner(aws: AwsClients, bucket: str) -> str:
    body = aws.s3.get_object(Bucket=bucket, Key="app/layer/.publish.lock")["Body"].read()
    return str(json.loads(body)["owner"])


def _this_host(pid: int, started: str | None = None) -> dict[str, object]:
    return {"host": socket.gethostname(), "pid": pid, "started": started,
            "pid_namespace": _pid_namespace()}  # fmt: skip


def test_a_dead_holder_on_this_host_is_taken_over_at_once(
    aws: AwsClients, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(finished.stdout)
    _put_lock(aws, bucket, **_this_host(pid))

    # wait_timeout=0: a live holder would make this fail at once with LockTimeoutError.
    with PublishLock(aws.s3, _lock_path(bucket), wait_timeout=0) as lock:
        assert _lock_owner(aws, bucket) == lock.owner

    assert not lock.waited
    assert (
        f"taking over s3://{bucket}/app/layer/.publish.lock: its holder, pid {pid} on host "
        f"{socket.gethostname()}, is dead"
    ) in caplog.text


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_reused_pid_is_a_dead_holder(aws: AwsClients, bucket: str) -> None:
    # This pid is alive, but the process the lock names started at another time.
    _put_lock(aws, bucket, **_this_host(os.getpid(), started="1"))
    with PublishLock(aws.s3, _lock_path(bucket), wait_timeout=0) as lock:
        assert _lock_owner(aws, bucket) == lock.owner


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_an_exited_holder_not_yet_reaped_is_dead(aws: AwsClients, bucket: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = _start_time(child.pid)
        child.kill()
        # Not waited for: a zombie until reaped, which os.kill(pid, 0) still finds.
        for _ in range(600):
            if Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            threading.Event().wait(0.05)
        _put_lock(aws, bucket, **_this_host(child.pid, started))
        with PublishLock(aws.s3, _lock_path(bucket), wait_timeout=0) as lock:
            assert _lock_owner(aws, bucket) == lock.owner
    finally:
        child.wait()


def test_a_live_holder_is_waited_for_and_named(
    aws: AwsClients, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="layer_builder")
    holder = PublishLock(aws.s3, _lock_path(bucket))
    holder.acquire()
    sleeps: list[float] = []

    def holder_finishes(seconds: float) -> None:
        sleeps.append(seconds)
        holder.release()

    waiter = PublishLock(aws.s3, _lock_path(bucket), sleep=holder_finishes)
    waiter.acquire()
    waiter.release()

    assert sleeps == [0.5]
    assert (
        f"waiting for the publish lock s3://{bucket}/app/layer/.publish.lock, held by pid "
        f"{os.getpid()} on host {socket.gethostname()} for "
    ) in caplog.text
    assert "taking over" not in caplog.text


def test_a_thread_waiting_for_its_process_s_lock_is_woken_by_the_release(
    aws: AwsClients, bucket: str
) -> None:
    holder = PublishLock(aws.s3, _lock_path(bucket))
    holder.acquire()
    # Polling every hour: only the release can let the waiter go on within the test.
    waiter = PublishLock(aws.s3, _lock_path(bucket), poll_interval=3600)
    acquired = threading.Event()

    def wait() -> None:
        waiter.acquire()
        acquired.set()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    deadline = threading.Event()
    while not waiter.waited and thread.is_alive():
        deadline.wait(0.01)
    assert waiter.waited and not acquired.is_set()
    holder.release()
    assert acquired.wait(timeout=60)
    waiter.release()
    thread.join(timeout=60)
    assert object_keys(aws, bucket) == []


@pytest.mark.parametrize(
    "holder",
    [
        {"host": "another-host", "pid": 999_999_999},  # no such pid here, but not our host
        {"host": socket.gethostname(), "pid": 999_999_999, "pid_namespace": "pid:[0]"},
        {"host": socket.gethostname(), "pid": 0},  # not a process
        {"host": socket.gethostname(), "pid": "4242"},
        {"pid": 999_999_999},
    ],
    ids=["other-host", "other-namespace", "pid-0", "pid-text", "no-host"],
)
def test_a_holder_that_cannot_be_judged_here_is_left_to_expire(
    aws: AwsClients, bucket: str, holder: dict[str, object]
) -> None:
    _put_lock(aws, bucket, **holder)
    with pytest.raises(LockTimeoutError):
        PublishLock(aws.s3, _lock_path(bucket), wait_timeout=0).acquire()
    assert _lock_owner(aws, bucket) == "someone"


@pytest.mark.parametrize(
    ("last_modified", "date"),
    [
        ("Mon, 01 Jan 2024 00:00:00 -0000", "Mon, 01 Jan 2024 00:01:40 -0000"),  # formatdate()
        ("Mon, 01 Jan 2024 00:00:00", "Mon, 01 Jan 2024 00:01:40"),  # no zone at all
        ("Mon, 01 Jan 2024 00:00:00 GMT", "Mon, 01 Jan 2024 02:01:40 +0200"),  # not in GMT
    ],
    ids=["minus-0000", "no-zone", "plus-0200"],
)
def test_a_lock_age_is_read_from_server_dates_in_any_zone(
    aws: AwsClients, bucket: str, last_modified: str, date: str
) -> None:
    def server_dates(response_dict: dict[str, Any], **_: object) -> None:
        # What an S3-compatible server that does not write GMT dates answers.
        response_dict["headers"]["Last-Modified"] = last_modified
        response_dict["headers"]["Date"] = date

    aws.s3.meta.events.register("before-parse.s3.GetObject", server_dates)
    _put_lock(aws, bucket)
    with pytest.raises(LockTimeoutError) as info:
        PublishLock(aws.s3, _lock_path(bucket), wait_timeout=0).acquire()
    assert str(info.value) == (
        f"s3://{bucket}/app/layer/.publish.lock is held by someone for 100 s: another run is "
        f"publishing this layer; wait for it, or delete the lock object if that run died"
    )


def test_process_id_refuses_what_is_not_a_process() -> None:
    for document in (None, [], {"host": "h"}, {"host": "h", "pid": True}, {"host": 1, "pid": 2}):
        assert ProcessId.from_json(document) is None
    found = ProcessId.from_json({"host": "h", "pid": 7, "started": 5, "pid_namespace": None})
    assert found == ProcessId("h", 7, None, None)


def test_a_lock_write_interrupted_by_a_signal_leaves_no_lock(aws: AwsClients, bucket: str) -> None:
    def interrupted(**_: object) -> None:
        raise KeyboardInterrupt  # the write happened; its response never reached the run

    aws.s3.meta.events.register("after-call.s3.PutObject", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            PublishLock(aws.s3, _lock_path(bucket)).acquire()
    finally:
        aws.s3.meta.events.unregister("after-call.s3.PutObject", interrupted)
    assert object_keys(aws, bucket) == []


def test_a_release_interrupted_by_a_signal_still_deletes_the_lock(
    aws: AwsClients, bucket: str
) -> None:
    lock = PublishLock(aws.s3, _lock_path(bucket))
    lock.acquire()
    calls = [0]

    def interrupted_once(**_: object) -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise KeyboardInterrupt

    aws.s3.meta.events.register("before-call.s3.DeleteObject", interrupted_once)
    try:
        with pytest.raises(KeyboardInterrupt):
            lock.release()
    finally:
        aws.s3.meta.events.unregister("before-call.s3.DeleteObject", interrupted_once)
    assert calls[0] == 2
    assert object_keys(aws, bucket) == []


def test_lock_is_exclusive_and_released(aws: AwsClients, bucket: str) -> None:
    first = PublishLock(aws.s3, _lock_path(bucket))
    first.acquire()
    body = aws.s3.get_object(Bucket=bucket, Key="app/layer/.publish.lock")["Body"].read()
    assert json.loads(body) == {
        "owner": first.owner,
        "ttl": 300.0,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": _start_time(os.getpid()),
        "pid_namespace": _pid_namespace(),
    }

    second = PublishLock(aws.s3, _lock_path(bucket), wait_timeout=0)
    with pytest.raises(LockTimeoutError) as info:
        second.acquire()
    message = str(info.value)
    assert message.startswith(
        f"s3://{bucket}/app/layer/.publish.lock is held by pid {os.getpid()} on host "
        f"{socket.gethostname()} for "
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
