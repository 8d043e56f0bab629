"""Start-up, the small workload against the raw tools, and the import smoke test's share.

    .venv/bin/python benchmarks/bench_startup.py                 # start-up, small, no-op run
    /tmp/venv312/bin/python benchmarks/bench_startup.py --large  # also large --slim (Python 3.12)

In one run, on this machine:

- **start-up**: ``layer-builder --version``, ``--help`` and ``build --help`` (the console script
  of this interpreter's environment) next to ``python -c pass`` (the same interpreter), in
  interleaved rounds: the best and the median of ``--repeat`` runs each;
- **small**: ``layer-builder build`` then ``layer-builder package`` (two CLI processes, start-up
  included, from an empty build folder) on a copy of ``shared/bench/small`` for python3.12
  x86_64, next to the raw tools: ``uv pip install --target`` with exactly the build's command
  (``UvPipInstaller.install_command``: the same platform flags, hashes, ``--link-mode copy``)
  then ``zip -r -9 -X -q``, in interleaved rounds; and the unchanged rerun of both commands;
- **unchanged run**: ``layer-builder run`` on the same copy against the embedded moto server
  on 127.0.0.1 (``AWS_ENDPOINT_URL``), once to publish, then again with nothing changed (the
  instant no-op): its wall time, its imports (``-X importtime``), and where its time goes
  (``cProfile``: the AWS calls, making the clients);
- **large** (``--large``; the smoke test needs the target's Python on the host, and large's
  pins need 3.12): ``LayerWorkflow.run()`` with ``--slim`` for python3.12 x86_64 on a copy of
  ``shared/bench/large`` against the embedded moto server, each step timed by its hook, with
  the smoke test's own time and the part of it after the zip was written; the unchanged
  ``package`` rerun (in-process and as a CLI process) and the unchanged ``run``; and the first
  ``package`` with and without the smoke test, from no zip, in alternation.

Wall-clock on a shared machine (2 cores here): compare figures within one run.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import pstats
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from _measure import bench_dir

from layer_builder import (
    LayerTarget,
    LayerWorkflow,
    LocalAwsEndpoint,
    Manifest,
    PackageOptions,
    PackageStep,
    UvPipInstaller,
)

TARGET = LayerTarget(python_version="3.12", architecture="x86_64")
BUCKET = "layer-builder-bench-startup"
CLI = str(Path(sys.executable).with_name("layer-builder"))
#: The commands' environment: a user's shell, where Python keeps its bytecode cache (a
#: sandbox may set PYTHONDONTWRITEBYTECODE, and an editable install then compiles every
#: module of the project at each start).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def interleaved(
    repeat: int,
    commands: dict[str, Callable[[], object]],
    cpu: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Every wall time of each function, the functions taking turns in each round; with
    ``cpu``, also the CPU seconds (user + system) of the processes each one waited for."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            command()
            times[name].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if cpu is not None:
                used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                cpu.setdefault(name, []).append(used)
    return times


def run(
    command: Sequence[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None
) -> str:
    process = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        env=ENV if env is None else env,
        cwd=cwd,
        check=False,
    )
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{process.stderr}")
    return process.stdout


def fresh_copy(name: str, into: Path) -> Path:
    destination = into / name
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(bench_dir() / name, destination, ignore=shutil.ignore_patterns("build"))
    return destination


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def bench_startup(repeat: int) -> None:
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "layer-builder --version": [CLI, "--version"],
        "layer-builder --help": [CLI, "--help"],
        "layer-builder build --help": [CLI, "build", "--help"],
    }
    times = interleaved(repeat, {name: functools.partial(run, c) for name, c in commands.items()})
    print(f"\n### Start-up ({repeat} runs each, interleaved)\n")
    print("| command | best | median | best minus `python -c pass` |")
    print("|---|---:|---:|---:|")
    base = min(times["python -c pass"])
    for name, values in times.items():
        extra = min(values) - base
        print(f"| `{name}` | {ms(min(values))} | {ms(statistics.median(values))} | "
              f"{ms(extra)} |")  # fmt: skip


def bench_small(work: Path, repeat: int) -> Path:
    project = fresh_copy("small", work)
    manifest = Manifest.from_project(project)
    raw = work / "raw-small"
    raw_command = UvPipInstaller().install_command(
        manifest.path, TARGET, raw / "python", require_hashes=True
    )
    at = raw_command.index("--python")
    typed = raw_command[:at] + raw_command[at + 2 :]  # uv picks an interpreter on PATH
    flags = ["--project", str(project), "--python", TARGET.python_version, "-q"]

    def raw_tools(command: list[str] = raw_command) -> None:
        shutil.rmtree(raw, ignore_errors=True)
        run(command, cwd=project)  # from the project folder, as a user would
        run(["zip", "-r", "-9", "-X", "-q", "layer.zip", "python"], cwd=raw)

    def ours() -> None:
        shutil.rmtree(project / "build", ignore_errors=True)
        run([CLI, "build", *flags])
        run([CLI, "package", *flags])

    def ours_unchanged() -> None:
        run([CLI, "build", *flags])
        run([CLI, "package", *flags])

    ours()  # warm uv's cache and the file system
    raw_tools()
    cpu: dict[str, list[float]] = {}
    commands: dict[str, Callable[[], object]] = {
        "raw": raw_tools,
        "raw, typed": functools.partial(raw_tools, typed),
        "ours": ours,
        "ours, nothing changed": ours_unchanged,
    }
    times = interleaved(repeat, commands, cpu)
    best = {name: min(values) for name, values in times.items()}
    median = {name: statistics.median(values) for name, values in times.items()}
    least = {name: min(values) for name, values in cpu.items()}
    print(f"\n### small: build + package against the raw tools ({repeat} rounds, interleaved)\n")
    print("| what | best | median | best / raw | CPU (user + sys), least | CPU / raw |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = [
        ("raw: `uv pip install --target` (the build's command) + `zip -r -9 -X -q`", "raw"),
        (
            "raw, without the build's `--python` (uv looks for an interpreter on PATH)",
            "raw, typed",
        ),
        ("ours: `layer-builder build` + `layer-builder package` (2 processes)", "ours"),
        ("ours, nothing changed (build record and zip reused)", "ours, nothing changed"),
    ]
    for label, name in rows:
        print(f"| {label} | {best[name]:.2f} s | {median[name]:.2f} s | "
              f"{best[name] / best['raw']:.2f}x | {least[name]:.2f} s | "
              f"{least[name] / least['raw']:.2f}x |")  # fmt: skip
    return project


def _imports_ms(stderr: str, roots: tuple[str, ...] = ()) -> float:
    """Milliseconds of imports in an ``-X importtime`` report: all of them (the top-level
    entries), or the outermost imports of the packages ``roots``."""
    entries = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)", line)
        if match:
            entries.append((int(match[1]), len(match[2]), match[3]))
    if not roots:
        return sum(c for c, depth, _ in entries if depth == 0) / 1000
    total = 0
    stack: list[tuple[int, bool]] = []  # (depth, inside one of roots), parents first
    for cumulative, depth, name in reversed(entries):  # a parent is printed after its imports
        while stack and stack[-1][0] >= depth:
            stack.pop()
        inside = bool(stack) and stack[-1][1]
        ours = name.split(".")[0] in roots
        if ours and not inside:
            total += cumulative
        stack.append((depth, inside or ours))
    return total / 1000


#: Runs the CLI and prints the AWS operations it called (botocore's debug log), in order.
OPERATIONS = """
import logging, sys
from layer_builder.cli.main import main
called = []
class Operations(logging.Handler):
    def emit(self, record):
        message = record.getMessage()
        if message.startswith("Making request for OperationModel(name="):
            called.append(message.split("name=", 1)[1].split(")", 1)[0])
log = logging.getLogger("botocore.endpoint")
log.addHandler(Operations())
log.setLevel(logging.DEBUG)
code = main(sys.argv[1:])
print("OPERATIONS " + " ".join(called))
sys.exit(code)
"""


def bench_unchanged_run(project: Path, repeat: int) -> None:
    with LocalAwsEndpoint() as endpoint:
        endpoint.ensure_bucket(BUCKET)
        env = {
            **ENV,
            "AWS_ENDPOINT_URL": endpoint.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        }
        layer = f"bench_startup_{uuid.uuid4().hex[:6]}"
        s3dir = f"s3://{BUCKET}/{layer}/lambda/"
        command = ["run", "--project", str(project), "--layer-name", layer, "--s3dir", s3dir,
                   "--python", TARGET.python_version, "-q"]  # fmt: skip
        run([CLI, *command], env)
        times = interleaved(repeat, {"run": lambda: run([CLI, *command], env)})["run"]
        module = [sys.executable, "-m", "layer_builder.cli", *command]
        traced = subprocess.run(
            [sys.executable, "-X", "importtime", *module[1:]],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        imports = _imports_ms(traced.stderr)
        aws_imports = _imports_ms(traced.stderr, ("boto3", "botocore", "s3pathlib"))
        with tempfile.NamedTemporaryFile(suffix=".prof") as profile:
            run([sys.executable, "-m", "cProfile", "-o", profile.name, *module[1:]], env)
            stats = pstats.Stats(profile.name)
        listed = run([sys.executable, "-c", OPERATIONS, *command], env)
        operations = listed.rsplit("OPERATIONS ", 1)[1].split()
        total = max(row[3] for row in stats.stats.values())  # type: ignore[attr-defined]
        calls = [(k, v) for k, v in stats.stats.items()  # type: ignore[attr-defined]
                 if k[2] == "_make_api_call" and k[0].endswith("botocore/client.py")]  # fmt: skip
        clients = [v for k, v in stats.stats.items()  # type: ignore[attr-defined]
                   if k[2] == "create_client" and k[0].endswith("botocore/session.py")]  # fmt: skip
    print(f"\n### small: the unchanged `run` (instant no-op, moto on 127.0.0.1, {repeat} runs)\n")
    print(f"- wall time: best {ms(min(times))}, median {ms(statistics.median(times))}")
    print(f"- imports (`-X importtime`): {imports:.0f} ms, of which boto3, botocore and "
          f"s3pathlib {aws_imports:.0f} ms")  # fmt: skip
    if calls:
        count, seconds = calls[0][1][1], calls[0][1][3]
        print(f"- AWS calls: {', '.join(operations)}")
        print(f"- under cProfile ({total:.2f} s in all): {count} AWS calls "
              f"{ms(seconds)}, making {sum(v[1] for v in clients)} clients "
              f"{ms(sum(v[3] for v in clients))}")  # fmt: skip


def _remove_zip(workflow: LayerWorkflow) -> None:
    zip_path = workflow.layout.path_layer_zip
    for path in zip_path.parent.glob(zip_path.name + "*"):
        if path.is_file():
            path.unlink()


def bench_large(work: Path, repeat: int) -> None:
    if sys.version_info[:2] != (3, 12):
        print("\n### large: skipped (the smoke test needs a Python 3.12 host)")
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_pipeline import TimedWorkflow

    project = fresh_copy("large", work)
    slim = PackageOptions(slim=True)
    with LocalAwsEndpoint() as endpoint:
        endpoint.ensure_bucket(BUCKET)
        layer = f"bench_large_{uuid.uuid4().hex[:6]}"

        def workflow(options: PackageOptions = slim, kind: type = TimedWorkflow) -> TimedWorkflow:
            return kind(project, layer, f"s3://{BUCKET}/{layer}/lambda/", TARGET,
                        package_options=options, aws=endpoint.clients())  # fmt: skip

        first = workflow()
        result = first.run()
        assert result.package is not None and result.package.smoke_test == "passed"
        steps = first.seconds()
        smoke, waited = result.package.smoke_test_seconds, result.package.smoke_test_wait_seconds
        again = workflow(kind=LayerWorkflow)
        started = time.perf_counter()
        rerun = again.package(again.last_build())
        package_again = time.perf_counter() - started
        cli_again = interleaved(repeat, {"cli": lambda: run(
            [CLI, "package", "--project", project, "--python", "3.12", "--slim", "-q"]
        )})["cli"]  # fmt: skip
        noop = workflow()
        noop.run()
        noop_seconds = noop.stamps["end"] - noop.stamps["start"]

        def package(options: PackageOptions) -> Callable[[], object]:
            def once() -> None:
                step = workflow(options, LayerWorkflow)
                _remove_zip(step)
                PackageStep(step.layout.path_layer_zip, options).run(step.last_build())

            return once

        without = PackageOptions(slim=True, smoke_test=False)
        pair = interleaved(repeat, {"with": package(slim), "without": package(without)})
    print("\n### large, `--slim`, python3.12 host and target: the smoke test's share\n")
    print(f"- full `run`: {steps['run']:.2f} s (build {steps['build']:.2f} s, package "
          f"{steps['package']:.2f} s, upload {steps['upload']:.2f} s, publish "
          f"{steps['publish']:.2f} s)")  # fmt: skip
    print(f"- its smoke test: {smoke:.2f} s from start to verdict, {waited:.2f} s of it after "
          f"the zip was written: {100 * waited / steps['package']:.0f} % of package, "
          f"{100 * waited / steps['run']:.0f} % of the run")  # fmt: skip
    print(
        f"- unchanged `package` rerun: {package_again:.2f} s in-process (smoke test: "
        f"{rerun.smoke_test}), {min(cli_again):.2f} s as a CLI process (best of {repeat})"
    )
    print(f"- unchanged `run` (the instant no-op: nothing packaged): {noop_seconds:.2f} s")
    print(f"- first `package` from no zip, {repeat} rounds: with the smoke test best "
          f"{min(pair['with']):.2f} s (median {statistics.median(pair['with']):.2f} s), "
          f"without best {min(pair['without']):.2f} s (median "
          f"{statistics.median(pair['without']):.2f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs of each command")
    parser.add_argument("--large", action="store_true", help="also large --slim (Python 3.12)")
    parser.add_argument("--only-large", action="store_true", help="large --slim alone")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # not the size warning of large
    load = os.getloadavg()[0]
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {load:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        work = Path(tmp)
        if not args.only_large:
            bench_startup(args.repeat * 2)
            project = bench_small(work, args.repeat)
            bench_unchanged_run(project, args.repeat)
        if args.large or args.only_large:
            bench_large(work, max(3, args.repeat // 3))
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
