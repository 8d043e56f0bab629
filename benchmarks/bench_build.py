"""Time the build step for uv.lock and poetry.lock next to raw ``uv pip install --target``.

    .venv/bin/python benchmarks/bench_build.py [--repeat N] [--python 3.12] [--arch arm64]

For ``uv-app`` (``uv lock`` is run in the copy) and ``poetry-app`` of ../shared/bench, copied
to a temporary folder, in the same run:

- raw install: ``uv pip install -r <exported requirements> --target <fresh dir>`` with the
  same platform flags the build uses (``--python-platform``, ``--python-version``,
  ``--only-binary :all:``, ``--require-hashes``), the export made beforehand, untimed;
- raw export + install: the tool's export command (``uv export --locked ...`` or ``poetry
  export``) and the same install, both timed: what a careful script does by hand;
- ours 1st: ``BuildStep(..., use_cache=False).run()`` (export, install into a fresh staging
  folder, WHEEL check, swap, record) as on the first build of a pyproject.toml (uv checks
  the lock with ``--locked``);
- ours: the same once the lock was checked against this pyproject.toml (``--frozen``; a
  Poetry lock is read directly either way): a rebuild for another target or option;
- cached: ``BuildStep(...).run()`` again with the build record in place (no install).

Each figure is the best of ``--repeat`` rounds, the variants taking turns in each round, with
the installers' download caches warm (one untimed warm-up run first). Needs uv, poetry with
poetry-plugin-export, and the package index. Wall-clock on a shared machine: compare ratios
within one run.
"""

from __future__ import annotations

import argparse
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from layer_builder import LayerPathLayout, LayerTarget, Manifest
from layer_builder.installers import PoetryInstaller, UvInstaller, find_uv
from layer_builder.installers.uv_pip import UvPipInstaller
from layer_builder.steps.build import BuildStep

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
PROJECTS = ("uv-app", "poetry-app")


def best_interleaved(repeat: int, funcs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """The best time of each function, the functions taking turns in every round so that
    the load of a shared machine hits them alike."""
    best = dict.fromkeys(funcs, float("inf"))
    for _ in range(repeat):
        for name, func in funcs.items():
            started = time.perf_counter()
            func()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def copy_project(name: str, root: Path) -> Path:
    project = root / name
    shutil.copytree(BENCH / name, project)
    for path in [project, *project.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    if name == "uv-app":
        subprocess.run([str(find_uv()), "lock", "-q"], cwd=project, check=True)
    return project


def exporter(name: str) -> UvInstaller | PoetryInstaller:
    return UvInstaller() if name == "uv-app" else PoetryInstaller()


def measure(name: str, root: Path, target: LayerTarget, repeat: int) -> dict[str, float]:
    project = copy_project(name, root)
    manifest = Manifest.from_project(project)
    layout = LayerPathLayout(project)
    requirements = root / f"{name}-requirements.txt"
    exporter(name).export(manifest, requirements)
    pip = UvPipInstaller()
    raw_command = pip.install_command(requirements, target, root / "raw", require_hashes=True)

    def raw_install() -> None:
        shutil.rmtree(root / "raw", ignore_errors=True)
        subprocess.run(raw_command, cwd=project, check=True, capture_output=True)

    def raw_export_and_install() -> None:
        exported = root / f"{name}-again.txt"
        subprocess.run(
            exporter(name).export_command(exported), cwd=project, check=True, capture_output=True
        )
        raw_install()

    def ours() -> None:
        BuildStep(target, manifest, layout, use_cache=False).run()

    def ours_first() -> None:
        # As on the first build of this pyproject.toml: uv checks the lock (--locked).
        (layout.dir_build / "uv-lock-checked").unlink(missing_ok=True)
        ours()

    def cached() -> None:
        assert BuildStep(target, manifest, layout).run().cached

    ours()  # warm the download caches and the interpreter's imports
    raw_install()
    return best_interleaved(
        repeat,
        {
            "raw_install": raw_install,
            "raw_export_install": raw_export_and_install,
            "ours_first": ours_first,
            "ours": ours,
            "cached": cached,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--python", default="3.12")
    parser.add_argument("--arch", default="arm64")
    args = parser.parse_args()
    target = LayerTarget(args.python, args.arch)
    print(f"target: {target.description}; best of {args.repeat}; seconds")
    header = (
        f"{'project':<11} {'raw install':>11} {'raw exp+inst':>12} {'ours 1st':>8} {'ours':>6} "
        f"{'ours/raw inst':>13} {'1st/raw exp+inst':>16} {'cached':>7}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        for name in PROJECTS:
            r = measure(name, Path(tmp), target, args.repeat)
            print(
                f"{name:<11} {r['raw_install']:>11.2f} {r['raw_export_install']:>12.2f} "
                f"{r['ours_first']:>8.2f} {r['ours']:>6.2f} "
                f"{r['ours'] / r['raw_install']:>12.2f}x "
                f"{r['ours_first'] / r['raw_export_install']:>15.2f}x {r['cached']:>7.3f}"
            )


if __name__ == "__main__":
    main()
