"""PylockInstaller: PEP 751 ``pylock.toml`` files written at run time by ``uv export`` and
``pip lock`` against the local index (and by hand, for what those tools do not write),
installed for other targets by real uv and pip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from layer_builder import (
    AwsClients,
    BuildError,
    ConfigurationError,
    LayerPathLayout,
    LayerTarget,
    LayerWorkflow,
    Manifest,
    NoCompatibleWheelError,
    ProjectError,
    PylockInstaller,
    Tool,
)
from layer_builder.installers import IndexOptions, InstallOptions, find_uv
from layer_builder.installers.container import ContainerInstaller
from layer_builder.installers.pylock import requirements_for_target
from layer_builder.steps.build import BuildStep, make_installer
from tests.conftest import WheelIndex
from tests.installers.projects import write_uv_project

ARM312 = LayerTarget("3.12", "arm64")
X86311 = LayerTarget("3.11", "x86_64")


def uv_pylock(directory: Path, index_url: str, dependencies: list[str]) -> Path:
    """A uv project exported to ``pylock.toml``; its uv.lock is removed, so the project's
    manifest is the pylock.toml (as for a project that commits only that)."""
    write_uv_project(directory, index_url, dependencies)
    uv = find_uv()
    assert uv
    subprocess.run(
        [uv, "export", "--format", "pylock.toml", "--locked", "--no-emit-project",
         "--output-file", "pylock.toml", "--quiet"],
        cwd=directory, check=True, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    (directory / "uv.lock").unlink()
    return directory


def installed(directory: Path) -> set[str]:
    return {p.name.split("-")[0] for p in directory.glob("*.dist-info")}


def build(project: Path, target: LayerTarget, installer: str = "uv", **options: object) -> Path:
    manifest = Manifest.from_project(project)
    assert manifest.tool is Tool.PYLOCK
    chosen = make_installer(Tool.PYLOCK, installer=installer,
                            options=InstallOptions(**options))  # type: ignore[arg-type]  # fmt: skip
    result = BuildStep(target, manifest, LayerPathLayout(project), chosen).run()
    return result.dir_python


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_uv_exported_lock_builds_for_two_foreign_targets(
    tmp_path: Path, wheel_index: WheelIndex, installer: str
) -> None:
    project = uv_pylock(tmp_path / "app", wheel_index.url, ["tinyhttp", "fastcalc"])

    arm = build(project, ARM312, installer)
    assert installed(arm) == {"tinyhttp", "tinyutil", "fastcalc"}
    assert (arm / "fastcalc" / "_speedups.cpython-312-aarch64-linux-gnu.so").is_file()

    x86 = build(project, X86311, installer)
    assert (x86 / "fastcalc" / "_speedups.cpython-311-x86_64-linux-gnu.so").is_file()
    assert not list(x86.rglob("*aarch64*"))


def test_markers_are_evaluated_for_the_target_not_the_host(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = uv_pylock(
        tmp_path / "app", wheel_index.url, ["fastcalc", "tinyutil==1.0.0; python_version < '3.12'"]
    )
    assert "marker = " in (project / "pylock.toml").read_text()

    text, _ = requirements_for_target(Manifest.from_project(project), ARM312)
    assert [line.split(" ")[0] for line in text.splitlines() if "==" in line] == ["fastcalc==1.0.0"]
    assert installed(build(project, X86311)) == {"fastcalc", "tinyutil"}
    # The host is 3.11 too; 3.12's layer still leaves tinyutil out.
    assert installed(build(project, ARM312)) == {"fastcalc"}


def test_a_changed_hash_in_the_lock_stops_the_install(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = uv_pylock(tmp_path / "app", wheel_index.url, ["tinyutil==1.0.0"])
    path = project / "pylock.toml"
    [real] = wheel_index.hashes_of("tinyutil", "1.0.0")
    path.write_text(path.read_text().replace(real, "0" * 64))

    with pytest.raises(BuildError) as info:
        build(project, ARM312)

    assert "0" * 64 in str(info.value) and real in str(info.value)
    assert not LayerPathLayout(project).dir_python.exists()


def test_the_lock_index_serves_when_none_is_given(
    tmp_path: Path, wheel_index: WheelIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = uv_pylock(tmp_path / "app", wheel_index.url, ["tinyutil==1.0.0"])
    monkeypatch.delenv("PIP_INDEX_URL")  # only the lock says where the files are

    assert installed(build(project, ARM312)) == {"tinyutil"}
    given = "http://127.0.0.1:9/simple/"
    assert PylockInstaller().index_for((wheel_index.url,)).index_url == wheel_index.url
    installer = PylockInstaller(index=IndexOptions(given))
    assert installer.index_for((wheel_index.url,)).index_url == given
    monkeypatch.setenv("PIP_INDEX_URL", given)
    assert PylockInstaller().index_for((wheel_index.url,)).index_url == given


@pytest.mark.skipif(
    sys.version_info[:2] not in ((3, 11), (3, 12)),
    reason="pip locks the host's wheels, and the test index has fastcalc for cp311/cp312 only",
)
def test_a_pip_lock_serves_other_targets_for_pure_python_only(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    host = LayerTarget(f"{sys.version_info.major}.{sys.version_info.minor}", "x86_64")
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.in").write_text("tinyhttp==2.0.0\nfastcalc==1.0.0\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "lock", "-r", "requirements.in", "--output", "pylock.toml",
         "--index-url", wheel_index.url, "--quiet", "--disable-pip-version-check"],
        cwd=project, check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    # pip locks for the host only: one fastcalc wheel, the host's (cp311 or cp312 x86_64).
    with pytest.raises(NoCompatibleWheelError) as info:
        build(project, ARM312, "pip")
    assert str(info.value) == (
        "no wheel of 'fastcalc' matches the layer target python3.12 arm64 (manylinux glibc "
        "<= 2.34): pick a version that publishes such a wheel, or build in a container "
        "(--container) (pylock.toml lists no wheel of it for this target)"
    )
    assert installed(build(project, host, "pip")) == {"tinyhttp", "tinyutil", "fastcalc"}


def test_run_publishes_a_pylock_project(
    tmp_path: Path, wheel_index: WheelIndex, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = uv_pylock(tmp_path / "app", wheel_index.url, ["tinyhttp"])
    workflow = LayerWorkflow(project, layer_name, f"s3://{bucket}/app/", ARM312, aws=aws)

    result = workflow.run()

    assert result.publish.published
    assert result.build is not None and {d.name for d in result.build.distributions} == {
        "tinyhttp",
        "tinyutil",
    }
    backup = aws.s3.get_object(Bucket=bucket, Key="app/layer/000001/pylock.toml")["Body"].read()
    assert backup == (project / "pylock.toml").read_bytes()
    assert workflow.run().skipped


# -- what uv and pip do not write: extras, groups, environments, direct sources -------------


def handmade(tmp_path: Path, wheel_index: WheelIndex, head: str, packages: str) -> Manifest:
    """A ``pylock.toml`` written by hand (as PDM would write extras and groups)."""
    project = tmp_path / "handmade"
    project.mkdir(exist_ok=True)
    path = project / "pylock.toml"
    path.write_text(f'lock-version = "1.0"\ncreated-by = "hand"\n{head}\n{packages}')
    return Manifest.from_file(path)


def package(wheel_index: WheelIndex, name: str, version: str, marker: str = "") -> str:
    [sha] = wheel_index.hashes_of(name, version)
    url = f"{wheel_index.url.removesuffix('/simple/')}/files/{name}-{version}-py3-none-any.whl"
    lines = ["[[packages]]", f'name = "{name}"', f'version = "{version}"',
             f'index = "{wheel_index.url}"']  # fmt: skip
    if marker:
        lines.append(f"marker = {marker!r}")
    lines.append(f'wheels = [{{ url = "{url}", hashes = {{ sha256 = "{sha}" }} }}]')
    return "\n".join(lines) + "\n\n"


def names(text: str) -> list[str]:
    return [line.split("==")[0] for line in text.splitlines() if "==" in line]


def test_extras_and_groups_follow_the_options(tmp_path: Path, wheel_index: WheelIndex) -> None:
    head = 'extras = ["yaml"]\ndependency-groups = ["ops"]\ndefault-groups = ["default"]'
    manifest = handmade(tmp_path, wheel_index, head, "".join([
        package(wheel_index, "tinyutil", "1.0.0", "'default' in dependency_groups"),
        package(wheel_index, "tinygpl", "1.0.0", "'ops' in dependency_groups"),
        package(wheel_index, "tinyhttp", "2.0.0", "'yaml' in extras"),
    ]))  # fmt: skip

    assert names(requirements_for_target(manifest, ARM312)[0]) == ["tinyutil"]
    chosen = InstallOptions(extras=["yaml"], groups=["ops"])
    assert names(requirements_for_target(manifest, ARM312, chosen)[0]) == [
        "tinyutil",
        "tinygpl",
        "tinyhttp",
    ]
    with pytest.raises(ConfigurationError) as info:
        requirements_for_target(manifest, ARM312, InstallOptions(groups=["docs"]))
    assert str(info.value) == (
        f"unknown group 'docs' (--group): {manifest.path} declares these dependency groups: "
        "default, ops; use one of them, or export the lock again (e.g. `uv export --format "
        "pylock.toml -o pylock.toml`) with it"
    )


@pytest.mark.parametrize(
    ("head", "message"),
    [
        ('requires-python = ">=3.13"',
         "{path} is locked for Python >=3.13 (requires-python), which python3.12 is not: lock "
         "for python3.12, or choose another --python"),
        ("environments = [\"platform_machine == 'x86_64'\"]",
         "{path} is locked for other environments (platform_machine == \"x86_64\") than "
         "python3.12 arm64 (manylinux glibc <= 2.34): lock for that target too, or choose "
         "another --python or --arch"),
    ],
)  # fmt: skip
def test_a_lock_for_other_environments_is_refused(
    tmp_path: Path, wheel_index: WheelIndex, head: str, message: str
) -> None:
    manifest = handmade(tmp_path, wheel_index, head, package(wheel_index, "tinyutil", "1.0.0"))
    with pytest.raises(ProjectError) as info:
        requirements_for_target(manifest, ARM312)
    assert str(info.value) == message.format(path=manifest.path)


def test_sources_that_would_build_on_the_host_are_refused(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project_itself = '[[packages]]\nname = "app"\ndirectory = { path = "." }\n\n'
    manifest = handmade(tmp_path, wheel_index, "", project_itself + package(
        wheel_index, "tinyutil", "1.0.0"))  # fmt: skip
    # The project itself is left out, as for a uv.lock.
    assert names(requirements_for_target(manifest, ARM312)[0]) == ["tinyutil"]

    vcs = '[[packages]]\nname = "tool"\nvcs = { type = "git", url = "https://example.invalid/t", commit-id = "abc" }\n'  # noqa: E501
    manifest = handmade(tmp_path, wheel_index, "", vcs)
    with pytest.raises(ProjectError) as info:
        requirements_for_target(manifest, ARM312)
    assert str(info.value) == (
        f"{manifest.path} installs 'tool' from a git repository, which would be built on this "
        "host, not for python3.12 arm64 (manylinux glibc <= 2.34): publish it as a wheel to "
        "an index and lock it from there"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("lock-version = ", "is not valid TOML ("),
        ('created-by = "hand"\npackages = []\n',
         "is not a PEP 751 lock file (Missing required value in 'lock-version')"),
    ],
)  # fmt: skip
def test_a_broken_lock_is_one_line(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text(text)
    with pytest.raises(ProjectError) as info:
        requirements_for_target(Manifest.from_file(path), ARM312)
    message = str(info.value)
    assert message.startswith(f"{path} {problem}")
    assert message.endswith(
        "): export the lock again (e.g. `uv export --format pylock.toml -o pylock.toml`)"
    )
    assert "\n" not in message


def test_the_container_build_reads_the_lock_index(
    tmp_path: Path, wheel_index: WheelIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIP_INDEX_URL")
    manifest = handmade(tmp_path, wheel_index, "", package(wheel_index, "tinyutil", "1.0.0"))
    requirements = tmp_path / "requirements.txt"

    ContainerInstaller("docker").export(manifest, requirements, ARM312)

    lines = requirements.read_text().splitlines()
    assert lines[:2] == [f"--index-url {wheel_index.url}", "tinyutil==1.0.0 \\"]


@pytest.mark.parametrize(
    ("hashes", "weak"),
    [('{ md5 = "0123456789abcdef0123456789abcdef" }', "md5"),
     ('{ md5 = "0123456789abcdef0123456789abcdef", sha1 = "' + "1" * 40 + '" }', "md5 and sha1")],
    ids=["md5", "md5-and-sha1"],
)  # fmt: skip
def test_a_file_pinned_with_weak_hashes_only_is_refused(
    tmp_path: Path, wheel_index: WheelIndex, hashes: str, weak: str
) -> None:
    [sha] = wheel_index.hashes_of("tinyutil", "1.0.0")
    entry = package(wheel_index, "tinyutil", "1.0.0").replace(f'{{ sha256 = "{sha}" }}', hashes)
    manifest = handmade(tmp_path, wheel_index, "", entry)

    with pytest.raises(ProjectError) as info:
        requirements_for_target(manifest, ARM312)
    assert str(info.value) == (
        f"{manifest.path} pins 'tinyutil' 1.0.0 with {weak} hashes only, too weak to check the "
        "file installed: lock again with a tool that records sha256 (e.g. `uv export --format "
        "pylock.toml -o pylock.toml`)"
    )
    with pytest.raises(ProjectError):
        build(manifest.project_dir, ARM312)
    assert not LayerPathLayout(manifest.project_dir).dir_python.exists()


def test_a_weak_hash_beside_sha256_is_left_out(tmp_path: Path, wheel_index: WheelIndex) -> None:
    [sha] = wheel_index.hashes_of("tinyutil", "1.0.0")
    entry = package(wheel_index, "tinyutil", "1.0.0").replace(
        f'{{ sha256 = "{sha}" }}', f'{{ md5 = "{"0" * 32}", sha256 = "{sha}" }}'
    )
    manifest = handmade(tmp_path, wheel_index, "", entry)

    text, _ = requirements_for_target(manifest, ARM312)
    assert text == f"tinyutil==1.0.0 \\\n    --hash=sha256:{sha}\n"
    assert installed(build(manifest.project_dir, ARM312)) == {"tinyutil"}


def test_a_file_from_a_url_needs_sha256_too(tmp_path: Path, wheel_index: WheelIndex) -> None:
    url = f"{wheel_index.url.removesuffix('/simple/')}/files/tinyutil-1.0.0-py3-none-any.whl"
    entry = (
        '[[packages]]\nname = "tinyutil"\n'
        f'archive = {{ url = "{url}", hashes = {{ md5 = "{"0" * 32}" }} }}\n'
    )
    manifest = handmade(tmp_path, wheel_index, "", entry)

    with pytest.raises(ProjectError) as info:
        requirements_for_target(manifest, ARM312)
    assert str(info.value) == (
        f"{manifest.path} pins 'tinyutil' with md5 hashes only, too weak to check the file "
        "installed: lock again with a tool that records sha256 (e.g. `uv export --format "
        "pylock.toml -o pylock.toml`)"
    )
