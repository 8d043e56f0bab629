"""Time the unchanged rerun of ``run`` (the instant no-op) next to the first full run.

    .venv/bin/python benchmarks/bench_noop.py [--projects small large] [--repeat N]

For each reference project of ../shared/bench (copied to a temporary folder first), in one
process against the embedded moto endpoint on 127.0.0.1:

- ``first run``: ``LayerWorkflow.run()`` on a fresh layer: build, package, upload, publish;
- ``rerun (same clients)``: a new ``LayerWorkflow`` on the unchanged project, reusing the AWS
  clients: what a deploy script that calls the library twice pays;
- ``rerun (new clients)``: the same with AWS clients made anew, as each CLI invocation does
  (boto3 loads the S3 and Lambda service models again).

The reruns must publish nothing and make no PutObject or PublishLayerVersion call; the
script checks both and counts the AWS calls of the last rerun. ``large`` is over Lambda's
unzipped limit as it is, so it runs with ``slim`` (PackageOptions(slim=True), ``--slim``)
and for python3.12 (its pins need Python >= 3.12). Needs the ``local`` extra and the package
index. Timing is wall-clock on a shared machine: the goal is the rerun under 1 s.
"""

from __future__ import annotations

import argparse
import collections
import logging
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from layer_builder import AwsClients, LayerTarget, LayerWorkflow, LocalAwsEndpoint, PackageOptions

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
TARGET = LayerTarget(python_version="3.12", architecture="x86_64")
BUCKET = "layer-builder-bench-noop"
OPTIONS = {"small": PackageOptions(), "large": PackageOptions(slim=True)}


def count_calls(aws: AwsClients) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()

    def record(event_name: str, **_: Any) -> None:
        counts[event_name.rsplit(".", 1)[-1]] += 1

    for client in (aws.s3, aws.lambda_):
        client.meta.events.register("before-call.*.*", record)
    return counts


def bench_project(
    name: str, endpoint: LocalAwsEndpoint, work: Path, repeat: int
) -> dict[str, float | str]:
    project = work / name
    shutil.copytree(BENCH / name, project)
    layer_name = f"bench_{name}_{uuid.uuid4().hex[:6]}"
    s3dir = f"s3://{BUCKET}/{name}/lambda/"
    aws = endpoint.clients()

    def workflow(clients: AwsClients) -> LayerWorkflow:
        return LayerWorkflow(
            project, layer_name, s3dir, TARGET, package_options=OPTIONS[name], aws=clients
        )

    started = time.perf_counter()
    first = workflow(aws).run()
    first_time = time.perf_counter() - started
    assert first.publish.published and first.package is not None

    same, fresh = [], []
    counts: collections.Counter[str] = collections.Counter()
    for _ in range(repeat):
        started = time.perf_counter()
        rerun = workflow(aws).run()
        same.append(time.perf_counter() - started)
        started = time.perf_counter()
        clients = endpoint.clients()
        counts = count_calls(clients)
        rerun = workflow(clients).run()
        fresh.append(time.perf_counter() - started)
        assert rerun.skipped and not rerun.publish.published
        assert rerun.publish.layer_version_arn == first.publish.layer_version_arn
        assert counts["PutObject"] == counts["PublishLayerVersion"] == 0, counts
    return {
        "project": name,
        "first": first_time,
        "same": min(same),
        "fresh": min(fresh),
        "zip": f"{first.package.zip_size / 1e6:.1f} MB",
        "calls": ", ".join(f"{op} {n}" for op, n in sorted(counts.items())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", nargs="+", default=["small", "large"],
                        choices=sorted(OPTIONS))  # fmt: skip
    parser.add_argument("--repeat", type=int, default=5, help="reruns per project (best kept)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, LocalAwsEndpoint() as endpoint:
        endpoint.ensure_bucket(BUCKET)
        for name in args.projects:
            print(f"{name}: first run ...", file=sys.stderr, flush=True)
            rows.append(bench_project(name, endpoint, Path(tmp), args.repeat))
    print(f"{'project':8} {'zip':>9} {'first run':>10} {'rerun, same clients':>20} "
          f"{'rerun, new clients':>19}")  # fmt: skip
    for row in rows:
        print(f"{row['project']:8} {row['zip']:>9} {row['first']:>9.2f}s {row['same']:>19.3f}s "
              f"{row['fresh']:>18.3f}s")  # fmt: skip
    for row in rows:
        print(f"AWS calls of one rerun ({row['project']}): {row['calls']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
