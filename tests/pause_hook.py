"""Test-only fault injection: a ``layer-builder`` child process that pauses before one AWS call.

``python -m tests.pause_hook OPERATION PAUSED GO [--multipart] -- CLI ARGS...`` patches
botocore's client call so that the first ``OPERATION`` call (``PublishLayerVersion``,
``UploadPart``...) writes the file ``PAUSED`` (holding the child's pid) and waits until the
file ``GO`` exists, then runs ``layer_builder.cli.main(CLI ARGS)``. A signal sent while it
waits lands exactly there (SIGTERM raises in the CLI's main thread). ``--multipart`` lowers
the upload step's multipart threshold to one byte (5 MiB parts, one at a time) and writes
``GO`` itself as soon as the transfer is cancelled, so that a part paused in a worker thread
goes on only after the cancellation it is meant to race with.

``CliChild`` starts and drives such a child from a test. Nothing here is part of the package.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: How long a paused child waits for GO before giving up (so no child outlives a failed test).
PAUSE_LIMIT = 180.0
#: How long a test waits for a child to reach its pause (a first build installs with pip).
REACH_LIMIT = 300.0
REPO_ROOT = Path(__file__).resolve().parent.parent


def _wait_for(path: Path, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: {path} did not appear within {limit:.0f} s")
        time.sleep(0.02)


def install_pause(operation: str, paused: Path, go: Path) -> None:
    import botocore.client

    original = botocore.client.BaseClient._make_api_call
    first = threading.Lock()

    def call(self: Any, operation_name: str, api_params: Any) -> Any:
        if operation_name == operation and first.acquire(blocking=False):
            paused.write_text(str(os.getpid()))
            _wait_for(go, PAUSE_LIMIT, f"paused before {operation}")
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = call  # type: ignore[method-assign]


def lower_multipart_threshold(go: Path) -> None:
    import s3transfer.futures
    from boto3.s3.transfer import TransferConfig

    import layer_builder.steps.upload

    layer_builder.steps.upload.DEFAULT_TRANSFER_CONFIG = TransferConfig(
        multipart_threshold=1, multipart_chunksize=5 * 1024 * 1024, max_concurrency=1
    )
    original = s3transfer.futures.TransferCoordinator.cancel

    def cancel(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        go.touch()

    s3transfer.futures.TransferCoordinator.cancel = cancel  # type: ignore[method-assign]


def main(argv: Sequence[str]) -> int:
    split = list(argv).index("--")
    options, cli_args = list(argv[:split]), list(argv[split + 1 :])
    operation, paused, go = options[0], Path(options[1]), Path(options[2])
    if "--multipart" in options:
        lower_multipart_threshold(go)
    install_pause(operation, paused, go)
    # A runner may start children with SIGINT ignored; a user's shell would not.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from layer_builder.cli.main import main as cli_main

    return cli_main(cli_args)


class CliChild:
    """A ``layer-builder`` child process, paused before ``operation`` when one is given."""

    def __init__(
        self,
        workdir: Path,
        args: Sequence[str | Path],
        operation: str | None = None,
        multipart: bool = False,
    ):
        workdir.mkdir(parents=True, exist_ok=True)
        self.paused, self.go = workdir / "paused", workdir / "go"
        self.stdout_path, self.stderr_path = workdir / "stdout", workdir / "stderr"
        if operation is None:
            command = ["-m", "layer_builder.cli"]
        else:
            options = [operation, str(self.paused), str(self.go)]
            command = ["-m", "tests.pause_hook", *options, *(["--multipart"] * multipart), "--"]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, *command, *map(str, args)],
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=dict(os.environ),
            )

    def wait_until_paused(self) -> None:
        deadline = time.monotonic() + REACH_LIMIT
        while not self.paused.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"the child exited before its pause: {self.stderr}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the child did not reach its pause: {self.stderr}")
            time.sleep(0.05)

    def resume(self) -> None:
        self.go.touch()

    def wait(self, timeout: float = REACH_LIMIT) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        """Kill the child if it still runs (a test's ``finally``)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_for_stderr(self, text: str) -> None:
        """Poll the child's stderr until it holds ``text``."""
        deadline = time.monotonic() + REACH_LIMIT
        while text not in self.stderr:
            if self.process.poll() is not None:
                raise AssertionError(f"the child exited before saying {text!r}: {self.stderr}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} did not appear on the child's stderr")
            time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
