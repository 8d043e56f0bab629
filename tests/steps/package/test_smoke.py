"""The import smoke test that guards a slimmed layer, with real interpreters."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from layer_builder import (
    BuildResult,
    BuildStep,
    LayerPathLayout,
    LayerTarget,
    Manifest,
    PackageError,
    PackageOptions,
    PackageStep,
)
from layer_builder.archive.reuse import sidecar_path
from layer_builder.installers.host_pythons import ENV_VARIABLE, HostPython, running_python
from layer_builder.model.distributions import InstalledDistribution
from layer_builder.model.tree_state import tree_content_digest
from layer_builder.steps.package.smoke import (
    SmokeTest,
    SmokeVerdict,
    make_view,
    smoke_interpreter,
    smoke_test_applies,
    top_level_names,
    verdict_path,
)
from tests.conftest import MakeProject

HOST = LayerTarget(f"{sys.version_info.major}.{sys.version_info.minor}", "x86_64")
needs_host = pytest.mark.skipif(
    not smoke_test_applies(HOST), reason="the host cannot run an x86_64 layer of its own Python"
)

# Every process this test process starts, while recording (an audit hook: the real spawns,
# whoever makes them).
_SPAWNED: list[list[str]] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "subprocess.Popen" and _SPAWNED is not None:
        _SPAWNED.append([str(a) for a in args[1]])  # type: ignore[attr-defined]


sys.addaudithook(_audit)


@contextlib.contextmanager
def importers() -> Iterator[list[list[str]]]:
    """The smoke test's interpreters started in the block (``-I -S -B`` command lines)."""
    global _SPAWNED
    spawned: list[list[str]] = []
    _SPAWNED = spawned
    found: list[list[str]] = []
    try:
        yield found
    finally:
        _SPAWNED = None
        found += [c for c in spawned if c[1:4] == ["-I", "-S", "-B"]]


@pytest.fixture(autouse=True)
def unrestricted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every interpreter of the host may be found, whatever the shell says."""
    monkeypatch.delenv(ENV_VARIABLE, raising=False)


def cross_version() -> tuple[LayerTarget, HostPython]:
    """An x86_64 target of another Python than this one, and its interpreter on this host."""
    for version in ("3.12", "3.13", "3.10", "3.14", "3.11"):
        target = LayerTarget(version, "x86_64")
        found = smoke_interpreter(target) if version != HOST.python_version else None
        if found is not None:
            return target, found
    pytest.skip("needs an x86_64 Python of another Lambda runtime (e.g. `pyenv install 3.12`)")


def test_applies_to_the_targets_python_and_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import platform

    if platform.machine() != "x86_64" or HOST.python_version not in ("3.10", "3.11", "3.12"):
        pytest.skip("written for an x86_64 host")
    assert smoke_interpreter(HOST) == running_python(), "the running one first"
    assert not smoke_test_applies(LayerTarget(HOST.python_version, "arm64"))
    target, found = cross_version()
    assert (found.version, found.machine) == (target.python_version, "x86_64")
    assert found.origin != "running"
    monkeypatch.setenv(ENV_VARIABLE, "running")
    assert not smoke_test_applies(target)


def test_top_level_names_from_top_level_txt_or_record(tmp_path: Path) -> None:
    (tmp_path / "a-1.dist-info").mkdir()
    (tmp_path / "a-1.dist-info" / "top_level.txt").write_text("alpha\n_alpha_c\n")
    for present in ("alpha/", "_alpha_c.cpython-311-x86_64-linux-gnu.so", "beta/", "gamma.py",
                    "_delta.cpython-311-x86_64-linux-gnu.so"):  # fmt: skip
        (tmp_path / present).mkdir() if present.endswith("/") else (tmp_path / present).touch()
    with_txt = InstalledDistribution("a", "1", "a-1.dist-info", ("alpha/__init__.py",))
    from_record = InstalledDistribution(
        "b", "1", "b-1.dist-info",
        ("beta/__init__.py", "beta/x.py", "gamma.py", "_delta.cpython-311-x86_64-linux-gnu.so",
         "b-1.dist-info/RECORD", "b.libs/libz.so", "README.txt", "__pycache__/gamma.pyc",
         "bin/b-script"),
    )  # fmt: skip
    # bin/ is listed in the RECORD, but the build leaves scripts out: not a name to import.
    assert top_level_names([with_txt, from_record], tmp_path) == [
        "_alpha_c",
        "_delta",
        "alpha",
        "beta",
        "gamma",
    ]


def _tree_and_zip(tmp_path: Path, drop: str) -> tuple[Path, Path, dict[str, Path]]:
    """A tree, a zip of it without the files under ``drop``, and the tree's files by name
    in the zip."""
    root = tmp_path / "python"
    files = {
        "good/__init__.py": "VALUE = 1\n",
        "needy/__init__.py": "from needy.tests.helper import HELP\n",
        "needy/tests/__init__.py": "",
        "needy/tests/helper.py": "HELP = 2\n",
        "already_broken.py": "raise ImportError('broken before slimming')\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    path_zip = tmp_path / "out" / "layer.zip"
    path_zip.parent.mkdir()
    with zipfile.ZipFile(path_zip, "w") as zf:
        for name in files:
            if not name.startswith(drop):
                zf.write(root / name, f"python/{name}")
    sidecar_path(path_zip).write_text("{}")
    return root, path_zip, {f"python/{name}": root / name for name in files}


NAMES = ["already_broken", "good", "needy"]
WORKING = ["good", "needy"]


def _smoke(
    root: Path, path_zip: Path, tree: dict[str, Path], *, linked: bool, names: list[str] = NAMES
) -> SmokeTest:
    """The test of ``path_zip``, its members read from the tree (hard links) or the zip."""
    with zipfile.ZipFile(path_zip) as zf:
        members = zf.namelist()
    layer = {name: tree[name] if linked else None for name in members}
    return SmokeTest(root, path_zip, layer, tree, names)


@pytest.mark.parametrize("linked", [True, False], ids=["linked", "extracted"])
def test_passes_when_every_import_still_works(tmp_path: Path, linked: bool) -> None:
    root, path_zip, tree = _tree_and_zip(tmp_path, drop="nothing")
    with (
        _smoke(root, path_zip, tree, linked=linked, names=WORKING) as smoke,
        importers() as started,
    ):
        smoke.start()
        outcome = smoke.finish("a" * 64)
    assert outcome.status == "passed" and outcome.seconds >= outcome.wait_seconds >= 0
    assert len(started) == 1, "one interpreter imports everything"
    verdict = SmokeVerdict.load(path_zip)
    assert verdict is not None and verdict.zip_sha256 == "a" * 64
    assert (verdict.names, verdict.failing_before) == (("good", "needy"), {})
    # A failure from the layer is compared with the layer before slimming, in a second one.
    with _smoke(root, path_zip, tree, linked=linked) as smoke, importers() as started:
        assert smoke.finish("a" * 64).status == "passed"
    assert len(started) == 2
    verdict = SmokeVerdict.load(path_zip)
    assert verdict is not None and list(verdict.failing_before) == ["already_broken"]
    assert path_zip.is_file()
    assert sorted(p.name for p in path_zip.parent.iterdir()) == sorted(
        ["layer.zip", "layer.zip.reuse.json", "layer.zip.smoke.json"]
    ), "no view is left"


@pytest.mark.parametrize("linked", [True, False], ids=["linked", "extracted"])
def test_a_broken_import_fails_and_removes_the_zip(tmp_path: Path, linked: bool) -> None:
    root, path_zip, tree = _tree_and_zip(tmp_path, drop="needy/tests")
    verdict_path(path_zip).write_text("{}")  # a stale verdict goes with the zip
    with (
        _smoke(root, path_zip, tree, linked=linked) as smoke,
        pytest.raises(PackageError) as caught,
    ):
        smoke.finish("b" * 64)
    message = str(caught.value)
    assert message.startswith(
        f"slimming broke imports that work from {root} (import needy: ModuleNotFoundError: "
        "No module named 'needy.tests'); "
    )
    assert message.endswith(
        f"{path_zip} was removed: package without --slim/--strip, or exclude the package "
        "from slimming"
    )
    assert "already_broken" not in message, "failures from before slimming are not blamed"
    assert list(path_zip.parent.iterdir()) == [], "zip, reuse index, verdict and views gone"


def test_a_kept_verdict_answers_for_the_same_zip_only(tmp_path: Path) -> None:
    root, path_zip, tree = _tree_and_zip(tmp_path, drop="nothing")
    with _smoke(root, path_zip, tree, linked=True, names=WORKING) as smoke:
        assert smoke.finish("c" * 64).status == "passed"
    with _smoke(root, path_zip, tree, linked=True, names=WORKING) as smoke, importers() as started:
        assert smoke.finish("c" * 64).status == "reused"
    assert started == [], "no interpreter for a zip that passed before"
    document = json.loads(verdict_path(path_zip).read_text())
    document["interpreter"] = "cpython 3.99.0 (another build)"
    verdict_path(path_zip).write_text(json.dumps(document))
    for sha256 in ("c" * 64, "d" * 64):  # another interpreter, then another zip
        with (
            _smoke(root, path_zip, tree, linked=True, names=WORKING) as smoke,
            importers() as started,
        ):
            assert smoke.finish(sha256).status == "passed"
        assert len(started) == 1


def test_the_view_copies_when_it_cannot_link(tmp_path: Path) -> None:
    source = Path("/dev/shm") / f"layer-builder-test-{os.getpid()}.py"
    if not source.parent.is_dir() or source.parent.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second file system (/dev/shm) to refuse a hard link")
    source.write_text("X = 1\n")
    try:
        view = make_view(tmp_path / "view", {"python/x.py": source}, tmp_path / "unused.zip")
        copied = view / "python" / "x.py"
        assert copied.read_text() == "X = 1\n"
        assert copied.stat().st_ino != source.stat().st_ino
    finally:
        source.unlink()


@pytest.fixture
def host_build(make_project: MakeProject) -> BuildResult:
    """A real build, for the host's own Python (so that the smoke test applies)."""
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    layout = LayerPathLayout(project)
    return BuildStep(HOST, Manifest.from_project(project), layout).run()


@needs_host
def test_packaging_writes_nothing_into_the_tree(host_build: BuildResult) -> None:
    layout = LayerPathLayout(host_build.manifest.project_dir)
    recorded = json.loads(layout.path_build_record.read_text())["tree_content_digest"]
    step = PackageStep(layout.path_layer_zip, PackageOptions(slim=True), path_lock=layout.path_lock)
    with importers() as started:
        assert step.run(host_build).smoke_test == "passed"
    assert len(started) == 1
    # The view's hard links move the files' change times, not their bytes.
    assert tree_content_digest(host_build.dir_python) == recorded, "no bytecode, no scratch"
    assert not list(host_build.dir_python.rglob("__pycache__"))
    beside = sorted(p.name for p in layout.dir_build.iterdir())
    assert [n for n in beside if "smoke" in n] == ["layer.zip.smoke.json"], "no view is left"


@needs_host
def test_an_unchanged_rerun_does_not_test_again(
    host_build: BuildResult, caplog: pytest.LogCaptureFixture
) -> None:
    layout = LayerPathLayout(host_build.manifest.project_dir)
    step = PackageStep(layout.path_layer_zip, PackageOptions(slim=True), path_lock=layout.path_lock)
    first = step.run(host_build)
    assert (first.smoke_test, first.reused) == ("passed", 0)
    assert first.smoke_test_seconds > 0
    caplog.set_level("INFO", logger="layer_builder")
    with importers() as started:
        again = step.run(host_build)
    assert started == []
    assert (again.smoke_test, again.sha256, again.smoke_test_seconds) == ("reused", first.sha256, 0)
    assert (
        f"not run again, this zip passed it before with {running_python().describe()} "
        "(layer.zip.smoke.json)" in caplog.text
    )
    # Another slimming (the zip changes): tested again, while the new zip is written.
    strip = PackageOptions(slim=True, strip=True)
    with importers() as started:
        stripped = PackageStep(layout.path_layer_zip, strip, path_lock=layout.path_lock).run(
            host_build
        )
    assert (stripped.smoke_test, len(started)) == ("passed", 1)


@needs_host
def test_a_top_level_package_slimming_leaves_out_is_not_imported(
    make_project: MakeProject,
) -> None:
    """A distribution that ships its suite as a top-level ``tests`` package: --slim drops it
    on purpose, so the layer is not refused for it."""
    project = make_project({"sloppypkg": "1.0.0"})
    layout = LayerPathLayout(project)
    build = BuildStep(HOST, Manifest.from_project(project), layout).run()
    assert (build.dir_python / "tests" / "__init__.py").is_file()
    step = PackageStep(layout.path_layer_zip, PackageOptions(slim=True), path_lock=layout.path_lock)
    result = step.run(build)
    assert result.smoke_test == "passed"
    verdict = json.loads(verdict_path(result.path_zip).read_text())
    assert verdict["names"] == ["sloppypkg"]
    with zipfile.ZipFile(result.path_zip) as zf:
        assert not [n for n in zf.namelist() if n.startswith("python/tests/")]


@pytest.fixture
def cross_build(make_project: MakeProject) -> tuple[BuildResult, HostPython]:
    """A real build for another Python than this one, and that Python on this host."""
    target, interpreter = cross_version()
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    build = BuildStep(target, Manifest.from_project(project), LayerPathLayout(project)).run()
    return build, interpreter


def test_another_pythons_layer_is_imported_by_that_python(
    cross_build: tuple[BuildResult, HostPython],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build, interpreter = cross_build
    assert interpreter.path != Path(sys.executable)
    layout = LayerPathLayout(build.manifest.project_dir)
    step = PackageStep(layout.path_layer_zip, PackageOptions(slim=True), path_lock=layout.path_lock)
    caplog.set_level("INFO", logger="layer_builder")
    with importers() as started:
        result = step.run(build)
    assert (result.smoke_test, result.smoke_test_interpreter) == ("passed", interpreter.describe())
    assert [command[0] for command in started] == [str(interpreter.path)]
    assert f"2 top-level names, with {interpreter.describe()} ..." in caplog.text
    verdict = SmokeVerdict.load(layout.path_layer_zip)
    assert verdict is not None and verdict.names == ("tinyhttp", "tinyutil")
    assert verdict.interpreter == (
        f"CPython {interpreter.full_version} x86_64 at {interpreter.path}"
    )
    assert step.run(build).smoke_test == "reused"
    # The same zip under another interpreter (here: the same one by another path) is tested.
    link = tmp_path / interpreter.path.name
    link.symlink_to(interpreter.path)
    monkeypatch.setenv(ENV_VARIABLE, str(link))
    with importers() as started:
        again = step.run(build)
    assert (again.smoke_test, again.sha256) == ("passed", result.sha256)
    assert [command[0] for command in started] == [str(link)]
    assert again.smoke_test_interpreter == f"python{interpreter.version} at {link} ({ENV_VARIABLE})"


def test_another_pythons_layer_broken_by_slimming_is_refused(
    cross_build: tuple[BuildResult, HostPython], tmp_path: Path
) -> None:
    build, interpreter = cross_build
    (build.dir_python / "tinyhttp" / "tests").mkdir()
    (build.dir_python / "tinyhttp" / "tests" / "__init__.py").write_text("")
    (build.dir_python / "tinyhttp" / "__init__.py").write_text("import tinyhttp.tests\n")
    # A tree changed by hand: no build record vouches for it (the step would refuse it).
    LayerPathLayout(build.manifest.project_dir).path_build_record.unlink()
    step = PackageStep(tmp_path / "layer.zip", PackageOptions(slim=True))
    with importers() as started, pytest.raises(PackageError) as caught:
        step.run(build)
    assert "import tinyhttp: ModuleNotFoundError: No module named 'tinyhttp.tests'" in str(
        caught.value
    )
    assert [command[0] for command in started] == [str(interpreter.path)] * 2, "layer, tree"
    assert not (tmp_path / "layer.zip").exists()


def test_no_interpreter_for_the_target_is_said_once_with_the_fix(
    cross_build: tuple[BuildResult, HostPython],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build, _ = cross_build
    version = build.target.python_version
    monkeypatch.setenv(ENV_VARIABLE, "running")
    caplog.set_level("INFO", logger="layer_builder")
    with importers() as started:
        result = PackageStep(tmp_path / "a.zip", PackageOptions(slim=True)).run(build)
    assert (result.smoke_test, result.smoke_test_interpreter, started) == (None, None, [])
    said = [r for r in caplog.records if "smoke test" in r.getMessage()]
    assert [(r.levelname, r.getMessage()) for r in said] == [
        (
            "WARNING",
            f"no import smoke test: no Python {version} on this host to import the slimmed "
            f"python{version} x86_64 layer (searched {ENV_VARIABLE}=running): install it with "
            f"`uv python install {version}` (or `pyenv install {version}`) to have it tested",
        )
    ]
    # Another CPU: no install fixes that, so it is only information.
    caplog.clear()
    arm = attrs.evolve(build, target=LayerTarget(version, "arm64"))
    PackageStep(tmp_path / "b.zip", PackageOptions(strip=True)).run(arm)
    said = [r for r in caplog.records if "smoke test" in r.getMessage()]
    assert [(r.levelname, r.getMessage()) for r in said] == [
        (
            "INFO",
            f"no import smoke test: no Python {version} for aarch64 on this x86_64 host "
            f"(searched {ENV_VARIABLE}=running): package on an arm64 machine to test the "
            f"slimmed python{version} arm64 layer",
        )
    ]
