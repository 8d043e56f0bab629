"""Six targets of one project: one parallel ``run`` against six single-target runs, and the
unchanged rerun of the whole set as one CLI process.

    .venv/bin/python benchmarks/bench_matrix.py [--projects small large] [--repeat N]

For each reference project of ../shared/bench (``large`` with ``slim``: as it is, it is over
Lambda's unzipped limit; ``pure``: ``small`` without requests and charset-normalizer, whose
wheels are compiled, so that the six targets make one universal layer), against the embedded
moto endpoint on 127.0.0.1, with the six targets python3.12, 3.13 and 3.14 on x86_64 and
arm64:

- warm-up (not timed): the six trees are built once in a scratch copy, so that uv's cache
  holds every target's wheels before anything is timed. The cache is the benchmark's own
  (``--uv-cache``, kept between runs): a shared one is locked now and then by other uv
  processes of the machine, which made single installs wait seconds;
- ``one parallel run``: ``MatrixRun.run()`` on a fresh copy and a fresh layer name (the
  targets on ``usable_cpus()`` threads, each in its own build folder);
- ``six single-target runs``: ``LayerWorkflow.run()`` for each target in turn on another
  fresh copy and layer name, in the same process: the sum of the six;
- ``unchanged rerun (CLI)``: ``layer-builder run --target ... (x6)`` as a new process on the
  first copy, wall time from start to exit (best of ``--repeat``), checked to publish nothing.

``--moto process`` runs the moto server as a child process instead of a thread of this one:
AWS is outside the process, and an in-process server shares the interpreter's lock with the
targets' threads, so that on a small project the parallel run mostly measures that contention.

Wall-clock on a shared machine: compare within one run. Needs the ``local`` extra and the
package index (the warm-up downloads the wheels of targets not cached yet).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3

from layer_builder import AwsClients, LayerWorkflow, LocalAwsEndpoint, PackageOptions
from layer_builder.archive.parallel import usable_cpus
from layer_builder.matrix import MatrixRun
from layer_builder.model.target import TargetSet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import bench_dir

TARGETS = TargetSet.parse(
    ["3.12/x86_64", "3.12/arm64", "3.13/x86_64", "3.13/arm64", "3.14/x86_64", "3.14/arm64"]
)
BUCKET = "layer-builder-bench-matrix"
SLIM = {"small": False, "large": True, "pure": False}
#: ``pure``: small's pure-Python distributions alone (a universal layer).
PURE = ("certifi", "idna", "urllib3")


def make_pure(project: Path) -> None:
    """Keep only the ``PURE`` requirements (with their hashes) of small's requirements.txt."""
    blocks, keep = [], False
    for line in (project / "requirements.txt").read_text().splitlines(keepends=True):
        if line and not line[0].isspace() and not line.startswith("#"):
            keep = line.split("==", 1)[0].strip() in PURE
        if keep:
            blocks.append(line)
    (project / "requirements.txt").write_text("".join(blocks))


class MotoProcess:
    """A moto server in a child process, with what the benchmark asks of ``LocalAwsEndpoint``."""

    def __init__(self, port: int) -> None:
        self.endpoint_url = f"http://127.0.0.1:{port}"

    def clients(self) -> AwsClients:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        return AwsClients.from_session(session, endpoint_url=self.endpoint_url)

    def ensure_bucket(self, bucket: str) -> None:
        self.clients().s3.create_bucket(Bucket=bucket)


@contextlib.contextmanager
def moto_endpoint(kind: str) -> Iterator[Any]:
    """The embedded endpoint (``thread``) or a ``moto_server`` child process (``process``)."""
    if kind == "thread":
        with LocalAwsEndpoint() as endpoint:
            yield endpoint
        return
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = MotoProcess(port)
        for _ in range(100):
            with contextlib.suppress(Exception):
                endpoint.clients().s3.list_buckets()
                break
            time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench_project(name: str, endpoint: Any, work: Path, repeat: int) -> dict[str, str]:
    aws = endpoint.clients()
    options = PackageOptions(slim=SLIM[name])

    def copy(label: str) -> Path:
        project = work / f"{name}-{label}"
        shutil.copytree(bench_dir() / ("small" if name == "pure" else name), project)
        if name == "pure":
            make_pure(project)
        return project

    def factory(project: Path, layer_name: str) -> functools.partial[LayerWorkflow]:
        s3dir = f"s3://{BUCKET}/{project.name}/lambda/"
        return functools.partial(
            LayerWorkflow, project, layer_name, s3dir, package_options=options, aws=aws
        )

    print(f"{name}: warm-up (builds the six trees once, not timed) ...", file=sys.stderr)
    warm = MatrixRun(factory(copy("warm-up"), "unused"), TARGETS).build()
    assert warm.ok, [str(o.error) for o in warm.failed]
    shutil.rmtree(work / f"{name}-warm-up")

    print(f"{name}: one parallel run ...", file=sys.stderr)
    parallel_project, parallel_layer = copy("parallel"), f"bench_{name}_{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    result = MatrixRun(factory(parallel_project, parallel_layer), TARGETS).run()
    parallel = time.perf_counter() - started
    assert result.ok, [str(o.error) for o in result.failed]
    assert all(o.result is not None and o.result.publish.published for o in result)
    assert result.universality is not None
    versions = len({o.result.publish.layer_version for o in result if o.result})

    print(f"{name}: six single-target runs ...", file=sys.stderr)
    single_project, single_layer = copy("single"), f"bench_{name}_{uuid.uuid4().hex[:6]}"
    single = []
    for target in TARGETS:
        workflow = factory(single_project, single_layer)(target=target)
        started = time.perf_counter()
        assert workflow.run().publish.published
        single.append(time.perf_counter() - started)

    print(f"{name}: unchanged reruns as one CLI process ...", file=sys.stderr)
    command = [sys.executable, "-m", "layer_builder.cli", "run", "--project", str(parallel_project),
               "--layer-name", parallel_layer, "--s3dir", f"s3://{BUCKET}/{name}-parallel/lambda/",
               "--json", *(["--slim"] if SLIM[name] else [])]  # fmt: skip
    for target in TARGETS:
        command += ["--target", f"{target.python_version}/{target.architecture}"]
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint.endpoint_url, "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # fmt: skip
    reruns = []
    for _ in range(repeat):
        started = time.perf_counter()
        process = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        reruns.append(time.perf_counter() - started)
        assert process.returncode == 0, process.stderr
        entries = json.loads(process.stdout)
        assert [e["skipped"] for e in entries] == [True] * len(TARGETS), process.stdout
    return {
        "project": f"{name}{' --slim' if SLIM[name] else ''}",
        "universal": "yes" if result.universal else "no",
        "versions": str(versions),
        "parallel": f"{parallel:.2f} s",
        "single": f"{sum(single):.2f} s",
        "ratio": f"{parallel / sum(single):.2f}",
        "each": ", ".join(f"{s:.2f}" for s in single),
        "rerun": f"{min(reruns):.2f} s",
        "reruns": ", ".join(f"{s:.2f}" for s in reruns),
        "why": result.universality.reason,
    }


def startup(repeat: int) -> float:
    """``layer-builder --version`` as a new process: what any CLI call pays first."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "layer_builder.cli", "--version"], check=True,
                       capture_output=True)  # fmt: skip
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", nargs="+", default=["small", "large", "pure"],
                        choices=sorted(SLIM))  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="CLI reruns (best kept)")
    parser.add_argument("--uv-cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "layer-builder-bench-uv-cache",
                        help="uv's cache for this benchmark (kept between runs)")  # fmt: skip
    parser.add_argument("--moto", choices=("thread", "process"), default="thread",
                        help="the moto server: a thread of this process (the embedded "
                             "endpoint) or a child process")  # fmt: skip
    args = parser.parse_args()
    os.environ["UV_CACHE_DIR"] = str(args.uv_cache)
    logging.basicConfig(level=logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, moto_endpoint(args.moto) as endpoint:
        endpoint.ensure_bucket(BUCKET)
        for name in args.projects:
            rows.append(bench_project(name, endpoint, Path(tmp), args.repeat))
    print(f"6 targets ({TARGETS.names}); {usable_cpus()} usable CPUs; moto: {args.moto}; "
          f"CLI start-up (--version) {startup(args.repeat):.2f} s")  # fmt: skip
    print(
        "| project | universal | versions | one parallel run | six single-target runs "
        "| parallel / sum | unchanged rerun, one CLI process |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['project']} | {row['universal']} | {row['versions']} | {row['parallel']} "
              f"| {row['single']} | {row['ratio']} | {row['rerun']} |")  # fmt: skip
    for row in rows:
        print(f"{row['project']}: single runs {row['each']} s; CLI reruns {row['reruns']} s; "
              f"{row['why']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
