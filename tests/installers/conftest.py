"""Fixtures for the installer tests: uv/Poetry env isolation and a basic-auth index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.wheelhouse import IndexServer, build_index

#: Index settings a developer's shell may carry; the tests decide the index themselves.
UV_INDEX_VARIABLES = (
    "UV_INDEX",
    "UV_DEFAULT_INDEX",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_NO_BUILD",
    "UV_COMPILE_BYTECODE",
    "UV_FROZEN",
    "UV_LOCKED",
)


@pytest.fixture(autouse=True)
def isolated_uv(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in UV_INDEX_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@attrs.frozen
class AuthIndex:
    """The local index behind HTTP basic auth: ``url`` has no credentials."""

    url: str
    user: str
    password: str

    @property
    def url_with_credentials(self) -> str:
        return self.url.replace("http://", f"http://{self.user}:{self.password}@")


def _auth_index(root: Path, refusal: int) -> Iterator[AuthIndex]:
    build_index(root)
    password = "s3cr3t-Tok3n-4-layers"  # a test secret the tests hunt for
    server = IndexServer(root, credentials=f"builder:{password}", refusal=refusal).start()
    yield AuthIndex(server.url, "builder", password)
    server.stop()


@pytest.fixture(scope="session")
def auth_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthIndex]:
    """Answers 401 Unauthorized without the right credentials."""
    yield from _auth_index(tmp_path_factory.mktemp("auth-index"), 401)


@pytest.fixture(scope="session")
def forbidding_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthIndex]:
    """Answers 403 Forbidden without the right credentials (as Artifactory or Nexus may)."""
    yield from _auth_index(tmp_path_factory.mktemp("forbidding-index"), 403)
