"""The embedded local AWS endpoint: a real moto server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import botocore.config
import botocore.exceptions
import pytest

from layer_builder import AwsClients, ConfigurationError, LocalAwsEndpoint


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


def test_state_path_carries_buckets_objects_and_layers_to_another_process(
    tmp_path: Path,
) -> None:
    state = tmp_path / "local-aws" / "state.jsonl"
    _python(_WRITE_STATE, str(state))
    assert state.is_file()
    entries = [json.loads(line) for line in state.read_text().splitlines()]
    # Only what changes state is kept: no GET/HEAD, no recorder control calls.
    assert entries
    assert {e["method"] for e in entries} <= {"PUT", "POST"}
    assert not [e for e in entries if "/moto-api/" in e.get("url", "")]
    assert not list(state.parent.glob("*.partial"))

    data = json.loads(_python(_READ_STATE, str(state)))
    assert "kept-bucket" in data["buckets"]
    assert data["body"] == "hello"
    assert data["versions"] == [1]
    # Reading saved nothing new that would replay twice: a third process sees one version.
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
