"""Helpers for tests with real processes: the CLI started as a child, a process holding a
project's folder lock, trees that take a while to zip."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

#: A process that takes the lock, says so, and holds it until a line arrives on stdin.
HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from layer_builder.steps.folder_lock import FolderLock
    with FolderLock(Path(sys.argv[1]), "test holder"):
        print("locked", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
    """
)


class Holder:
    """A child process holding the lock at ``path`` until ``release()``."""

    def __init__(self, path: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdin is not None
        self.stdout, self.stdin = self.process.stdout, self.process.stdin
        assert self.stdout.readline().strip() == "locked"

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        self.stdin.write("\n")
        self.stdin.flush()
        assert self.stdout.readline().strip() == "released"
        assert self.process.wait(timeout=60) == 0


def start(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``layer-builder ARGS`` as a process of its own, started now."""
    return subprocess.Popen(
        [sys.executable, "-m", "layer_builder.cli", *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env if env is not None else dict(os.environ),
    )


def tree_members(dir_python: Path) -> list[str]:
    return sorted(
        "python/" + p.relative_to(dir_python).as_posix()
        for p in dir_python.rglob("*")
        if p.is_file()
    )


def add_blobs(dir_python: Path, megabytes: int) -> None:
    """Random bytes (deflate cannot shrink them: compressed, then stored) that make zipping
    the tree take a while. The tree is then one made by hand: its build record goes, since
    ``package`` refuses a tree changed since the build that recorded it."""
    blobs = dir_python / "tinyhttp" / "blobs"
    blobs.mkdir()
    for index in range(megabytes):
        (blobs / f"blob{index:02d}.bin").write_bytes(os.urandom(1 << 20))
    dir_python.with_name("build-record.json").unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(project: Path) -> list[str]:
    """Partial files and folders anywhere under the project's build folder."""
    return sorted(p.name for p in (project / "build").rglob("*.partial"))
