"""The whole ``run`` and each of its steps, next to the raw tools they replace, in one run.

    .venv/bin/python benchmarks/bench_pipeline.py                    # small and large
    .venv/bin/python benchmarks/bench_pipeline.py --projects small   # a quick check

For each reference project of ``shared/bench`` (copied to a temporary folder first), with the
defaults a user gets without any flag (uv installs, libdeflate level 6 on every core):

- **full run**: ``LayerWorkflow.run()`` on a fresh copy (check, build, package, upload to
  the embedded moto server on 127.0.0.1, publish), each step timed by the workflow's
  ``after_*`` hooks; ``large`` runs with ``slim`` (``--slim``), since it is over Lambda's
  unzipped limit as it is, and for python3.12 x86_64 (its pins need Python >= 3.12);
- **one dependency changed**: then, in the same folder, the requirements re-locked with one
  dependency moved to another version (``large``: pydantic 2.14.4 -> 2.14.3, which pins its
  pydantic-core 2.50.5 -> 2.50.4; hashes by ``uv pip compile --generate-hashes``, not timed)
  and ``run()`` again: uv reinstalls from its cache, and packaging copies every unchanged
  member from the previous zip instead of deflating it again;
- **raw tools**: ``pip install --target`` with exactly ``PipInstaller.command()`` (every
  ``--platform`` tag, ``--no-compile`` ...), and ``zip -r -9 -X -q`` of exactly the files the
  layer holds (the names in our zip), in the same run;
- **build (pip)**: ``BuildStep`` with pip forced (``--installer pip``), on another copy.

Upload and publish go to moto on 127.0.0.1: they measure our overhead, not S3's network.
Needs the ``local`` extra and the package index. Timing is wall-clock on a shared machine
(2 cores here): compare ratios within one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from _measure import bench_dir

from layer_builder import (
    BuildOptions,
    BuildResult,
    LayerTarget,
    LayerWorkflow,
    LocalAwsEndpoint,
    Manifest,
    PackageOptions,
    PackageResult,
    PipInstaller,
    PublishResult,
    UploadResult,
)
from layer_builder.installers import find_uv

TARGET = LayerTarget(python_version="3.12", architecture="x86_64")
BUCKET = "layer-builder-bench"
OPTIONS = {"small": PackageOptions(), "large": PackageOptions(slim=True)}
#: The dependency moved to another version for the rerun (with what it pins exactly).
BUMPS = {"large": {"pydantic": "2.14.3", "pydantic-core": "2.50.4"}}
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)", re.MULTILINE)


class TimedWorkflow(LayerWorkflow):
    """``run()`` as it is, with the end of each step stamped by its ``after_*`` hook."""

    def run(self) -> Any:
        self.stamps = {"start": time.perf_counter()}
        result = super().run()
        self.stamps["end"] = time.perf_counter()
        return result

    def after_build(self, result: BuildResult) -> None:
        self.stamps["build"] = time.perf_counter()

    def after_package(self, result: PackageResult) -> None:
        self.stamps["package"] = time.perf_counter()

    def after_upload(self, result: UploadResult) -> None:
        self.stamps["upload"] = time.perf_counter()

    def after_publish(self, result: PublishResult) -> None:
        self.stamps["publish"] = time.perf_counter()

    def seconds(self) -> dict[str, float]:
        """Per step (``build`` includes the bucket check before it), and the whole run."""
        order = ["start", "build", "package", "upload", "publish"]
        steps = {b: self.stamps[b] - self.stamps[a] for a, b in itertools.pairwise(order)}
        return {**steps, "run": self.stamps["end"] - self.stamps["start"]}


def fresh_copy(project: str, into: Path) -> Path:
    destination = into / project
    shutil.rmtree(destination, ignore_errors=True)
    no_build = shutil.ignore_patterns("build")  # every run starts from an empty build tree
    return Path(shutil.copytree(bench_dir() / project, destination, ignore=no_build))


def bump(project_dir: Path, versions: dict[str, str]) -> None:
    """Re-lock ``requirements.txt`` with ``versions`` changed and every other pin kept."""
    requirements = project_dir / "requirements.txt"
    pins = dict(_PIN.findall(requirements.read_text()))
    assert set(versions) <= set(pins), f"{versions} not all pinned in {requirements}"
    pins.update(versions)
    source = project_dir / "bumped.in"
    source.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()))
    subprocess.run(
        [find_uv() or "uv", "pip", "compile", str(source), "--generate-hashes", "--no-header",
         "--no-annotate", "-q", "--python-version", TARGET.python_version,
         "--python-platform", TARGET.uv_python_platform, "-o", str(requirements)],
        check=True,
    )  # fmt: skip
    source.unlink()


def timed_run(project_dir: Path, project: str, layer: str, endpoint: LocalAwsEndpoint) -> Any:
    workflow = TimedWorkflow(
        project_dir=project_dir,
        layer_name=layer,
        s3dir_lambda=f"s3://{BUCKET}/{layer}/lambda/",
        target=TARGET,
        package_options=OPTIONS[project],
        aws=endpoint.clients(),
    )
    result = workflow.run()
    assert result.publish.published, result.publish.reason
    return workflow.seconds(), result


def raw_tools(project: str, work: Path, members: list[str]) -> dict[str, float]:
    """pip install --target (PipInstaller's exact command), then zip -r -9 of ``members``."""
    project_dir = fresh_copy(project, work / "raw")
    manifest = Manifest.from_project(project_dir, "pip")
    root = work / "raw-tree"
    shutil.rmtree(root, ignore_errors=True)
    command = PipInstaller().command(manifest, TARGET, root / "python")
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    pip_s = time.perf_counter() - started
    path_zip = root / "layer.zip"
    names = "\n".join(members) + "\n"
    started = time.perf_counter()
    subprocess.run(["zip", "-9", "-q", "-X", str(path_zip), "-@"], cwd=root, input=names,
                   text=True, check=True)  # fmt: skip
    zip_s = time.perf_counter() - started
    size = path_zip.stat().st_size
    shutil.rmtree(root)
    return {"pip": pip_s, "zip": zip_s, "zip_size": size}


def bench_project(project: str, work: Path, endpoint: LocalAwsEndpoint) -> None:
    tag = os.urandom(3).hex()
    full_dir = fresh_copy(project, work / "ours")
    full, result = timed_run(full_dir, project, f"bench_{project}_{tag}", endpoint)
    with zipfile.ZipFile(result.package.path_zip) as zf:
        members = zf.namelist()
    changed: dict[str, float] | None = None
    if project in BUMPS:
        bump(full_dir, BUMPS[project])
        changed, again = timed_run(full_dir, project, f"bench_{project}_{tag}", endpoint)
        reused = f"{again.package.reused} of {again.package.files} members reused"
    pip_dir = fresh_copy(project, work / "pip")
    pip_workflow = LayerWorkflow(
        project_dir=pip_dir, layer_name="unused", s3dir_lambda=f"s3://{BUCKET}/unused/",
        target=TARGET, package_options=OPTIONS[project],
        build_options=BuildOptions(installer=PipInstaller()),
    )  # fmt: skip
    started = time.perf_counter()
    pip_workflow.build()
    pip_build = time.perf_counter() - started
    raw = raw_tools(project, work, members)

    package = result.package
    print(f"\n{project}: {package.files} files, {package.unzipped_size / 1e6:.1f} MB unzipped"
          f"{' (--slim)' if OPTIONS[project].slim else ''}; zip {package.zip_size / 1e6:.2f} MB, "
          f"zip -9 of the same files {raw['zip_size'] / 1e6:.2f} MB "
          f"({package.zip_size / raw['zip_size']:.4f}x)")  # fmt: skip
    if changed is not None:
        print(f"one dependency changed: {', '.join(f'{n} {v}' for n, v in BUMPS[project].items())}"
              f"; {reused}")  # fmt: skip
    header = "| step | full run | one dependency changed | raw tool | raw | full / raw |"
    print(header)
    print("|---|---:|---:|---|---:|---:|")
    rows = [
        ("build (uv, default)", "build", "pip install --target", raw["pip"]),
        ("package (libdeflate 6, default)", "package", "zip -9 -X -q", raw["zip"]),
        ("upload (moto)", "upload", "", None),
        ("publish (moto)", "publish", "", None),
        ("whole `run` (wall)", "run", "pip + zip -9", raw["pip"] + raw["zip"]),
    ]
    for label, key, tool, raw_s in rows:
        again_s = f"{changed[key]:.2f} s" if changed else ""
        ratio = f"{full[key] / raw_s:.2f}" if raw_s else ""
        raw_text = f"{raw_s:.2f} s" if raw_s is not None else ""
        print(f"| {label} | {full[key]:.2f} s | {again_s} | {tool} | {raw_text} | {ratio} |")
    print(f"| build (pip, `--installer pip`) | {pip_build:.2f} s |  | pip install --target | "
          f"{raw['pip']:.2f} s | {pip_build / raw['pip']:.2f} |")  # fmt: skip
    if package.smoke_test is None:
        print(f"smoke test: not run (--slim: {OPTIONS[project].slim}; it needs the target's "
              f"Python on the host: {TARGET.description})")  # fmt: skip
    else:
        print(f"smoke test: {package.smoke_test}, {package.smoke_test_seconds:.2f} s from start "
              f"to verdict, {package.smoke_test_wait_seconds:.2f} s of it after the zip was "
              f"written ({package.smoke_test_wait_seconds / full['package']:.0%} of package, "
              f"{package.smoke_test_wait_seconds / full['run']:.0%} of the run); "
              f"benchmarks/bench_startup.py --large for its cost")  # fmt: skip
    if changed:
        before = full["build"] + full["package"]
        after = changed["build"] + changed["package"]
        print(f"build + package: {before:.2f} s full, {after:.2f} s with one dependency "
              f"changed ({after / before:.0%} of the full run); whole run {full['run']:.2f} s "
              f"-> {changed['run']:.2f} s ({changed['run'] / full['run']:.0%})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", nargs="+", default=["small", "large"])
    parser.add_argument("-v", "--verbose", action="store_true", help="show the steps' log")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    print(f"python {sys.version.split()[0]}, target {TARGET.description}, "
          f"{len(os.sched_getaffinity(0))} cores, load {os.getloadavg()[0]:.2f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, LocalAwsEndpoint() as endpoint:
        endpoint.ensure_bucket(BUCKET)
        for project in args.projects:
            bench_project(project, Path(tmp) / project, endpoint)
    print(f"\nload {os.getloadavg()[0]:.2f} at the end. full / raw below 1: faster than the "
          f"raw tools. build includes the bucket check before it.")  # fmt: skip


if __name__ == "__main__":
    main()
