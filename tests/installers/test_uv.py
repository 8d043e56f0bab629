"""UvInstaller: a uv.lock project, locked at run time against the local index."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from layer_builder import LayerPathLayout, LayerTarget, Manifest
from layer_builder.errors import (
    BuildError,
    InstallerFailedError,
    NoCompatibleWheelError,
    SourceBuildRefusedError,
    SourceOnlyDependencyError,
    StaleLockError,
    ToolMissingError,
)
from layer_builder.installers import IndexOptions, InstallOptions, UvInstaller, tools
from layer_builder.steps.build import BuildStep
from tests.conftest import WheelIndex
from tests.installers.conftest import AuthIndex
from tests.installers.projects import write_uv_project

ARM312 = LayerTarget("3.12", "arm64")


def installed(directory: Path) -> set[str]:
    return {p.name.split("-")[0] for p in directory.glob("*.dist-info")}


def install(project: Path, target: LayerTarget, tmp_path: Path, **options: object) -> Path:
    out = tmp_path / "out"
    out.mkdir(parents=True)
    installer = UvInstaller(options=InstallOptions(**options))  # type: ignore[arg-type]
    installer.install(Manifest.from_project(project), target, out)
    return out


def test_arm64_build_takes_locked_main_dependencies_only(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = write_uv_project(
        tmp_path / "app", wheel_index.url, ["tinyhttp", "fastcalc"], dev=["s3transfer"]
    )
    out = install(project, ARM312, tmp_path)
    assert installed(out) == {"tinyhttp", "tinyutil", "fastcalc"}
    assert (out / "fastcalc" / "_speedups.cpython-312-aarch64-linux-gnu.so").is_file()
    assert not (out / "s3transfer").exists(), "the dev group must stay out"
    assert not (out / ".lock").exists(), "uv's lock file is no part of the layer"
    assert not list(out.rglob("*.pyc"))


def test_extras_and_groups_are_options(tmp_path: Path, wheel_index: WheelIndex) -> None:
    project = write_uv_project(
        tmp_path / "app",
        wheel_index.url,
        ["tinyutil"],
        dev=["s3transfer"],
        groups={"runtime": ["tinyhttp"]},
        extras={"yaml": ["tiny-yaml"]},
    )
    assert installed(install(project, ARM312, tmp_path)) == {"tinyutil"}
    out = install(project, ARM312, tmp_path / "more", extras=["yaml"], groups=["runtime"])
    assert installed(out) == {"tinyutil", "Tiny_YAML", "tinyhttp"}


def test_export_command_excludes_every_default_group(tmp_path: Path) -> None:
    command = UvInstaller(uv="uv", options=InstallOptions(groups=["g"])).export_command(
        tmp_path / "r.txt"
    )
    assert "--locked" in command and "--frozen" not in command
    for flag in ("--no-default-groups", "--no-emit-project", "--no-editable", "--no-header"):
        assert flag in command
    assert command[command.index("--group") + 1] == "g"


def test_install_command_forbids_source_builds_and_targets_the_platform(tmp_path: Path) -> None:
    command = UvInstaller(uv="uv").install_command(
        tmp_path / "r.txt", LayerTarget("3.11", "x86_64"), tmp_path, require_hashes=True
    )
    joined = " ".join(command)
    assert "--only-binary :all:" in joined
    assert "--python-platform x86_64-manylinux_2_17" in joined
    assert "--python-version 3.11" in joined
    assert "--require-hashes" in command
    assert "--compile-bytecode" not in command
    # This very interpreter, not one looked for on PATH (the target comes from the flags).
    assert command[command.index("--python") + 1] == sys.executable


def test_allowed_source_package_is_the_only_one_that_may_build(tmp_path: Path) -> None:
    installer = UvInstaller(uv="uv", options=InstallOptions(allow_source=["SourceOnly"]))
    command = installer.install_command(
        tmp_path / "r.txt",
        ARM312,
        tmp_path,
        require_hashes=True,
        packages=("tinyutil", "sourceonly"),
    )
    assert ":all:" not in command
    assert command[command.index("--only-binary") + 1] == "tinyutil"
    assert "sourceonly" not in command


def test_stale_lock_is_an_error_never_a_relock(tmp_path: Path, wheel_index: WheelIndex) -> None:
    project = write_uv_project(tmp_path / "app", wheel_index.url, ["tinyutil"])
    lock_before = (project / "uv.lock").read_bytes()
    write_uv_project(project, wheel_index.url, ["tinyutil", "tinyhttp"], lock=False)
    with pytest.raises(StaleLockError, match=r"uv\.lock is out of date .* run `uv lock`"):
        install(project, ARM312, tmp_path)
    assert (project / "uv.lock").read_bytes() == lock_before


def test_source_only_dependency_is_refused_naming_it(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = write_uv_project(tmp_path / "app", wheel_index.url, ["tinyutil", "sourceonly"])
    with pytest.raises(SourceOnlyDependencyError, match="'sourceonly' publishes no wheel") as info:
        install(project, ARM312, tmp_path)
    assert "--allow-source sourceonly" in str(info.value)
    assert "python3.12 arm64" in str(info.value)


def test_allowed_pure_python_source_package_builds(tmp_path: Path, wheel_index: WheelIndex) -> None:
    project = write_uv_project(tmp_path / "app", wheel_index.url, ["tinyutil", "sourceonly"])
    out = install(project, ARM312, tmp_path, allow_source=["sourceonly"])
    assert installed(out) == {"tinyutil", "sourceonly"}
    assert (out / "sourceonly" / "__init__.py").read_text() == "SOURCE_BUILT = True\n"


def test_no_wheel_for_target_names_package_and_target(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    project = write_uv_project(tmp_path / "app", wheel_index.url, ["modernlib"])
    with pytest.raises(NoCompatibleWheelError) as info:
        install(project, LayerTarget("3.11", "x86_64"), tmp_path)
    assert str(info.value) == (
        "a dependency cannot be installed for python3.11 x86_64 (manylinux glibc <= 2.26): "
        "modernlib 1.0.0: its wheels are for cp312, none for python3.11 (cp311); build in a "
        "container (--container docker) or choose another target"
    )


def test_missing_uv_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tools, "find_uv", lambda: None)
    with pytest.raises(ToolMissingError, match="pip install uv"):
        UvInstaller().export_command(tmp_path / "r.txt")


def test_failed_export_carries_command_and_output(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'app'\nversion = '0.1.0'\n")
    (project / "uv.lock").write_text("this is not a lock\n")
    with pytest.raises(InstallerFailedError) as info:
        install(project, ARM312, tmp_path)
    assert info.value.command[1] == "export"
    assert "uv.lock" in info.value.output
    assert "uv export" in str(info.value)


def test_private_index_credentials_stay_in_the_environment(
    tmp_path: Path,
    auth_index: AuthIndex,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = auth_index.password
    monkeypatch.setenv("UV_DEFAULT_INDEX", auth_index.url_with_credentials)
    project = write_uv_project(tmp_path / "app", auth_index.url, ["tinyhttp"])
    monkeypatch.delenv("UV_DEFAULT_INDEX")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # really ask the index
    caplog.set_level(logging.DEBUG, logger="layer_builder")
    manifest = Manifest.from_project(project)
    index = IndexOptions(auth_index.url_with_credentials)

    result = BuildStep(ARM312, manifest, LayerPathLayout(project), UvInstaller(index=index)).run()
    assert {d.name for d in result.distributions} == {"tinyhttp", "tinyutil"}

    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    unreachable = IndexOptions(f"http://{auth_index.user}:{secret}@127.0.0.1:9/simple/")
    with pytest.raises(BuildError) as info:
        UvInstaller(index=unreachable).install(manifest, ARM312, tmp_path / "failed")
    assert "127.0.0.1:9" in str(info.value), "the failure names the index, redacted"
    assert secret not in str(info.value)
    assert secret not in caplog.text
    assert "uv pip install" in caplog.text
    for path in project.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_lock_checked_once_per_pyproject(
    tmp_path: Path, wheel_index: WheelIndex, caplog: pytest.LogCaptureFixture
) -> None:
    project = write_uv_project(tmp_path / "app", wheel_index.url, ["tinyutil"])
    caplog.set_level(logging.DEBUG, logger="layer_builder")
    install(project, ARM312, tmp_path / "first")
    install(project, LayerTarget("3.11", "x86_64"), tmp_path / "second")
    commands = [r.getMessage() for r in caplog.records if r.getMessage().startswith("command:")]
    exports = [c for c in commands if " export " in c]
    assert [" --locked " in m for m in exports] == [True, False]
    assert " --frozen " in exports[1]

    write_uv_project(project, wheel_index.url, ["tinyutil", "tinyhttp"], lock=False)
    with pytest.raises(StaleLockError):
        install(project, ARM312, tmp_path / "third")


def test_allowed_source_package_that_compiles_for_the_host_is_refused(
    tmp_path: Path, wheel_index: WheelIndex
) -> None:
    # ``hostonly`` publishes only an sdist, whose build makes a cp311 linux_x86_64 wheel.
    project = write_uv_project(tmp_path / "app", wheel_index.url, ["tinyutil", "hostonly"])
    installer = UvInstaller(options=InstallOptions(allow_source=["hostonly"]))
    step = BuildStep(ARM312, Manifest.from_project(project), LayerPathLayout(project), installer)
    with pytest.raises(SourceBuildRefusedError) as refused:
        step.run()
    assert str(refused.value) == (
        "hostonly 1.0.0 has compiled code, so building it for python3.12 arm64 (manylinux glibc "
        "<= 2.34) needs python3.12 on an aarch64 host (this one is x86_64), or a container "
        "build (--container docker)"
    )
    assert not LayerPathLayout(project).dir_python.exists()
