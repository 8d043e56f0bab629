"""A real SIGTERM to a process whose installer is mid-download: no pip or uv outlives it.

The index holds the wheel download until the test releases it, so the installer is
certainly running when the signal arrives.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import MakeProject
from tests.wheelhouse import build_index

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="lists child processes through /proc"
)


class HeldIndex:
    """The test index on 127.0.0.1; a wheel download waits until ``release()``."""

    def __init__(self, root: Path):
        self.download_started = threading.Event()
        self._release = threading.Event()
        held = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/files/"):
                    held.download_started.set()
                    held._release.wait(timeout=120)
                # The installer it was for may have been stopped, as it should be.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().do_GET()

        self._httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(Handler, directory=str(root))
        )
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/simple/"

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self.release()
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def held_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeldIndex]:
    root = tmp_path_factory.mktemp("held-index")
    build_index(root)
    index = HeldIndex(root)
    yield index
    index.stop()


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc/<pid>/stat)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def gone(pid: int) -> bool:
    """No such process (or only its zombie, which the system reaps)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


LIBRARY_PIP = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from layer_builder import LayerTarget, Manifest
    from layer_builder.cli.signals import TerminatedBySignal, stop_signals_raise
    from layer_builder.installers import PipInstaller
    out = Path(sys.argv[2])
    out.mkdir()
    try:
        with stop_signals_raise():
            PipInstaller().install(Manifest.from_project(sys.argv[1]), LayerTarget(), out)
    except TerminatedBySignal as exc:
        print("stopped by SIGTERM", file=sys.stderr)
        sys.exit(exc.exit_code)
    """
)


@pytest.mark.parametrize("how", ["cli-uv", "library-pip"])
def test_sigterm_while_the_installer_downloads_leaves_no_installer(
    how: str, held_index: HeldIndex, make_project: MakeProject, tmp_path: Path
) -> None:
    project = make_project({"tinyutil": "1.0.0"}, hashes=False)
    env = {
        **os.environ,
        "PIP_INDEX_URL": held_index.url,
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),  # so that uv really downloads
        "PIP_NO_CACHE_DIR": "1",
    }
    if how == "cli-uv":
        command = [sys.executable, "-m", "layer_builder.cli", "build", "--project", str(project)]
    else:
        command = [sys.executable, "-c", LIBRARY_PIP, str(project), str(tmp_path / "out")]
    cli = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert held_index.download_started.wait(timeout=120), "the installer never downloaded"
        installers = children_of(cli.pid)
        assert installers, "the installer runs as a child of the process"
        cli.send_signal(signal.SIGTERM)
        _, err = cli.communicate(timeout=120)
        # Checked while the download is still held: an installer left running could not
        # have finished on its own yet.
        survivors = [pid for pid in installers if not gone(pid)]
    finally:
        held_index.release()
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err
    assert survivors == []
