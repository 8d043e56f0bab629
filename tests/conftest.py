"""Shared fixtures: a moto server on 127.0.0.1, a local wheel index, tiny projects."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import botocore.client
import pytest

from layer_builder import AwsClients, LocalAwsEndpoint
from tests.wheelhouse import IndexServer, build_index


@attrs.frozen
class WheelIndex:
    url: str
    hashes: Mapping[str, str]

    def hashes_of(self, name: str, version: str) -> list[str]:
        prefix = f"{name.replace('-', '_')}-{version}-"
        return [h for f, h in sorted(self.hashes.items()) if f.startswith(prefix)]


@pytest.fixture(scope="session")
def wheel_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WheelIndex]:
    root = tmp_path_factory.mktemp("index")
    hashes = build_index(root)
    server = IndexServer(root).start()
    yield WheelIndex(server.url, hashes)
    server.stop()


@pytest.fixture(scope="session")
def uv_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """uv caches index pages by URL: one that an earlier session's index served on the same
    port must not answer for this session's index."""
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture(autouse=True)
def isolated_environment(
    monkeypatch: pytest.MonkeyPatch, wheel_index: WheelIndex, uv_cache_dir: Path
) -> None:
    """Installers see only the local index; AWS sees no real account."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # devnull: pip loads no config file
    monkeypatch.setenv("PIP_INDEX_URL", wheel_index.url)
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache_dir))
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT", "SOURCE_DATE_EPOCH"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[LocalAwsEndpoint]:
    with LocalAwsEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_endpoint: LocalAwsEndpoint) -> AwsClients:
    return moto_endpoint.clients()


@pytest.fixture
def bucket(moto_endpoint: LocalAwsEndpoint) -> str:
    """A fresh bucket per test: the moto server lives for the whole session."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    moto_endpoint.ensure_bucket(name)
    return name


@pytest.fixture
def layer_name() -> str:
    return f"layer_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_endpoint: LocalAwsEndpoint) -> None:
    """The default boto3 chain pointed at the moto server, as a user's shell would be."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


MakeProject = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path, wheel_index: WheelIndex) -> MakeProject:
    """Make a pip project pinning ``{name: version}`` (hashes of every wheel by default)."""

    def make(
        pins: Mapping[str, str],
        name: str = "app",
        hashes: bool = True,
        pyproject_extra: str = "",
    ) -> Path:
        project = tmp_path / name
        project.mkdir(exist_ok=True)
        lines = []
        for dist, version in pins.items():
            line = f"{dist}=={version}"
            if hashes:
                line += "".join(f" --hash=sha256:{h}" for h in wheel_index.hashes_of(dist, version))
            lines.append(line)
        (project / "requirements.txt").write_text("\n".join(lines) + "\n")
        (project / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "0.1.0"\n{pyproject_extra}'
        )
        return project

    return make


@pytest.fixture
def aws_operations(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The name of every AWS operation made from now on, counted."""
    seen: Counter[str] = Counter()
    make_call = botocore.client.BaseClient._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        seen[operation] += 1
        return make_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    return seen
