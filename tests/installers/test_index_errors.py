"""What the index said, told apart from real pip and uv output: credentials refused (401,
403), a package or a version missing, or no wheel for the target."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from layer_builder import LayerTarget, Manifest
from layer_builder.cli import main
from layer_builder.errors import (
    IndexAuthError,
    IndexUnreachableError,
    NoCompatibleWheelError,
    PackageNotFoundError,
)
from layer_builder.installers import IndexOptions, Installer, PipInstaller, UvPipInstaller
from tests.conftest import MakeProject, WheelIndex
from tests.installers.conftest import AuthIndex

INSTALLERS: dict[str, Callable[..., Installer]] = {"pip": PipInstaller, "uv-pip": UvPipInstaller}
X86_311 = LayerTarget("3.11", "x86_64")
FIX = (
    "check the user and token the index URL carries (PIP_INDEX_URL, UV_DEFAULT_INDEX, "
    "--index-url, --codeartifact) and that they may read this index"
)


@pytest.fixture(autouse=True)
def fresh_uv_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """uv would answer from pages the session's cache holds, without asking the index."""
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.delenv("PIP_INDEX_URL")


def install(kind: str, project: Path, index_url: str, tmp_path: Path) -> None:
    installer = INSTALLERS[kind](index=IndexOptions(index_url))
    out = tmp_path / "out"
    out.mkdir()
    installer.install(Manifest.from_project(project), X86_311, out)


def _host(url: str) -> str:
    return url.split("//", 1)[1].split("/", 1)[0]


@pytest.mark.parametrize("kind", INSTALLERS)
@pytest.mark.parametrize("user", ["builder:wrong-password", None])
def test_a_401_says_the_credentials_were_refused(
    kind: str, user: str | None, make_project: MakeProject, auth_index: AuthIndex, tmp_path: Path
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    url = auth_index.url.replace("http://", f"http://{user}@") if user else auth_index.url
    with pytest.raises(IndexAuthError) as info:
        install(kind, project, url, tmp_path)
    message = str(info.value)
    assert message.startswith("the package index http://")
    assert _host(auth_index.url) in message
    assert message.endswith(
        f"refused the credentials (401 Unauthorized) when asked for 'tinyutil': {FIX}"
    )
    assert "wrong-password" not in message
    assert info.value.status == 401


@pytest.mark.parametrize("kind", INSTALLERS)
def test_a_403_says_the_credentials_were_refused(
    kind: str, make_project: MakeProject, forbidding_index: AuthIndex, tmp_path: Path
) -> None:
    # pip prints nothing about a 403: the index is asked after the failure.
    project = make_project({"tinyutil": "1.0.0"})
    wrong = forbidding_index.url.replace("http://", "http://builder:wrong-password@")
    with pytest.raises(IndexAuthError) as info:
        install(kind, project, wrong, tmp_path)
    assert _host(forbidding_index.url) in str(info.value)
    assert str(info.value).endswith(
        f"refused the credentials (403 Forbidden) when asked for 'tinyutil': {FIX}"
    )
    assert "wrong-password" not in str(info.value)


@pytest.mark.parametrize("kind", INSTALLERS)
def test_right_credentials_install(
    kind: str, make_project: MakeProject, forbidding_index: AuthIndex, tmp_path: Path
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    install(kind, project, forbidding_index.url_with_credentials, tmp_path)
    assert (tmp_path / "out" / "tinyutil" / "__init__.py").is_file()


@pytest.mark.parametrize("kind", INSTALLERS)
def test_a_missing_package_is_named(
    kind: str, make_project: MakeProject, wheel_index: WheelIndex, tmp_path: Path
) -> None:
    project = make_project({"tinyhttp": "2.0.0", "no-such-package": "1.0"}, hashes=False)
    with pytest.raises(PackageNotFoundError) as info:
        install(kind, project, wheel_index.url, tmp_path)
    assert str(info.value) == (
        f"'no-such-package' is not in the package index {wheel_index.url}: check the name "
        f"your lock or requirements file gives, or add the index that serves it "
        f"(--extra-index-url)"
    )


@pytest.mark.parametrize("kind", INSTALLERS)
def test_a_missing_version_is_named(
    kind: str, make_project: MakeProject, wheel_index: WheelIndex, tmp_path: Path
) -> None:
    project = make_project({"tinyutil": "9.9"}, hashes=False)
    with pytest.raises(PackageNotFoundError) as info:
        install(kind, project, wheel_index.url, tmp_path)
    # pip's answer lists what the index has; uv's output does not.
    has = " (it has 1.0.0, 1.1.0)" if kind == "pip" else ""
    assert str(info.value) == (
        f"no version of 'tinyutil' matching 'tinyutil==9.9' is in the package index "
        f"{wheel_index.url}{has}: pin a version it has (then lock again), or add the index "
        f"that serves it (--extra-index-url)"
    )


@pytest.mark.parametrize("kind", INSTALLERS)
def test_a_package_without_a_matching_wheel_is_still_that(
    kind: str, make_project: MakeProject, wheel_index: WheelIndex, tmp_path: Path
) -> None:
    # modernlib 1.0.0 exists, as a cp312 wheel only: the index has it, the target cannot.
    project = make_project({"modernlib": "1.0.0"})
    with pytest.raises(NoCompatibleWheelError) as info:
        install(kind, project, wheel_index.url, tmp_path)
    assert str(info.value).endswith(
        "modernlib 1.0.0: its wheels are for cp312, none for python3.11 (cp311); build in a "
        "container (--container docker) or choose another target"
    )


def test_cli_prints_the_refusal_on_one_line(
    make_project: MakeProject, auth_index: AuthIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    wrong = auth_index.url.replace("http://", "http://builder:wrong-password@")
    assert main(["build", "--project", str(project), "--index-url", wrong]) == 1
    err = capsys.readouterr().err
    last = err.splitlines()[-1]
    assert last.startswith("layer-builder: error: the package index http://")
    assert last.endswith(
        f"refused the credentials (401 Unauthorized) when asked for 'tinyutil': {FIX}"
    )
    assert err.count("error:") == 1
    assert "wrong-password" not in err


def test_an_index_that_cannot_be_reached_is_named(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")  # the refusal at once, not after 3 retries
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    project = make_project({"tinyutil": "1.0.0"}, hashes=False)
    # Nothing listens on port 9 (discard) here.
    with pytest.raises(IndexUnreachableError) as info:
        install("uv-pip", project, "http://127.0.0.1:9/simple", tmp_path)
    assert str(info.value) == (
        "the package index could not be reached at http://127.0.0.1:9/simple/tinyutil/ "
        "(Connection refused (os error 111)): check the address (--index-url, PIP_INDEX_URL, "
        "UV_DEFAULT_INDEX, or the index the lock names) and this host's network"
    )
