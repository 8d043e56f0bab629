"""Packaging speed, size, memory and reproducibility on the large reference tree, in one run.

    .venv/bin/python benchmarks/bench_package.py              # the defaults, 2-3 minutes here
    .venv/bin/python benchmarks/bench_package.py --zipfile    # also zipfile levels 9 and 6
    .venv/bin/python benchmarks/bench_package.py --backends   # raw deflate per backend/level

Copies ``shared/bench/large`` into ``--work`` (default: a folder under the system temp dir,
kept between runs) and builds it once with the tool, as ``layer-builder build --project
<copy>`` does (uv, python3.12 x86_64, no bytecode); a later run reuses that tree through the
build record. Then, on the same files and in the same run:

- ``zip -r -9 -X -q`` of the tree: the baseline every ratio is taken against;
- ``PackageStep`` with its defaults (libdeflate level 6, every core), then with one worker
  (the sha256 must not change), then with the other backend (zlib level 6, every core);
- the second run with nothing changed (incremental), the same files copied into a new tree
  (new inodes: every file is read once), and ``--slim`` under Lambda's limit.

Each ``PackageStep`` run is a child process whose process tree's peak RSS is sampled (see
``_measure.py`` for the method). Wall-clock on a shared machine: compare the ratios within
one run, not figures across runs; the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from _measure import bench_dir, run_sampled

RAISED_LIMIT = 1_000_000_000  # the large tree is over Lambda's limit unless slimmed
LAMBDA_LIMIT = 262_144_000


def build_tree(work: Path) -> Path:
    """The built tree of a copy of ``large`` in ``work``, made by ``layer-builder build``."""
    project = work / "large"
    source = bench_dir() / "large"
    if not project.is_dir():
        shutil.copytree(source, project)
    shutil.copy2(source / "requirements.txt", project / "requirements.txt")
    cli = Path(sys.executable).with_name("layer-builder")
    process = subprocess.run(
        [str(cli), "build", "--project", str(project), "--python", "3.12", "--arch", "x86_64",
         "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return Path(json.loads(process.stdout)["dir_python"])


def files_of(dir_python: Path) -> list[Path]:
    return sorted(p for p in dir_python.rglob("*") if p.is_file())


def zip_cli(dir_python: Path, out: Path) -> float:
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(["zip", "-r", "-9", "-X", "-q", str(out), "python"], cwd=dir_python.parent,
                   check=True)  # fmt: skip
    return time.perf_counter() - started


def zipfile_single(dir_python: Path, out: Path, level: int) -> float:
    started = time.perf_counter()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for path in files_of(dir_python):
            info = zipfile.ZipInfo(f"python/{path.relative_to(dir_python).as_posix()}")
            info.compress_type = zipfile.ZIP_DEFLATED
            if hasattr(info, "compress_level"):  # the per-entry level, Python 3.13 on
                info.compress_level = level
            else:
                info._compresslevel = level  # type: ignore[attr-defined]  # 3.10-3.12
            info.external_attr = 0o100644 << 16
            with path.open("rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return time.perf_counter() - started


def compare_backends(dir_python: Path, work: Path) -> None:
    """Raw deflate of every member, one thread, per backend and level (stored when deflate
    does not shrink a member), next to ``zip -r -9`` of the same files in the same run."""
    import zlib

    import deflate

    zip9 = work / "zip9.zip"
    seconds = zip_cli(dir_python, zip9)
    print(f"  zip -r -9 -X -q: {seconds:.2f} s, {zip9.stat().st_size:,} bytes (whole zip)")
    datas = [p.read_bytes() for p in files_of(dir_python)]
    headers = zip9.stat().st_size - sum(i.compress_size for i in zipfile.ZipFile(zip9).infolist())

    def report(label: str, compress: Any) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        size = sum(min(len(d), len(compress(d))) for d in datas)
        print(f"  {label}, one thread: {time.perf_counter() - started:.2f} s "
              f"(cpu {time.thread_time() - cpu:.2f} s), {size:,} bytes of member data, "
              f"~{(size + headers) / zip9.stat().st_size:.4f}x zip -9")  # fmt: skip

    def zlib_at(level: int) -> Any:
        def compress(data: bytes) -> bytes:
            compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
            return compressor.compress(data) + compressor.flush()

        return compress

    for level in (1, 4, 5, 6, 7, 9):
        report(f"libdeflate level {level}",
               lambda d, level=level: deflate.deflate_compress(d, level))  # fmt: skip
    for level in (6, 9):
        report(f"zlib {zlib.ZLIB_RUNTIME_VERSION} level {level}", zlib_at(level))
    for module_name, label, levels in (
        ("zlib_ng.zlib_ng", "zlib-ng", [6, 9]),
        ("isal.isal_zlib", "isal", [2, 3]),
    ):
        try:
            module = __import__(module_name, fromlist=["x"])
        except ImportError:
            print(f"  ({label} not installed: pip install {label} to compare it)")
            continue
        for level in levels:
            report(f"{label} level {level}",
                   lambda d, m=module, lv=level: m.compress(d, lv)[2:-4])  # fmt: skip


def child(args: argparse.Namespace) -> None:
    """One PackageStep run, in this process; prints its figures as JSON."""
    from layer_builder import BuildResult, LayerTarget, Manifest, PackageOptions, PackageStep
    from layer_builder.archive.deflate import backend_identity
    from layer_builder.model.distributions import find_distributions

    dir_python = Path(args.tree)
    build = BuildResult(
        dir_python=dir_python,
        manifest=Manifest.from_file(bench_dir() / "large" / "requirements.txt"),
        target=LayerTarget("3.12", "x86_64"),
        distributions=find_distributions(dir_python),
        installer="uv-pip",
    )
    settings: dict[str, Any] = {"max_unzipped_size": args.limit, "slim": args.slim,
                                "workers": args.workers}  # fmt: skip
    if args.backend:
        settings["backend"] = args.backend
    options = PackageOptions(**settings)
    started = time.perf_counter()
    result = PackageStep(Path(args.out), options).run(build)
    seconds = time.perf_counter() - started
    figures = {
        "seconds": seconds,
        "identity": backend_identity(options.backend, options.compresslevel),
        "sha256": result.sha256,
        "zip_size": result.zip_size,
        "unzipped_size": result.unzipped_size,
        "reused": result.reused,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "saved": sum(s.bytes_saved for s in result.savings),
    }
    print(json.dumps(figures))


def ours(tree: Path, out: Path, **options: Any) -> dict[str, Any]:
    """A PackageStep run in a child process, with its process tree's peak RSS."""
    command = [sys.executable, __file__, "--child", "--tree", str(tree), "--out", str(out)]
    for key, value in options.items():
        if value is True:
            command.append(f"--{key}")
        elif value is not False and value is not None:
            command += [f"--{key}", str(value)]
    stdout, _, peak = run_sampled(command)
    figures: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    figures["tree_peak_mb"] = peak
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "lb-bench-package"),
                        help="where the copy of large is built and kept")  # fmt: skip
    parser.add_argument("--zipfile", action="store_true",
                        help="also zipfile at levels 9 and 6, one thread (50 s)")  # fmt: skip
    parser.add_argument("--backends", action="store_true",
                        help="only compare raw deflate backends and levels")  # fmt: skip
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--backend", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--slim", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=RAISED_LIMIT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    dir_python = build_tree(work)
    if args.backends:
        compare_backends(dir_python, work)
        return
    files = files_of(dir_python)
    unzipped = sum(p.stat().st_size for p in files)
    cores = len(os.sched_getaffinity(0))
    zips = Path(tempfile.mkdtemp(prefix="lb-bench-zips-"))
    print(f"tree: {dir_python}: {len(files)} files, {unzipped:,} bytes; {cores} cores; load "
          f"{os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}", flush=True)  # fmt: skip
    rows: list[tuple[str, float, int, str]] = []

    def row(name: str, seconds: float, size: int, note: str = "") -> None:
        rows.append((name, seconds, size, note))
        print(f"  {name}: {seconds:.2f} s, {size:,} bytes {note}", flush=True)

    def memory(figures: dict[str, Any]) -> str:
        return (f"tree peak {figures['tree_peak_mb']:.0f} MB sampled, main "
                f"{figures['maxrss_mb']:.0f} MB high-water")  # fmt: skip

    row("zip -r -9 -X -q", zip_cli(dir_python, zips / "zip9.zip"),
        (zips / "zip9.zip").stat().st_size)  # fmt: skip
    if args.zipfile:
        for level in (9, 6):
            seconds = zipfile_single(dir_python, zips / f"zf{level}.zip", level)
            row(f"zipfile level {level}, 1 thread", seconds,
                (zips / f"zf{level}.zip").stat().st_size)  # fmt: skip

    digests: dict[str, set[str]] = {}
    out = zips / "ours.zip"
    default = ours(dir_python, out)
    identity = default["identity"]
    digests.setdefault(identity, set()).add(default["sha256"])
    row(f"PackageStep defaults ({identity}), {cores} workers", default["seconds"],
        default["zip_size"], f"({memory(default)})")  # fmt: skip
    again = ours(dir_python, out)
    digests[identity].add(again["sha256"])
    row("  second run, nothing changed", again["seconds"], again["zip_size"],
        f"(reused {again['reused']} members; {memory(again)})")  # fmt: skip
    copy = zips / "copied-tree" / "python"
    shutil.copytree(dir_python, copy)  # same files, new inodes (as pip or a rebuild leaves)
    rebuilt = ours(copy, out)
    digests[identity].add(rebuilt["sha256"])
    row("  same files in a new tree (every file read)", rebuilt["seconds"],
        rebuilt["zip_size"], f"(reused {rebuilt['reused']} members)")  # fmt: skip
    shutil.rmtree(copy.parent)
    one = ours(dir_python, zips / "one-worker.zip", workers=1)
    digests[identity].add(one["sha256"])
    row("  1 worker", one["seconds"], one["zip_size"], f"({memory(one)})")
    other = ours(dir_python, zips / "zlib.zip", backend="zlib")
    row(f"PackageStep {other['identity']}, {cores} workers", other["seconds"],
        other["zip_size"], f"({memory(other)})")  # fmt: skip
    slim = ours(dir_python, zips / "slim.zip", slim=True, limit=LAMBDA_LIMIT)
    row("PackageStep defaults, --slim (Lambda's limit)", slim["seconds"], slim["zip_size"],
        f"({slim['unzipped_size']:,} bytes unzipped, {slim['saved']:,} saved; "
        f"{memory(slim)})")  # fmt: skip

    base_seconds, base_size = rows[0][1], rows[0][2]
    print(f"\nload {os.getloadavg()[0]:.2f} at the end\n")
    print("| how | time | vs zip -9 | size | size vs zip -9 |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds, size, note in rows:
        # A slimmed zip holds fewer files than zip -9's: its size is no like-for-like ratio.
        ratio = "(fewer files)" if "--slim" in name else f"{size / base_size:.4f}x"
        print(f"| {name.strip()} {note} | {seconds:.2f} s | {base_seconds / seconds:.1f}x | "
              f"{size / 1e6:.2f} MB | {ratio} |")  # fmt: skip
    for identity, seen in digests.items():
        state = "identical" if len(seen) == 1 else f"DIFFERENT ({len(seen)} digests)"
        print(f"\nsha256 across worker counts, reruns and a copied tree, {identity}: {state} "
              f"({next(iter(seen))[:16]}...)")  # fmt: skip
    shutil.rmtree(zips, ignore_errors=True)


if __name__ == "__main__":
    main()
