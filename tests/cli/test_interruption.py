"""A real SIGTERM (how CI systems and ``timeout`` cancel a job) or SIGKILL sent to a CLI
process at work: what stays behind. Processes are caught at work by polling for the files
and children they make, never by waiting a given time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from layer_builder import LayerPathLayout
from tests.cli.test_cli import run_subprocess
from tests.conftest import MakeProject
from tests.processes import add_blobs, leftovers, start

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals, /proc")

PINS = {"tinyhttp": "2.0.0", "tinyutil": "1.0.0", "fastcalc": "1.0.0"}


@pytest.fixture
def big_tree(make_project: MakeProject) -> Iterator[Path]:
    """A built project whose tree takes long enough to zip to be caught at it."""
    project = make_project(PINS)
    assert run_subprocess("build", "--project", project).code == 0
    add_blobs(LayerPathLayout(project).dir_python, 16)
    yield project


def catch_zipping(project: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """A ``package`` process caught while its partial zip exists (started again, at most a
    few times, if it finished before the partial file was seen)."""
    dir_build = LayerPathLayout(project).dir_build
    for _ in range(5):
        process = start("package", "--project", project, env=env)
        while process.poll() is None:
            if [p for p in dir_build.glob("layer.zip.*.partial") if p.is_file()]:
                return process
            time.sleep(0.002)  # polling, not a timed assertion
        process.communicate()
        assert process.returncode == 0
        for path in (dir_build / "layer.zip", dir_build / "layer.zip.reuse.json"):
            path.unlink()  # again from scratch, so that it zips again
    pytest.fail("packaging always finished before its partial zip was seen")


def test_sigterm_while_zipping_leaves_no_partial_file(big_tree: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    process = catch_zipping(big_tree, env)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 143, err
    assert "layer-builder: stopped by SIGTERM; cleaned up" in err
    assert leftovers(big_tree) == []
    dir_build = LayerPathLayout(big_tree).dir_build
    assert sorted(p.name for p in dir_build.iterdir()) == [".lock", "artifacts"]
    assert list(scratch.iterdir()) == [], "no scratch folder in the temporary folder either"


def test_what_a_killed_run_left_is_removed_by_the_next(big_tree: Path) -> None:
    layout = LayerPathLayout(big_tree)
    process = catch_zipping(big_tree, dict(os.environ))
    process.kill()
    process.communicate()
    (left,) = leftovers(big_tree)
    assert left.startswith(f"layer.zip.{process.pid}-")
    # A build staging folder and the fixed names of older versions, as a killed run leaves them.
    staging = layout.dir_artifacts / f"python.{process.pid}-0badc0de.partial"
    (staging / "tinyhttp").mkdir(parents=True)
    (layout.dir_artifacts / "python.partial").mkdir()
    (layout.dir_build / "layer.zip.partial").write_bytes(b"half a zip")
    built = run_subprocess("build", "--project", big_tree)
    assert built.code == 0, built.err
    assert (
        f"removed what an interrupted build left: python.{process.pid}-0badc0de.partial, "
        f"python.partial\n" in built.err
    )
    packaged = run_subprocess("package", "--project", big_tree, "--json")
    assert packaged.code == 0, packaged.err
    assert "removed what an interrupted run left: layer.zip." in packaged.err
    assert leftovers(big_tree) == []
    with zipfile.ZipFile(layout.path_layer_zip) as zf:
        assert zf.testzip() is None


HOST = f"{sys.version_info.major}.{sys.version_info.minor}"
PURE = {"tinyhttp": "2.0.0", "tinyutil": "1.0.0"}


def children_of(pid: int) -> list[tuple[int, str]]:
    """``(pid, command line)`` of the live children of ``pid``."""
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue  # gone already
            found.append((int(child), cmdline.decode(errors="replace")))
    return found


@pytest.fixture
def host_project(make_project: MakeProject) -> Path:
    """A pure-Python project built for this host's Python, so that bytecode and the import
    smoke test apply."""
    project = make_project(PURE)
    built = run_subprocess("build", "--project", project, "--python", HOST)
    assert built.code == 0, built.err
    return project


def test_sigterm_while_compiling_kills_the_compilers(host_project: Path) -> None:
    layout = LayerPathLayout(host_project)
    huge = layout.dir_python / "tinyutil" / "huge_table.py"  # seconds to compile
    huge.write_text("".join(f"v{i} = [{i}, {i} + 1, 's{i}']\n" for i in range(200_000)))
    layout.path_build_record.unlink()  # a tree changed by hand: package would refuse it
    process = start("package", "--project", host_project, "--python", HOST, "--compile-bytecode")
    compilers: list[tuple[int, str]] = []
    while not compilers:
        assert process.poll() is None, process.communicate()
        compilers = [c for c in children_of(process.pid) if " -S -c " in c[1]]
        time.sleep(0.002)  # polling, not a timed assertion
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 143, err
    cache = layout.dir_build / "layer.zip.pycache"
    in_cache = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert [p for p in in_cache if not p.name.endswith(".pyc")] == [], "no unfinished pyc"
    assert max((p.stat().st_size for p in in_cache), default=0) < 1_000_000, (
        "the huge module's compiler was killed, not waited for"
    )
    assert leftovers(host_project) == []
    for pid, _ in compilers:
        assert not Path(f"/proc/{pid}").exists()


def test_sigterm_during_the_smoke_test_leaves_no_scratch(host_project: Path) -> None:
    dir_build = LayerPathLayout(host_project).dir_build
    for _ in range(5):
        process = start("package", "--project", host_project, "--python", HOST, "--slim")
        while process.poll() is None and not list(dir_build.glob("layer.zip.*-smoke-*.partial")):
            time.sleep(0.002)  # polling, not a timed assertion
        if process.poll() is None:
            break
        assert process.communicate()[1] and process.returncode == 0
        (dir_build / "layer.zip").unlink()  # again from scratch
    else:
        pytest.fail("the smoke test always finished before its scratch folder was seen")
    importers = children_of(process.pid)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 143, err
    assert leftovers(host_project) == []
    for pid, _ in importers:
        assert not Path(f"/proc/{pid}").exists(), "no import child outlives the run"
