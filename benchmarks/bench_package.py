"""Packaging speed, size, memory and reproducibility on the large reference tree, in one run.

    .venv/bin/python benchmarks/bench_package.py [--tree DIR] [--skip-slow]
    .venv/bin/python benchmarks/bench_package.py --backends   # raw deflate backends only

Builds ``../shared/bench/large`` once (uv, python3.12 x86_64, no bytecode) into ``--tree``
(default: a folder under the system temp dir, kept between runs), then measures on the same
files:

- ``zip -r -9 -X -q`` (what the seed did), and single-threaded ``zipfile`` at levels 9 and 6
  (sorted, fixed timestamps: what a careful pure-Python packager does);
- ``PackageStep`` with every core: zlib level 6 (the default) and libdeflate level 6 (extra
  ``[fast]``), each also with one worker (the sha256 must not change), then a second run
  with nothing changed (incremental), and ``--slim`` (the tree must fit Lambda's limit);
- the peak RSS of each ``PackageStep`` run, measured in a child process (the parent and, for
  libdeflate, its worker processes).

Wall-clock on a shared machine: compare the ratios within one run, not across runs.
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

REQUIREMENTS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "large"
UV = Path(sys.executable).with_name("uv")
RAISED_LIMIT = 1_000_000_000  # the large tree is over Lambda's limit unless slimmed


def build_tree(tree: Path) -> Path:
    """``tree/python``, installed once with uv for python3.12 x86_64."""
    dir_python = tree / "python"
    marker = tree / "requirements.txt"
    wanted = (REQUIREMENTS / "requirements.txt").read_bytes()
    if dir_python.is_dir() and marker.is_file() and marker.read_bytes() == wanted:
        return dir_python
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    uv = str(UV) if UV.is_file() else shutil.which("uv") or "uv"
    subprocess.run(
        [uv, "pip", "install", "--target", str(dir_python), "--python-platform",
         "x86_64-manylinux_2_34", "--python-version", "3.12", "--only-binary", ":all:",
         "--no-compile-bytecode", "-q", "-r", str(REQUIREMENTS / "requirements.txt")],
        check=True,
    )  # fmt: skip
    marker.write_bytes(wanted)
    return dir_python


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


def compare_backends(dir_python: Path) -> None:
    """Raw deflate of every member, one thread, per backend installed (store when bigger)."""
    import zlib

    candidates: list[tuple[str, Any, list[int]]] = [("zlib", zlib, [6, 9])]
    for module_name, label, levels in (
        ("zlib_ng.zlib_ng", "zlib-ng", [6, 9]),
        ("isal.isal_zlib", "isal", [2, 3]),
    ):
        try:
            candidates.append((label, __import__(module_name, fromlist=["x"]), levels))
        except ImportError:
            print(f"  ({label} not installed: pip install {label} to compare it)")
    datas = [p.read_bytes() for p in files_of(dir_python)]
    for label, module, levels in candidates:
        for level in levels:
            started = time.perf_counter()
            size = 0
            for data in datas:
                compressor = module.compressobj(level, zlib.DEFLATED, -15)
                size += min(len(data), len(compressor.compress(data) + compressor.flush()))
            print(f"  {label} level {level}, one thread: {time.perf_counter() - started:.2f} s, "
                  f"{size:,} bytes of member data")  # fmt: skip
    try:
        import deflate
    except ImportError:
        return
    for level in (6, 9):
        started = time.perf_counter()
        size = sum(min(len(d), len(deflate.deflate_compress(d, level))) for d in datas)
        print(f"  libdeflate level {level}, one thread: {time.perf_counter() - started:.2f} s, "
              f"{size:,} bytes of member data")  # fmt: skip


def child(args: argparse.Namespace) -> None:
    """One PackageStep run, in this process; prints its figures as JSON."""
    from layer_builder import BuildResult, LayerTarget, Manifest, PackageOptions, PackageStep
    from layer_builder.model.distributions import find_distributions

    dir_python = Path(args.tree) / "python"
    build = BuildResult(
        dir_python=dir_python,
        manifest=Manifest.from_file(REQUIREMENTS / "requirements.txt"),
        target=LayerTarget("3.12", "x86_64"),
        distributions=find_distributions(dir_python),
        installer="uv (bench)",
    )
    options = PackageOptions(
        compresslevel=args.level, backend=args.backend, workers=args.workers,
        incremental=args.incremental, max_unzipped_size=args.limit, slim=args.slim,
    )  # fmt: skip
    started = time.perf_counter()
    result = PackageStep(Path(args.out), options).run(build)
    seconds = time.perf_counter() - started
    figures = {
        "seconds": seconds,
        "sha256": result.sha256,
        "zip_size": result.zip_size,
        "unzipped_size": result.unzipped_size,
        "reused": result.reused,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "largest": [(d.name, d.unzipped_size) for d in result.distributions[:3]],
        "saved": sum(s.bytes_saved for s in result.savings),
    }
    print(json.dumps(figures))


def ours(tree: Path, out: Path, **options: Any) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", "--tree", str(tree), "--out", str(out)]
    for key, value in options.items():
        if value is True:
            command.append(f"--{key}")
        elif value is not False and value is not None:
            command += [f"--{key}", str(value)]
    process = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(process.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=str(Path(tempfile.gettempdir()) / "lb-bench-large"))
    parser.add_argument("--skip-slow", action="store_true", help="skip zip -9 and zipfile -9")
    parser.add_argument("--backends", action="store_true",
                        help="only compare the deflate backends installed (zlib, zlib-ng, "
                             "isal, libdeflate) on the members, one thread")  # fmt: skip
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--level", type=int, default=6, help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="zlib", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--incremental", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--slim", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=RAISED_LIMIT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    tree = Path(args.tree)
    dir_python = build_tree(tree)
    if args.backends:
        compare_backends(dir_python)
        return
    files = files_of(dir_python)
    unzipped = sum(p.stat().st_size for p in files)
    cores = len(os.sched_getaffinity(0))
    work = Path(tempfile.mkdtemp(prefix="lb-bench-zips-"))
    print(f"tree: {dir_python}: {len(files)} files, {unzipped:,} bytes; {cores} cores; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    rows: list[tuple[str, float, int, str]] = []

    def row(name: str, seconds: float, size: int, note: str = "") -> None:
        rows.append((name, seconds, size, note))
        print(f"  {name}: {seconds:.2f} s, {size:,} bytes {note}", flush=True)

    if not args.skip_slow:
        row("zip -r -9 -X -q", zip_cli(dir_python, work / "zip9.zip"),
            (work / "zip9.zip").stat().st_size)  # fmt: skip
        row("zipfile level 9, 1 thread", zipfile_single(dir_python, work / "zf9.zip", 9),
            (work / "zf9.zip").stat().st_size)  # fmt: skip
    row("zipfile level 6, 1 thread", zipfile_single(dir_python, work / "zf6.zip", 6),
        (work / "zf6.zip").stat().st_size)  # fmt: skip

    digests: dict[str, set[str]] = {}
    backends = ["zlib"]
    try:
        import deflate  # noqa: F401

        backends.append("libdeflate")
    except ImportError:
        print("  (libdeflate backend not installed: pip install 'lambda-layer-builder[fast]')")
    for backend in backends:
        out = work / f"ours-{backend}.zip"
        for workers in (cores, 1):
            figures = ours(tree, out, backend=backend, workers=workers)
            digests.setdefault(backend, set()).add(figures["sha256"])
            row(f"PackageStep {backend} level 6, {workers} worker(s)", figures["seconds"],
                figures["zip_size"], f"(peak RSS {figures['rss_mb']:.0f} MB, workers "
                f"{figures['children_rss_mb']:.0f} MB)")  # fmt: skip
        again = ours(tree, out, backend=backend, incremental=True)
        digests[backend].add(again["sha256"])
        row(f"PackageStep {backend}, second run, nothing changed", again["seconds"],
            again["zip_size"], f"(reused {again['reused']} members, peak RSS "
            f"{again['rss_mb']:.0f} MB)")  # fmt: skip
        if backend == "zlib":
            copy = work / "copied-tree"
            shutil.copytree(dir_python, copy / "python")  # same files, new inodes (pip-like)
            rebuilt = ours(copy, out, backend=backend, incremental=True)
            digests[backend].add(rebuilt["sha256"])
            row(f"PackageStep {backend}, same files copied to a new tree (every file read)",
                rebuilt["seconds"], rebuilt["zip_size"],
                f"(reused {rebuilt['reused']} members)")  # fmt: skip
            shutil.rmtree(copy)
    slim = ours(tree, work / "slim.zip", slim=True, limit=262_144_000, workers=cores)
    row("PackageStep zlib level 6 --slim (Lambda's limit)", slim["seconds"], slim["zip_size"],
        f"({slim['unzipped_size']:,} bytes unzipped, {slim['saved']:,} saved)")  # fmt: skip

    print("\n| how | time | vs zip -9 | size | vs zip -9 size |")
    print("|---|---|---|---|---|")
    base = rows[0] if not args.skip_slow else None
    for name, seconds, size, note in rows:
        speed = f"{base[1] / seconds:.1f}x faster" if base else ""
        ratio = f"{size / base[2]:.4f}x" if base else ""
        print(f"| {name} {note} | {seconds:.2f} s | {speed} | {size / 1e6:.2f} MB | {ratio} |")
    for backend, seen in digests.items():
        state = "identical" if len(seen) == 1 else f"DIFFERENT ({len(seen)} digests)"
        print(f"\nsha256 across worker counts and reruns, {backend}: {state} "
              f"({next(iter(seen))[:16]}...)")  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
