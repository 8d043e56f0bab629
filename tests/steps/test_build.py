"""BuildStep: a fresh tree for the target, the WHEEL check, the build cache."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from layer_builder import LayerPathLayout, LayerTarget, Manifest
from layer_builder.errors import (
    ConfigurationError,
    DependencyProblemsError,
    IncompatibleWheelError,
    InstallerFailedError,
    NoCompatibleWheelError,
    PackageNotFoundError,
)
from layer_builder.installers import (
    Installer,
    PipInstaller,
    PoetryInstaller,
    UvInstaller,
    UvPipInstaller,
)
from layer_builder.model.manifest import Tool
from layer_builder.model.tree_state import tree_digest, tree_state
from layer_builder.steps.build import BuildResult, BuildStep, default_installer, make_installer
from layer_builder.steps.build_record import record_beside
from tests.conftest import MakeProject, WheelIndex
from tests.installers.projects import write_uv_project
from tests.small_index import CLITOOL, SmallIndex, serve_wheels
from tests.wheelhouse import WheelSpec, make_wheel

INSTALLERS: dict[str, Callable[[], Installer]] = {"pip": PipInstaller, "uv-pip": UvPipInstaller}
ARM312 = LayerTarget("3.12", "arm64")


def build(project: Path, target: LayerTarget, installer: Installer | None = None) -> BuildResult:
    manifest = Manifest.from_project(project)
    return BuildStep(target, manifest, LayerPathLayout(project), installer).run()


@pytest.fixture(params=list(INSTALLERS))
def installer(request: pytest.FixtureRequest) -> Installer:
    return INSTALLERS[request.param]()


def test_arm64_cp312_build_on_x86_64_picks_the_aarch64_wheel(
    make_project: MakeProject, installer: Installer
) -> None:
    project = make_project({"fastcalc": "1.0.0", "tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    result = build(project, ARM312, installer)
    so_files = sorted(p.name for p in result.dir_python.rglob("*.so"))
    assert so_files == ["_speedups.cpython-312-aarch64-linux-gnu.so"]
    assert {d.name for d in result.distributions} == {"fastcalc", "tinyhttp", "tinyutil"}
    assert result.dir_python == LayerPathLayout(project).dir_python
    assert not list(result.dir_python.rglob("*.pyc"))
    assert not result.cached


def test_glibc_2_28_wheel_loads_on_python312_only(
    make_project: MakeProject, installer: Installer
) -> None:
    project = make_project({"modernlib": "1.0.0"})
    assert build(project, LayerTarget("3.12", "x86_64"), installer).distributions
    with pytest.raises(NoCompatibleWheelError, match="modernlib") as info:
        build(project, LayerTarget("3.11", "x86_64"), installer)
    assert "python3.11 x86_64" in str(info.value)
    cause = info.value.__cause__
    assert isinstance(cause, InstallerFailedError), "the command and output stay reachable"
    assert "--python-version" in cause.command and "modernlib" in cause.output


def test_hashes_are_required_when_pinned(
    make_project: MakeProject, installer: Installer, wheel_index: WheelIndex
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    manifest = Manifest.from_project(project)
    assert manifest.has_hashes
    text = (project / "requirements.txt").read_text()
    (project / "requirements.txt").write_text(text.replace("sha256:", "sha256:0", 1)[:-2] + "\n")
    with pytest.raises(DependencyProblemsError) as info:
        build(project, ARM312, installer)
    failed = info.value.__cause__
    assert isinstance(failed, InstallerFailedError) and "--require-hashes" in failed.command
    [real] = wheel_index.hashes_of("tinyutil", "1.0.0")
    assert str(info.value).endswith(
        f"tinyutil 1.0.0: the lock's hashes (sha256:0{real[:-1]}) match no file the index "
        f"lists for this version (it lists sha256:{real} for tinyutil-1.0.0-py3-none-any.whl); "
        "check where the lock and the files come from (an edited lock, or other bytes on the "
        "index), then lock again"
    )


def test_rebuild_leaves_no_stale_package(make_project: MakeProject, installer: Installer) -> None:
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    build(project, ARM312, installer)
    make_project({"tinyutil": "1.1.0"})
    result = build(project, ARM312, installer)
    assert sorted(p.name for p in result.dir_python.iterdir()) == [
        "tinyutil",
        "tinyutil-1.1.0.dist-info",
    ]


def test_failed_install_keeps_the_previous_tree_and_no_partial_one(
    make_project: MakeProject, installer: Installer
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    first = build(project, ARM312, installer)
    make_project({"no-such-dist": "1.0"}, hashes=False)
    with pytest.raises(PackageNotFoundError, match="'no-such-dist' is not in the package index"):
        build(project, ARM312, installer)
    artifacts = LayerPathLayout(project).dir_artifacts
    assert sorted(p.name for p in artifacts.iterdir()) == ["build-record.json", "python"]
    assert (first.dir_python / "tinyutil").is_dir()


def test_installer_failure_carries_command_and_output(make_project: MakeProject) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    wheel = project / "tinyutil-1.0.0-py3-none-any.whl"
    wheel.write_bytes(b"not a zip")  # uv fails to read it
    (project / "requirements.txt").write_text(f"./{wheel.name}\n")
    with pytest.raises(InstallerFailedError) as info:
        build(project, ARM312, UvPipInstaller())
    assert info.value.command[1:3] == ("pip", "install")
    assert info.value.output
    assert "command (exit code" in str(info.value)


class _HostWheelInstaller(Installer):
    """Installs a host-only wheel whatever the target: what the WHEEL check is for."""

    name = "host-wheel"

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        spec = WheelSpec("hostlib", "1.0.0", tag="cp311-cp311-linux_x86_64")
        wheel = make_wheel(spec, dir_target.parent)
        PipInstaller().check_version()
        import zipfile

        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(dir_target)
        wheel.unlink()


def test_wheel_check_names_the_offender_and_keeps_no_tree(make_project: MakeProject) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    with pytest.raises(IncompatibleWheelError, match=r"hostlib \(cp311-cp311-linux_x86_64\)"):
        build(project, ARM312, _HostWheelInstaller())
    artifacts = LayerPathLayout(project).dir_artifacts
    assert not artifacts.exists() or not list(artifacts.iterdir())


def test_unchanged_build_is_served_from_the_record(make_project: MakeProject) -> None:
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    first = build(project, ARM312)
    again = build(project, ARM312)
    assert again.cached
    assert again.distributions == first.distributions
    record = json.loads(LayerPathLayout(project).path_build_record.read_text())
    assert record["distributions"] == {"tinyhttp": "2.0.0", "tinyutil": "1.0.0"}
    assert (record["runtime"], record["architecture"]) == ("python3.12", "arm64")

    assert not build(project, LayerTarget("3.12", "x86_64")).cached, "another target"
    make_project({"tinyutil": "1.1.0"})
    changed = build(project, LayerTarget("3.12", "x86_64"))
    assert not changed.cached


def _put_times_back(path: Path, st: os.stat_result) -> None:
    """``touch -r``: the access and modification times ``st`` recorded."""
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def damage_tree(tree: Path, damage: str, scratch: Path) -> None:
    """Change the built tree at ``tree`` as a hand, a hook or a careless tool would."""
    module = tree / "tinyutil" / "__init__.py"
    st = module.stat()
    scratch.mkdir(exist_ok=True)
    if damage == "delete a package":
        shutil.rmtree(tree / "tinyutil")
    elif damage == "add a file":
        (tree / "tinyutil" / "stray.py").write_text("")
    elif damage == "edit a file":
        module.write_text("broken = True\n")
    elif damage == "append, times put back":
        with module.open("a") as f:
            f.write("import os; os.system('id')\n")
        _put_times_back(module, st)
    elif damage == "same size, times put back":
        module.write_text(module.read_text().replace("1.0.0", "6.6.6"))
        _put_times_back(module, st)
        assert module.stat().st_size == st.st_size
    elif damage == "hard link added":
        (scratch / "extra.py").write_text("EXTRA = 1\n")
        os.link(scratch / "extra.py", tree / "tinyutil" / "extra.py")
    elif damage == "hard link in place":
        # Another file of the same size and times, linked in place of the module.
        other = scratch / "other.py"
        other.write_text(module.read_text().replace("1.0.0", "6.6.6"))
        _put_times_back(other, st)
        module.unlink()
        os.link(other, module)
    else:
        raise AssertionError(damage)


DAMAGES = [
    "delete a package",
    "add a file",
    "edit a file",
    "append, times put back",
    "same size, times put back",
    "hard link added",
    "hard link in place",
]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_cached_tree_changed_since_its_build_is_installed_again(
    make_project: MakeProject, damage: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    tree = build(project, ARM312).dir_python
    damage_tree(tree, damage, tmp_path / "scratch")
    caplog.set_level(logging.INFO, logger="layer_builder")
    again = build(project, ARM312)
    assert not again.cached
    assert f"{tree} changed since it was built: installing again" in caplog.messages
    assert (tree / "tinyutil" / "__init__.py").read_text() == "VERSION = '1.0.0'\n"
    assert not (tree / "tinyutil" / "stray.py").exists()
    assert not (tree / "tinyutil" / "extra.py").exists()


def test_a_tree_whose_files_did_not_change_stays_cached(
    make_project: MakeProject, tmp_path: Path
) -> None:
    """A hard link made and removed (as the smoke test's view does), a copy with its times:
    the state moves, the files do not. The tree is read once, and its new state recorded."""
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    tree = build(project, ARM312).dir_python
    layout = LayerPathLayout(project)
    before = json.loads(layout.path_build_record.read_text())
    os.link(tree / "tinyutil" / "__init__.py", tmp_path / "view.py")
    (tmp_path / "view.py").unlink()
    assert tree_state(tree) != before["tree_state"]
    assert build(project, ARM312).cached
    after = json.loads(layout.path_build_record.read_text())
    assert after == {**before, "tree_state": tree_state(tree)}


def test_a_record_of_the_first_format_is_trusted_once_and_brought_up_to_date(
    make_project: MakeProject,
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    tree = build(project, ARM312).dir_python
    layout = LayerPathLayout(project)
    assert record_beside(tree) == layout.path_build_record
    current = json.loads(layout.path_build_record.read_text())
    old = {k: v for k, v in current.items() if not k.startswith("tree_")}
    layout.path_build_record.write_text(json.dumps({**old, "tree_digest": tree_digest(tree)}))
    assert build(project, ARM312).cached
    assert json.loads(layout.path_build_record.read_text()) == current


def test_cache_can_be_turned_off(make_project: MakeProject) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    build(project, ARM312)
    step = BuildStep(
        ARM312, Manifest.from_project(project), LayerPathLayout(project), use_cache=False
    )
    assert not step.run().cached


def test_uv_project_cache_sees_a_pyproject_change(tmp_path: Path, wheel_index: WheelIndex) -> None:
    project = write_uv_project(tmp_path / "app", wheel_index.url, ["tinyutil"])
    assert not build(project, ARM312).cached
    assert build(project, ARM312).cached
    write_uv_project(project, wheel_index.url, ["tinyutil", "tinyhttp"], lock=False)
    with pytest.raises(Exception, match="uv lock"):
        build(project, ARM312)


@pytest.mark.parametrize(
    ("tool", "expected"),
    [(Tool.UV, UvInstaller), (Tool.POETRY, PoetryInstaller), (Tool.PIP, UvPipInstaller)],
)
def test_default_installer_per_tool(tool: Tool, expected: type[Installer]) -> None:
    assert type(default_installer(tool)) is expected


def test_installer_pip_forces_pip_for_requirements_and_poetry_exports() -> None:
    assert type(default_installer(Tool.PIP, installer="pip")) is PipInstaller
    assert type(default_installer(Tool.PIP, installer="uv")) is UvPipInstaller
    poetry = default_installer(Tool.POETRY, installer="pip")
    assert isinstance(poetry, PoetryInstaller) and not poetry.use_uv
    # The build record tells the two apart, so switching rebuilds the tree.
    assert poetry.fingerprint_fields() != default_installer(Tool.POETRY).fingerprint_fields()
    assert type(make_installer(Tool.PIP, container="docker", installer="pip")).__name__ == (
        "ContainerInstaller"
    )


@pytest.mark.parametrize(
    ("tool", "installer", "container", "message"),
    [
        (Tool.PIP, "conda", None, "unknown installer 'conda': choose uv or pip"),
        (Tool.PIP, "conda", "docker", "unknown installer 'conda': choose uv or pip"),
        (
            Tool.UV,
            "pip",
            None,
            "a uv.lock is exported and installed by uv, not pip: remove --installer pip "
            '(or installer = "pip" in [tool.layer_builder]), or build from a '
            "requirements.txt with --tool pip",
        ),
        (
            Tool.PIP,
            "uv",
            "podman",
            "the installer uv does not run inside the podman build image (its pip installs "
            "the layer): drop --installer uv or --container podman",
        ),
    ],
)
def test_impossible_installer_choices_say_what_to_do(
    tool: Tool, installer: str, container: str | None, message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_installer(tool, container=container, installer=installer)
    assert str(caught.value) == message


class _ScriptInstaller(Installer):
    """Installs a wheel with a console script, as ``--target`` lays it out."""

    name = "script"

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        (dir_target / "tool").mkdir()
        (dir_target / "tool" / "__init__.py").write_text("")
        (dir_target / "bin").mkdir()
        (dir_target / "bin" / "tool").write_text("#!/home/someone/.venv/bin/python\n")


def test_console_scripts_naming_the_host_interpreter_are_left_out(
    make_project: MakeProject,
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    result = build(project, ARM312, _ScriptInstaller())
    assert sorted(p.name for p in result.dir_python.iterdir()) == ["tool"]


@pytest.fixture(scope="module")
def script_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallIndex]:
    with serve_wheels([CLITOOL], tmp_path_factory.mktemp("script-index")) as index:
        yield index


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def test_record_names_only_what_the_tree_holds_once_console_scripts_are_left_out(
    tmp_path: Path, script_index: SmallIndex, installer: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uv records the scripts as ``bin/clitool``, pip as ``../../bin/clitool``: lines whose
    hash and size count the host interpreter's path. They go; every other line stays, exact."""
    monkeypatch.setenv("PIP_INDEX_URL", script_index.url)
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text(script_index.requirements("clitool"))
    tree = build(project, ARM312, installer).dir_python
    files = {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}
    record = (tree / "clitool-1.0.0.dist-info" / "RECORD").read_text()
    lines = record.splitlines()
    assert sorted(line.split(",")[0] for line in lines) == sorted(files)
    for line in lines:
        path, digest, size = line.split(",")
        if path == "clitool-1.0.0.dist-info/RECORD":
            assert (digest, size) == ("", "")
        else:
            data = (tree / path).read_bytes()
            assert (digest, size) == (_record_hash(data), str(len(data)))


class _InterruptedInstaller(Installer):
    """Stopped half-way, as Ctrl-C (or SIGTERM in the CLI) stops a real install."""

    name = "interrupted"

    def install(self, manifest: Manifest, target: LayerTarget, dir_target: Path) -> None:
        (dir_target / "half").mkdir()
        (dir_target / "half" / "__init__.py").write_text("")
        raise KeyboardInterrupt


def test_an_interrupted_install_keeps_the_previous_tree_and_no_staging(
    make_project: MakeProject,
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    build(project, ARM312)
    layout = LayerPathLayout(project)
    record = layout.path_build_record.read_bytes()
    step = BuildStep(ARM312, Manifest.from_project(project), layout, _InterruptedInstaller(),
                     use_cache=False)  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        step.run()
    assert sorted(p.name for p in layout.dir_artifacts.iterdir()) == ["build-record.json", "python"]
    assert layout.path_build_record.read_bytes() == record
    assert (layout.dir_python / "tinyutil" / "__init__.py").is_file()
    assert build(project, ARM312).cached, "the previous tree still serves"


def test_links_at_the_tree_and_record_are_replaced_never_followed(
    make_project: MakeProject, tmp_path: Path
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    layout = LayerPathLayout(project)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    layout.dir_artifacts.mkdir(parents=True)
    layout.dir_python.symlink_to(outside)
    layout.path_build_record.symlink_to(outside / "keep.txt")
    result = build(project, ARM312)
    assert not result.cached
    assert not layout.dir_python.is_symlink() and not layout.path_build_record.is_symlink()
    assert (layout.dir_python / "tinyutil" / "__init__.py").is_file()
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "keep"
    assert sorted(p.name for p in layout.dir_artifacts.iterdir()) == ["build-record.json", "python"]
    assert oct(layout.dir_python.stat().st_mode & 0o777) == "0o755", "not mkdtemp's 0o700"
