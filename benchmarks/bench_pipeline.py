"""Time each pipeline step next to the raw tools it replaces, measured in the same run.

    .venv/bin/python benchmarks/bench_pipeline.py [--projects small large] [--repeat N]

For each reference project of ../shared/bench (copied to a temporary folder first):

- build: ``BuildStep`` with its default installer (``uv pip`` when uv is found), and with
  ``PipInstaller`` forced, against raw ``pip install --target`` with exactly the command
  ``PipInstaller.command()`` builds (same ``--platform`` tags, ``--no-compile`` ...);
- package: ``PackageStep`` at its default level 6 and at level 9, against ``zip -r -9 -q -X``
  of the raw tree;
- upload and publish: against the embedded moto endpoint (127.0.0.1; no network cost, so these
  rows measure our overhead, not S3's).

``large`` is 278 MB unzipped, over Lambda's 262,144,000-byte limit: the package step refuses it
by default, so it runs here with ``max_unzipped_size`` raised to 1 GB. ``large`` needs a
Python >= 3.12 target; every project is built for python3.12 x86_64.

Each figure is the best of ``--repeat`` runs (package caches stay warm after the first run).
Needs the ``local`` extra and the package index. Timing is wall-clock (``time.perf_counter``)
on a shared machine: compare ratios within one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import attrs

from layer_builder import (
    LayerTarget,
    LayerWorkflow,
    LocalAwsEndpoint,
    Manifest,
    PackageOptions,
    PackageStep,
    PipInstaller,
)

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
TARGET = LayerTarget(python_version="3.12", architecture="x86_64")
BUCKET = "layer-builder-bench"
RAISED_LIMIT = 1_000_000_000  # only to measure the oversize ``large`` tree

T = TypeVar("T")
Run = dict[str, float | int | str]  # one project's figures from one repetition


def timed(func: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    value = func()
    return time.perf_counter() - started, value


def fresh_copy(project: str, into: Path) -> Path:
    destination = into / project
    shutil.rmtree(destination, ignore_errors=True)
    no_build = shutil.ignore_patterns("build")  # every run starts from an empty build tree
    return Path(shutil.copytree(BENCH / project, destination, ignore=no_build))


def raw_tools(project_dir: Path, work: Path) -> dict[str, float | int]:
    """pip install --target (PipInstaller's exact command) and zip -r -9 of the tree."""
    manifest = Manifest.from_project(project_dir, "pip")
    root = work / "raw"
    shutil.rmtree(root, ignore_errors=True)
    dir_python = root / "python"
    command = PipInstaller().command(manifest, TARGET, dir_python)
    pip_s, _ = timed(lambda: subprocess.run(command, check=True, capture_output=True))
    path_zip = root / "layer.zip"
    zip_command = ["zip", "-r", "-9", "-q", "-X", str(path_zip), "python"]
    zip_s, _ = timed(lambda: subprocess.run(zip_command, cwd=root, check=True))
    return {"pip": pip_s, "zip": zip_s, "zip_size": path_zip.stat().st_size}


def pipeline(project: str, work: Path, endpoint: LocalAwsEndpoint, run: int) -> Run:
    """Each step of the default workflow, then the pip build and a level-9 package."""
    options = PackageOptions(max_unzipped_size=RAISED_LIMIT)
    workflow = LayerWorkflow(
        project_dir=fresh_copy(project, work / "default"),
        layer_name=f"bench_{project}_{run}",  # a new layer each run, so publish always publishes
        s3dir_lambda=f"s3://{BUCKET}/{project}/{run}/lambda/",
        target=TARGET,
        package_options=options,
        aws=endpoint.clients(),
    )
    workflow.check()
    build_s, build = timed(workflow.build)
    package_s, package = timed(lambda: workflow.package(build))
    upload_s, upload = timed(lambda: workflow.upload(package))
    publish_s, publish = timed(lambda: workflow.publish(upload))
    assert publish.published, publish.reason

    # The same build with pip, the tool of the raw baseline (a fresh copy: no build cache).
    pip_workflow = LayerWorkflow(
        project_dir=fresh_copy(project, work / "pip"),
        layer_name=f"bench_{project}_{run}",
        s3dir_lambda=f"s3://{BUCKET}/{project}/{run}/lambda/",
        target=TARGET,
        package_options=options,
        installer=PipInstaller(),
    )
    pip_build_s, _ = timed(pip_workflow.build)
    # Level 9, the level of ``zip -9``, into another file so nothing is reused from the first.
    level9 = PackageStep(work / "level9.zip", attrs.evolve(options, compresslevel=9))
    level9_s, level9_result = timed(lambda: level9.run(build))
    return {
        "installer": build.installer,
        "build": build_s,
        "build_pip": pip_build_s,
        "package": package_s,
        "package9": level9_s,
        "upload": upload_s,
        "publish": publish_s,
        "zip_size": package.zip_size,
        "zip9_size": level9_result.zip_size,
        "unzipped": package.unzipped_size,
        "files": package.files,
    }


def best(runs: list[Run], key: str) -> float:
    return min(float(r[key]) for r in runs)


def report(project: str, ours: list[Run], raw: list[dict[str, float | int]]) -> None:
    first = ours[0]
    pip_s = min(float(r["pip"]) for r in raw)
    zip_s = min(float(r["zip"]) for r in raw)
    print(
        f"\n{project}: {first['files']} files, {int(first['unzipped']) / 1e6:.1f} MB unzipped; "
        f"zip {int(first['zip_size']) / 1e6:.2f} MB (level 6), "
        f"{int(first['zip9_size']) / 1e6:.2f} MB (level 9), "
        f"zip -9: {int(raw[0]['zip_size']) / 1e6:.2f} MB"
    )
    rows = [
        (f"build ({first['installer']}, default)", best(ours, "build"), "pip --target", pip_s),
        ("build (pip)", best(ours, "build_pip"), "pip --target", pip_s),
        ("package (level 6, default)", best(ours, "package"), "zip -r -9", zip_s),
        ("package (level 9)", best(ours, "package9"), "zip -r -9", zip_s),
        ("upload (moto)", best(ours, "upload"), "", None),
        ("publish (moto)", best(ours, "publish"), "", None),
    ]
    steps_total = sum(best(ours, k) for k in ("build", "package", "upload", "publish"))
    rows.append(("all four steps (default)", steps_total, "pip + zip -9", pip_s + zip_s))
    print(f"| {'step':<28} | {'time':>8} | {'raw tool':<20} | {'time':>8} | {'ratio':>6} |")
    print(f"|{'-' * 30}|{'-' * 9}:|{'-' * 22}|{'-' * 9}:|{'-' * 7}:|")
    for step, seconds, tool, raw_seconds in rows:
        raw_text = f"{raw_seconds:.2f} s" if raw_seconds is not None else ""
        ratio = f"{seconds / raw_seconds:.2f}" if raw_seconds else ""
        print(f"| {step:<28} | {seconds:6.2f} s | {tool:<20} | {raw_text:>8} | {ratio:>6} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", nargs="+", default=["small", "large"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("-v", "--verbose", action="store_true", help="show the steps' log")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    print(f"python {sys.version.split()[0]}, target {TARGET.description}, best of {args.repeat}")
    with tempfile.TemporaryDirectory() as tmp, LocalAwsEndpoint() as endpoint:
        endpoint.ensure_bucket(BUCKET)
        for project in args.projects:
            ours, raw = [], []
            for run in range(args.repeat):
                work = Path(tmp) / f"{project}-{run}"
                # Raw tools first, then ours: both read the same warm package caches.
                raw.append(raw_tools(fresh_copy(project, work), work))
                ours.append(pipeline(project, work, endpoint, run))
                shutil.rmtree(work)
            report(project, ours, raw)
    print(
        "\nratio = our time / raw tool time (below 1: faster). upload and publish run against "
        "moto on 127.0.0.1, so they measure our overhead, not S3's. large runs with "
        f"max_unzipped_size raised to {RAISED_LIMIT:,} bytes (it is over Lambda's limit)."
    )


if __name__ == "__main__":
    main()
