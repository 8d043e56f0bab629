"""The embedded local AWS endpoint: a real moto server on 127.0.0.1."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import botocore.config
import botocore.exceptions
import pytest

from layer_builder import AwsClients, AwsError, ConfigurationError, LocalAwsEndpoint


def test_start_serves_on_localhost_and_stop_shuts_it_down() -> None:
    endpoint = LocalAwsEndpoint()
    with pytest.raises(RuntimeError, match="not started"):
        _ = endpoint.endpoint_url
    endpoint.start()
    try:
        url = endpoint.endpoint_url
        assert url.startswith("http://127.0.0.1:")
        assert int(url.rsplit(":", 1)[1]) > 0
        assert "Buckets" in endpoint.client("s3").list_buckets()
    finally:
        endpoint.stop()
    with pytest.raises(RuntimeError, match="not started"):
        _ = endpoint.endpoint_url
    endpoint.stop()  # a second stop is harmless
    s3 = endpoint.session().client(
        "s3", endpoint_url=url, config=botocore.config.Config(retries={"max_attempts": 1})
    )
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        s3.list_buckets()


def test_context_manager_gives_clients_for_its_region() -> None:
    with LocalAwsEndpoint(region="eu-west-1") as endpoint:
        clients = endpoint.clients()
        assert isinstance(clients, AwsClients)
        assert clients.region == "eu-west-1"
        assert clients.s3.meta.endpoint_url == endpoint.endpoint_url
        assert clients.lambda_.meta.endpoint_url == endpoint.endpoint_url
        assert "Layers" in clients.lambda_.list_layers()
        url = endpoint.endpoint_url
    with pytest.raises(RuntimeError):
        _ = endpoint.endpoint_url
    assert url.startswith("http://127.0.0.1:")


def test_local_credentials_are_fixed_not_the_users(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUSERSREALKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "users-real-secret")
    credentials = LocalAwsEndpoint().session().get_credentials()
    assert credentials.access_key == "testing"
    assert credentials.secret_key == "testing"


def test_ensure_bucket_creates_once(moto_endpoint: LocalAwsEndpoint) -> None:
    name = f"local-{uuid.uuid4().hex[:12]}"
    s3 = moto_endpoint.client("s3")
    moto_endpoint.ensure_bucket(name)
    s3.put_object(Bucket=name, Key="kept", Body=b"x")
    moto_endpoint.ensure_bucket(name)  # idempotent: the bucket and its objects stay
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names.count(name) == 1
    assert s3.get_object(Bucket=name, Key="kept")["Body"].read() == b"x"


def test_missing_moto_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes the import fail, as if moto were not installed.
    monkeypatch.setitem(sys.modules, "moto.server", None)
    with pytest.raises(ConfigurationError) as info:
        LocalAwsEndpoint()
    assert str(info.value) == (
        "the local AWS endpoint needs moto's server: pip install 'lambda-layer-builder[local]'"
    )


_READ_STATE = """
import json, sys
from pathlib import Path
from layer_builder import LocalAwsEndpoint
with LocalAwsEndpoint(state_path=Path(sys.argv[1])) as endpoint:
    s3 = endpoint.client("s3")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    body = s3.get_object(Bucket="kept-bucket", Key="a/b.txt")["Body"].read().decode()
    layers = endpoint.client("lambda").list_layer_versions(LayerName="kept_layer")
print(json.dumps({"buckets": buckets, "body": body,
                  "versions": [v["Version"] for v in layers["LayerVersions"]]}))
"""

_WRITE_STATE = """
import io, sys, zipfile
from pathlib import Path
from layer_builder import LocalAwsEndpoint
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w") as zf:
    zf.writestr("python/kept.py", "")
with LocalAwsEndpoint(state_path=Path(sys.argv[1])) as endpoint:
    endpoint.ensure_bucket("kept-bucket")
    s3 = endpoint.client("s3")
    s3.put_object(Bucket="kept-bucket", Key="a/b.txt", Body=b"hello")
    s3.put_object(Bucket="kept-bucket", Key="a/layer.zip", Body=buffer.getvalue())
    s3.list_objects_v2(Bucket="kept-bucket")
    endpoint.client("lambda").publish_layer_version(
        LayerName="kept_layer", Content={"S3Bucket": "kept-bucket", "S3Key": "a/layer.zip"}
    )
"""


def _python(script: str, *args: str) -> str:
    process = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=False
    )
    assert process.returncode == 0, process.stderr
    return process.stdout


def _blobs(state: Path) -> dict[str, int]:
    """The blobs of the state at ``state``, by name: their sizes."""
    folder = state.with_suffix(".blobs")
    return {p.name: p.stat().st_size for p in folder.iterdir() if p.name != "lock"}


def test_state_path_carries_buckets_objects_and_layers_to_another_process(
    tmp_path: Path,
) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    _python(_WRITE_STATE, str(state))
    lines = state.read_text().splitlines()
    assert json.loads(lines[0]) == {"format": "layer-builder local AWS state", "version": 1}
    kinds = [json.loads(line)["kind"] for line in lines[1:]]
    assert kinds == ["bucket", "object", "object", "layer"]
    # The bodies are blobs named by their sha256, not lines of the state.
    assert hashlib.sha256(b"hello").hexdigest() in _blobs(state)
    assert "hello" not in state.read_text()
    assert not list(state.parent.rglob("*.partial"))

    data = json.loads(_python(_READ_STATE, str(state)))
    assert "kept-bucket" in data["buckets"]
    assert data["body"] == "hello"
    assert data["versions"] == [1]
    # Reading saved nothing that would be restored twice: a third process sees one version.
    again = json.loads(_python(_READ_STATE, str(state)))
    assert again["versions"] == [1]


def test_saving_the_state_replaces_a_link_never_writes_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("")
    state = tmp_path / "local-aws" / "state.jsonl"
    state.parent.mkdir()
    state.symlink_to(victim)
    _python(_WRITE_STATE, str(state))
    assert victim.read_text() == ""
    assert not state.is_symlink()
    assert "kept-bucket" in state.read_text()


# -- real sizes: concurrent multipart uploads, versions with gaps, permissions -----------------

_DESCRIBE = """
import hashlib, json, os, sys, threading
from pathlib import Path
from boto3.s3.transfer import TransferConfig
from layer_builder import LocalAwsEndpoint
from layer_builder.model.s3path import S3Path
from layer_builder.steps.upload import head_zip_or_none

state = Path(sys.argv[1])
KEYS = ("zips/a.zip", "zips/b.zip", "layer.zip")

def describe(endpoint):
    s3, lambda_ = endpoint.client("s3"), endpoint.client("lambda")
    heads = {}
    for key in KEYS:
        head = s3.head_object(Bucket="big-bucket", Key=key)
        zip_sha256 = head["Metadata"]["zip-sha256"]
        # What upload and publish check before trusting an object: its label and bytes.
        holds = head_zip_or_none(s3, S3Path("big-bucket", key), zip_sha256) is not None
        heads[key] = [head["ContentType"], head["Metadata"], head["ContentLength"], holds]
    listed = lambda_.list_layer_versions(LayerName="big_layer")["LayerVersions"]
    fields = ("Version", "LayerVersionArn", "Description", "CompatibleRuntimes",
              "CompatibleArchitectures", "LicenseInfo")
    versions = [{k: v.get(k) for k in fields} for v in listed]
    code = {}
    policies = {}
    for v in listed:
        n = v["Version"]
        got = lambda_.get_layer_version(LayerName="big_layer", VersionNumber=n)["Content"]
        code[n] = [got["CodeSha256"], got["CodeSize"]]
        try:
            policy = lambda_.get_layer_version_policy(LayerName="big_layer", VersionNumber=n)
            policies[n] = json.loads(policy["Policy"])["Statement"]
        except lambda_.exceptions.ResourceNotFoundException:
            policies[n] = []
    parameter = endpoint.client("ssm").get_parameter(Name="/layers/big")["Parameter"]["Value"]
    return {"heads": heads, "versions": versions, "code": code, "policies": policies,
            "parameter": parameter}
"""

_BIG_WRITE = (
    _DESCRIBE
    + """
config = TransferConfig(multipart_threshold=8 * 2**20, multipart_chunksize=5 * 2**20,
                        max_concurrency=4)
sizes = {"zips/a.zip": 45 * 2**20, "zips/b.zip": 12 * 2**20}
with LocalAwsEndpoint(state_path=state) as endpoint:
    endpoint.ensure_bucket("big-bucket")
    s3 = endpoint.client("s3")
    digests = {}

    def upload(key):
        path = state.parent.parent / key.replace("/", "-")
        data = os.urandom(sizes[key])
        path.write_bytes(data)
        digests[key] = hashlib.sha256(data).hexdigest()
        extra = {"ContentType": "application/zip", "ChecksumAlgorithm": "SHA256",
                 "Metadata": {"zip-sha256": digests[key]}}
        s3.upload_file(str(path), "big-bucket", key, ExtraArgs=extra, Config=config)

    # Two multipart uploads at once, their parts interleaved: a two-target run.
    threads = [threading.Thread(target=upload, args=(key,)) for key in sizes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(digests) == 2
    # The staging copy, as UploadStep makes it: the same bytes under other labels.
    s3.copy_object(Bucket="big-bucket", Key="layer.zip",
                   CopySource={"Bucket": "big-bucket", "Key": "zips/a.zip"},
                   MetadataDirective="REPLACE", ContentType="application/zip",
                   Metadata={"zip-sha256": digests["zips/a.zip"], "manifest-sha256": "m"},
                   ChecksumAlgorithm="SHA256")
    lambda_ = endpoint.client("lambda")
    for key in ("zips/a.zip", "zips/b.zip", "zips/b.zip", "zips/b.zip"):
        lambda_.publish_layer_version(
            LayerName="big_layer", Content={"S3Bucket": "big-bucket", "S3Key": key},
            Description=f"from {key}", CompatibleRuntimes=["python3.12"],
            CompatibleArchitectures=["arm64"], LicenseInfo="MIT")
    # A gap (2) and a deleted last version (4): the next one is 5, on AWS as here.
    for n in (2, 4):
        lambda_.delete_layer_version(LayerName="big_layer", VersionNumber=n)
    lambda_.add_layer_version_permission(LayerName="big_layer", VersionNumber=1,
        StatementId="layer-builder-public", Action="lambda:GetLayerVersion", Principal="*")
    lambda_.add_layer_version_permission(LayerName="big_layer", VersionNumber=3,
        StatementId="layer-builder-org-o-abcdefghij", Action="lambda:GetLayerVersion",
        Principal="*", OrganizationId="o-abcdefghij")
    endpoint.client("ssm").put_parameter(Name="/layers/big", Type="String",
        Value="arn:aws:lambda:us-east-1:123456789012:layer:big_layer:3")
    print(json.dumps(describe(endpoint)))
"""
)

_BIG_READ = (
    _DESCRIBE
    + """
with LocalAwsEndpoint(state_path=state) as endpoint:
    seen = describe(endpoint)
    published = endpoint.client("lambda").publish_layer_version(
        LayerName="big_layer", Content={"S3Bucket": "big-bucket", "S3Key": "zips/b.zip"})
    seen["next"] = published["Version"]
    endpoint.client("lambda").delete_layer_version(LayerName="big_layer", VersionNumber=5)
print(json.dumps(seen))
"""
)


def test_concurrent_multipart_uploads_and_layer_versions_survive_a_restart(
    tmp_path: Path,
) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    written = json.loads(_python(_BIG_WRITE, str(state)))
    assert [v["Version"] for v in written["versions"]] == [3, 1]
    assert all(head[3] for head in written["heads"].values())

    restored = json.loads(_python(_BIG_READ, str(state)))
    assert restored.pop("next") == 5  # deleted version numbers are not given again
    # The same ARNs, descriptions, zips (CodeSha256), policies, S3 labels and parameter.
    assert restored == written
    # Each content stored once: a.zip's bytes are two objects and a version, b.zip's an
    # object and two versions.
    sizes = _blobs(state)
    assert sorted(sizes.values()) == [12 * 2**20, 45 * 2**20]
    assert state.stat().st_size < 16 * 1024
    # The read session published 5 and deleted it: the next start gives 6.
    layer = next(json.loads(line) for line in state.read_text().splitlines()
                 if '"layer"' in line)  # fmt: skip
    assert layer["last_version"] == 5
    assert [v["version"] for v in layer["versions"]] == [1, 3]
    assert not list(state.parent.rglob("*.partial"))


# -- moto's output ------------------------------------------------------------------------------

_MOTO_FAILS = """
import logging, sys
import botocore.exceptions
from layer_builder import LocalAwsEndpoint
handler = logging.StreamHandler(sys.stdout)
logging.getLogger("layer_builder").addHandler(handler)
logging.getLogger("layer_builder").setLevel(logging.DEBUG)
with LocalAwsEndpoint() as endpoint:
    endpoint.ensure_bucket("failing-bucket")
    try:  # an upload id moto does not know: moto fails with a KeyError
        endpoint.client("s3").upload_part(Bucket="failing-bucket", Key="k", UploadId="nope",
                                          PartNumber=1, Body=b"x")
    except botocore.exceptions.ClientError as exc:
        print("client error:", exc.response["Error"]["Code"])
"""


def test_moto_failures_go_to_the_debug_log_not_stderr() -> None:
    process = subprocess.run(
        [sys.executable, "-c", _MOTO_FAILS], capture_output=True, text=True, check=False
    )
    assert process.returncode == 0, process.stderr
    assert process.stderr == ""
    assert "client error: 500" in process.stdout
    assert "moto server (werkzeug): Error on request:" in process.stdout
    assert "KeyError: 'nope'" in process.stdout


def test_logging_of_werkzeug_and_moto_is_given_back_after_stop() -> None:
    werkzeug = logging.getLogger("werkzeug")
    before = (werkzeug.handlers[:], werkzeug.propagate, werkzeug.level)
    with LocalAwsEndpoint():
        assert werkzeug.propagate is False
    assert (werkzeug.handlers[:], werkzeug.propagate, werkzeug.level) == before


# -- a state that cannot be used ----------------------------------------------------------------

_OLD_FORMAT = (
    '{"headers": {"Host": "127.0.0.1:5000"}, "method": "PUT", '
    '"url": "http://127.0.0.1:5000/kept-bucket", "body": "", "body_encoded": false}\n'
)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (_OLD_FORMAT, "it is a request log of an older layer-builder, which this one no longer "
                      "replays"),
        ('{"method": "PUT", "url": "http://x/b"}{"method": "PUT"}\n',
         "its first line is not a JSON object"),
        ("\x00\x01garbage", "its first line is not a JSON object"),
        ('{"format": "layer-builder local AWS state", "version": 1}\n{"kind": "table"}\n',
         "line 2 is not a record (unknown kind 'table')"),
        ('{"format": "layer-builder local AWS state", "version": 1}\n'
         '{"kind": "bucket", "name": "x", "region": 1}\n',
         "line 2 is not a record ('region' must be <class 'str'> (got 1 that is a "
         "<class 'int'>).)"),
    ],
)  # fmt: skip
def test_an_unusable_state_is_a_warning_and_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str, reason: str
) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    state.parent.mkdir()
    state.write_text(content)
    with (
        caplog.at_level(logging.WARNING, logger="layer_builder"),
        LocalAwsEndpoint(state_path=state) as endpoint,
    ):
        assert "kept-bucket" not in [
            b["Name"] for b in endpoint.client("s3").list_buckets()["Buckets"]
        ]
    assert [r.getMessage() for r in caplog.records] == [
        f"local AWS state {state} cannot be used: {reason}; starting from an empty local "
        f"account (layers are published again), and the file is replaced when the endpoint "
        f"stops"
    ]
    # Replaced by a state of the current format, even though nothing changed.
    header = json.loads(state.read_text().splitlines()[0])
    assert header == {"format": "layer-builder local AWS state", "version": 1}


def test_a_state_naming_a_missing_blob_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    _python(_WRITE_STATE, str(state))
    missing = hashlib.sha256(b"hello").hexdigest()
    (state.with_suffix(".blobs") / missing).unlink()
    with (
        caplog.at_level(logging.WARNING, logger="layer_builder"),
        LocalAwsEndpoint(state_path=state),
    ):
        pass
    assert [r.getMessage() for r in caplog.records] == [
        f"local AWS state {state} cannot be used: its blob "
        f"{state.with_suffix('.blobs') / missing} is missing; starting from an empty local "
        f"account (layers are published again), and the file is replaced when the endpoint "
        f"stops"
    ]


def test_a_state_of_a_newer_format_is_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    state.parent.mkdir()
    newer = '{"format": "layer-builder local AWS state", "version": 99}\n{"kind": "vault"}\n'
    state.write_text(newer)
    name = f"local-{uuid.uuid4().hex[:12]}"
    with (
        caplog.at_level(logging.WARNING, logger="layer_builder"),
        LocalAwsEndpoint(state_path=state) as endpoint,
    ):
        endpoint.ensure_bucket(name)  # a change, which is not saved over the newer file
    assert [r.getMessage() for r in caplog.records] == [
        f"local AWS state {state} cannot be used: it was written by a newer layer-builder "
        f"(format 99; this one reads 1); starting from an empty local account (layers are "
        f"published again), and the file is left as it is (delete {state.parent} to start "
        f"over)"
    ]
    assert state.read_text() == newer


# -- saving soundly -----------------------------------------------------------------------------


def test_a_save_that_fails_keeps_the_previous_state(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    _python(_WRITE_STATE, str(state))
    before = state.read_bytes()
    blobs_before = _blobs(state)

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with (
        caplog.at_level(logging.WARNING, logger="layer_builder"),
        LocalAwsEndpoint(state_path=state) as endpoint,
    ):
        endpoint.client("s3").put_object(Bucket="kept-bucket", Key="new.txt", Body=b"new")
        monkeypatch.setattr(os, "fsync", full_disk)
    monkeypatch.undo()
    assert [r.getMessage() for r in caplog.records] == [
        f"could not save the local AWS state in {state} (No space left on device): the state "
        f"saved before is kept, and the next run does not see this one's changes"
    ]
    assert state.read_bytes() == before
    assert _blobs(state) == blobs_before
    assert not list(state.parent.rglob("*.partial"))


_KILLED_WHILE_SAVING = """
import os, signal, sys
from pathlib import Path
from layer_builder import LocalAwsEndpoint
# The machine stops at the first fsync of the save: the blob of new.txt is half written.
os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
with LocalAwsEndpoint(state_path=Path(sys.argv[1])) as endpoint:
    endpoint.client("s3").put_object(Bucket="kept-bucket", Key="new.txt", Body=b"new")
"""


def test_a_process_killed_while_saving_leaves_the_previous_state(tmp_path: Path) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    _python(_WRITE_STATE, str(state))
    before = state.read_bytes()
    process = subprocess.run(
        [sys.executable, "-c", _KILLED_WHILE_SAVING, str(state)], capture_output=True, check=False
    )
    assert process.returncode == -signal.SIGKILL
    assert state.read_bytes() == before
    assert list(state.with_suffix(".blobs").glob("*.partial"))  # what the crash left
    data = json.loads(_python(_READ_STATE, str(state)))
    assert data["body"] == "hello"
    assert data["versions"] == [1]
    _python(_WRITE_STATE.replace("a/b.txt", "a/c.txt"), str(state))  # a save cleans up
    assert not list(state.parent.rglob("*.partial"))


# -- several endpoints in one process (moto's state is per process) -----------------------------


def test_a_second_endpoint_of_the_process_finds_the_state_already_there(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    name = f"local-{uuid.uuid4().hex[:12]}"
    layer = f"layer_{uuid.uuid4().hex[:10]}"
    with LocalAwsEndpoint(state_path=state) as endpoint:
        endpoint.ensure_bucket(name)
        endpoint.client("s3").put_object(Bucket=name, Key="layer.zip", Body=b"zip bytes")
        endpoint.client("lambda").publish_layer_version(
            LayerName=layer, Content={"S3Bucket": name, "S3Key": "layer.zip"}
        )
    with (
        caplog.at_level(logging.WARNING, logger="layer_builder"),
        LocalAwsEndpoint(state_path=state) as endpoint,
    ):
        listed = endpoint.client("lambda").list_layer_versions(LayerName=layer)
    assert [v["Version"] for v in listed["LayerVersions"]] == [1]
    assert caplog.records == []


def test_what_another_endpoint_of_the_process_made_is_not_saved(
    tmp_path: Path, bucket: str, layer_name: str, moto_endpoint: LocalAwsEndpoint
) -> None:
    moto_endpoint.client("s3").put_object(Bucket=bucket, Key="zip", Body=b"other")
    moto_endpoint.client("lambda").publish_layer_version(
        LayerName=layer_name, Content={"S3Bucket": bucket, "S3Key": "zip"}
    )
    state = tmp_path / "local-aws" / "state.jsonl"
    mine = f"local-{uuid.uuid4().hex[:12]}"
    with LocalAwsEndpoint(state_path=state) as endpoint:
        endpoint.ensure_bucket(mine)
        endpoint.client("s3").put_object(Bucket=mine, Key="zip", Body=b"mine")
        endpoint.client("lambda").publish_layer_version(
            LayerName=f"{layer_name}_mine", Content={"S3Bucket": mine, "S3Key": "zip"}
        )
    records = [json.loads(line) for line in state.read_text().splitlines()[1:]]
    assert {r["name"] for r in records if r["kind"] == "bucket"} == {mine}
    assert {r["name"] for r in records if r["kind"] == "layer"} == {f"{layer_name}_mine"}


def _layer_with_one_version(state: Path) -> tuple[str, str]:
    """An endpoint on ``state`` publishes version 1 of a new layer from a new bucket; their
    names."""
    name = f"local-{uuid.uuid4().hex[:12]}"
    layer = f"layer_{uuid.uuid4().hex[:10]}"
    with LocalAwsEndpoint(state_path=state) as endpoint:
        endpoint.ensure_bucket(name)
        endpoint.client("s3").put_object(Bucket=name, Key="layer.zip", Body=b"zip bytes")
        endpoint.client("lambda").publish_layer_version(
            LayerName=layer, Content={"S3Bucket": name, "S3Key": "layer.zip"}
        )
    return name, layer


def test_a_layer_another_endpoint_changed_is_left_alone_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, moto_endpoint: LocalAwsEndpoint
) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    name, layer = _layer_with_one_version(state)
    moto_endpoint.client("lambda").publish_layer_version(
        LayerName=layer, Content={"S3Bucket": name, "S3Key": "layer.zip"}
    )
    with (
        caplog.at_level(logging.WARNING, logger="layer_builder"),
        LocalAwsEndpoint(state_path=state) as endpoint,
    ):
        listed = endpoint.client("lambda").list_layer_versions(LayerName=layer)
    assert [v["Version"] for v in listed["LayerVersions"]] == [2, 1]
    assert [r.getMessage() for r in caplog.records] == [
        f"local layer {layer!r} (us-east-1) was not restored: another endpoint of this "
        f"process holds other versions of it (1, 2)"
    ]


def test_a_layer_whose_numbers_moto_cannot_give_again_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, moto_endpoint: LocalAwsEndpoint
) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    _, layer = _layer_with_one_version(state)
    # Deleted by another endpoint of the process: no longer listed, but moto counts on.
    moto_endpoint.client("lambda").delete_layer_version(LayerName=layer, VersionNumber=1)
    with (
        caplog.at_level(logging.WARNING, logger="layer_builder"),
        LocalAwsEndpoint(state_path=state) as endpoint,
    ):
        listed = endpoint.client("lambda").list_layer_versions(LayerName=layer)
    assert listed["LayerVersions"] == []  # the version moto gave instead is deleted again
    assert [r.getMessage() for r in caplog.records] == [
        f"local layer {layer!r} (us-east-1) was not restored: moto gave version 2 for the "
        f"saved version 1 (another endpoint of this process had made the layer)"
    ]


def test_a_version_whose_zip_is_gone_is_kept_with_an_empty_zip(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    name = f"local-{uuid.uuid4().hex[:12]}"
    layer = f"layer_{uuid.uuid4().hex[:10]}"
    with (
        caplog.at_level(logging.WARNING, logger="layer_builder"),
        LocalAwsEndpoint(state_path=state) as endpoint,
    ):
        endpoint.ensure_bucket(name)
        s3 = endpoint.client("s3")
        s3.put_object(Bucket=name, Key="layer.zip", Body=b"zip bytes")
        endpoint.client("lambda").publish_layer_version(
            LayerName=layer, Content={"S3Bucket": name, "S3Key": "layer.zip"}
        )
        s3.delete_object(Bucket=name, Key="layer.zip")  # before any save held its bytes
    assert [r.getMessage() for r in caplog.records] == [
        f"version 1 of local layer {layer!r} (us-east-1) was published from a zip no S3 "
        f"object holds any more (or given inline): the local state keeps it with an empty "
        f"zip, so its CodeSha256 differs after the next start"
    ]
    record = next(json.loads(line) for line in state.read_text().splitlines()
                  if '"layer"' in line)  # fmt: skip
    empty_zip = b"PK\x05\x06" + bytes(18)
    assert record["versions"][0]["sha256"] == hashlib.sha256(empty_zip).hexdigest()


def test_a_state_moto_refuses_is_an_error_naming_the_way_out(tmp_path: Path) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    state.parent.mkdir()
    refused = "b" * 64  # botocore sends it, S3 (and moto) refuse it
    content = (
        '{"format": "layer-builder local AWS state", "version": 1}\n'
        f'{{"kind": "bucket", "name": "{refused}", "region": "us-east-1", "versioning": null}}\n'
    )
    state.write_text(content)
    werkzeug = logging.getLogger("werkzeug")
    before = (werkzeug.handlers[:], werkzeug.propagate)
    with pytest.raises(AwsError) as info:
        LocalAwsEndpoint(state_path=state).start()
    assert str(info.value) == (
        f"restoring the local AWS state saved in {state} failed (InvalidBucketName The "
        f"specified bucket is not valid.): delete {state.parent} to start from an empty local "
        f"account"
    )
    assert state.read_text() == content  # kept for a layer-builder that can use it
    assert (werkzeug.handlers[:], werkzeug.propagate) == before  # the server is shut down
