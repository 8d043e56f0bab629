"""Build, package and import layers of real projects, next to plain uv on the same locks.

    .venv/bin/python benchmarks/real_world.py                       # every project, ~1 h here
    .venv/bin/python benchmarks/real_world.py --only pii-lambda --targets 3.12/x86_64
    .venv/bin/python benchmarks/real_world.py --slim --output /tmp/real.md --json /tmp/real.json
    .venv/bin/python benchmarks/real_world.py path/to/my-project   # a folder of your own too

For every project of ``../shared/corpus`` and ``benchmarks/corpus`` (and any folder given on
the command line), for each target (default python3.12 on x86_64 and arm64), from the host as
it is (the tool's own interpreter; no other interpreter builds anything):

- **layer-builder**: a fresh copy of the project (index addresses put back, ``_corpus.py``),
  then ``layer-builder build --json`` and ``layer-builder package --json`` as child processes;
  the result is ``ok`` or the tool's one error line, the seconds of both, and the sizes that
  ``package`` reports. With ``--slim``, ``package --slim --strip`` of the same build as well.
- **imports** (x86_64 layers): ``layer.zip`` unzipped, then every top-level module of every
  distribution in it (``top_level.txt``, else the top-level names of ``RECORD``; a listed
  name absent from the tree is skipped) imported in its own child process of an interpreter
  of the target's version, started ``-I -S`` with ``sys.path`` = the layer's ``python/``, a
  folder with the runtime's boto3 (installed once per run by uv for the target), then the
  standard library: no site-packages of the interpreter and no ``.pth`` processing, as on
  Lambda, where ``/opt/python`` is a plain path entry and the runtime's own site-packages hold
  boto3. Without such an interpreter the column says so.
- **plain uv**: what a new user does without this tool, in another fresh copy, timed:
  requirements.txt as it is; ``uv export --frozen --no-dev --no-emit-project --no-hashes``
  for a uv.lock; ``poetry export -f requirements.txt --without-hashes`` for a poetry.lock;
  the ``default`` section of a Pipfile.lock written as ``name[extras]==version ; markers``
  lines (what ``pipenv requirements`` prints); a pylock.toml or a lock-less pyproject.toml
  given to uv as it is; then ``uv pip install -r <that> --target DIR --python-platform
  <x86_64|aarch64>-manylinux_2_34 --python-version 3.12`` (``manylinux_2_17`` for 3.10 and
  3.11). No ``--only-binary``: uv builds a source distribution with the host's interpreter,
  as a new user's command does, and the column counts what it built (a compiled one is then
  built for the host, not the target). Hashes are left out of both exports, so the column
  says whether the lock's pins install for the target, not whether its hashes are complete.

Nothing works around the tool: a failure is reported as the tool printed it, and one
project's failure (or a crash of this script on it) never stops the run. ``--tool-source
head`` runs the tool from ``git archive HEAD`` instead of the working tree (others may be
editing it). Results: a Markdown table on stdout (``--output`` also writes it), the full
records as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import _corpus
from _corpus import (
    UV_ARCH,
    Outcome,
    Run,
    last_line,
    manifest_kind,
    plain_uv,
    platform_flags,
    run,
    tool,
    uv_error,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TARGETS = ("3.12/x86_64", "3.12/arm64")
IMPORT_SNIPPET = (
    "import sys, importlib; sys.path[:0] = sys.argv[1:3]; importlib.import_module(sys.argv[3])"
)


@dataclass
class Row:
    project: str
    manifest: str
    target: str
    variant: str = ""
    plain: Outcome | None = None
    tool: Outcome | None = None
    unzipped: int | None = None
    zipped: int | None = None
    imports_ok: int | None = None
    import_failures: list[str] = field(default_factory=list)
    imports_note: str = ""


def tool_failure(step: str, result: Run, project: Path) -> Outcome:
    """The tool's own error line (else the last line it printed) and the output's last line,
    with the temporary project path written as ``<project>``."""
    message = result.err if result.code is None else ""
    for line in result.err.splitlines():
        if line.startswith("layer-builder: error:") and not message:
            message = line.removeprefix("layer-builder: error:").strip()
    message = message or last_line(result.err) or f"exit code {result.code}"
    # The installer's own error, printed below the tool's line (else the last line).
    others = [x.strip() for x in result.err.splitlines() if not x.startswith("layer-builder:")]
    errors = [x for x in others if x.startswith(("error:", "\u00d7", "Error:", "ERROR:"))]
    detail = errors[0] if errors else last_line("\n".join(others))
    detail = "" if detail in message else detail
    return Outcome(
        False,
        result.seconds,
        f"{step}: {message}".replace(str(project), "<project>"),
        detail.replace(str(project), "<project>")[:300],
    )


# --- imports ------------------------------------------------------------------------------


def _patch_level(path: str) -> int:
    patch = Path(path).parents[1].name.split(".")[2:3]
    return int(patch[0]) if patch and patch[0].isdigit() else -1


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` that runs (a pyenv shim may exist and fail)."""
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv"), "/root/.pyenv"]
    candidates = [shutil.which(f"python{version}") or ""]
    for root in dict.fromkeys(r for r in roots if r):
        found = glob.glob(f"{root}/versions/{version}.*/bin/python{version}")
        candidates += sorted(found, key=_patch_level, reverse=True)
    candidates += [f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]
    check = "import sys; print('%d.%d' % sys.version_info[:2])"
    for candidate in dict.fromkeys(c for c in candidates if c and os.path.exists(c)):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                [candidate, "-c", check], capture_output=True, text=True, timeout=30
            )
            if done.returncode == 0 and done.stdout.strip() == version:
                return candidate
    return None


def _record_names(record: Path) -> list[str]:
    """The top-level names a RECORD installs: packages (folders) and modules (files)."""
    names = []
    for line in record.read_text().splitlines():
        path = line.split(",")[0]
        first = path.split("/")[0]
        if "/" in path:
            names.append(first)  # numpy.libs, *.dist-info: not identifiers, dropped below
        elif first.endswith(".py"):
            names.append(first.removesuffix(".py"))
        elif ".so" in first or first.endswith(".pyd"):
            names.append(first.split(".")[0])
    return [n for n in names if n.isidentifier()]


def top_level_modules(layer: Path) -> list[tuple[str, str]]:
    """(distribution, module) for every top-level module the layer's distributions name."""
    found: list[tuple[str, str]] = []
    for info in sorted(layer.glob("*.dist-info")):
        dist = info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        names: list[str] = []
        top_level = info / "top_level.txt"
        if top_level.exists():
            names = [n.strip().replace("/", ".") for n in top_level.read_text().splitlines()]
        elif (info / "RECORD").exists():
            names = _record_names(info / "RECORD")
        for name in dict.fromkeys(n for n in names if n):
            head = name.split(".")[0]
            present = (
                (layer / head).is_dir()
                or any(layer.glob(f"{head}.py"))
                or any(layer.glob(f"{head}.*.so"))
                or any(layer.glob(f"{head}.so"))
            )
            if all(part.isidentifier() for part in name.split(".")) and present:
                found.append((dist, name))
    return list(dict.fromkeys(found))


def import_layer(zip_path: Path, python: str, boto3_dir: Path, work: Path) -> tuple[int, list[str]]:
    """Imports that worked, and ``module: error`` of those that did not."""
    unzipped = work / "unzipped"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(unzipped)
    layer = unzipped / "python"
    home = work / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "LANG": "C.UTF-8"}
    ok, failures = 0, []
    for _dist, module in top_level_modules(layer):
        command = [python, "-I", "-S", "-c", IMPORT_SNIPPET, str(layer), str(boto3_dir), module]
        result = run(command, home, 120, env)
        if result.code == 0:
            ok += 1
        elif result.code is not None and result.code < 0:
            failures.append(f"{module}: killed by signal {-result.code}")
        else:
            failures.append(f"{module}: {last_line(result.err)[:300]}")
    shutil.rmtree(unzipped, ignore_errors=True)
    return ok, failures


class Runtime:
    """The interpreter and boto3 folder per Python version, found or installed once."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.lock = threading.Lock()
        self.pythons: dict[str, str | None] = {}
        self.boto3: dict[str, Path | str] = {}

    def python(self, version: str) -> str | None:
        with self.lock:
            if version not in self.pythons:
                self.pythons[version] = find_python(version)
            return self.pythons[version]

    def boto3_dir(self, version: str) -> Path | str:
        """The folder, or why it could not be installed."""
        with self.lock:
            if version not in self.boto3:
                folder = self.work / f"runtime-boto3-{version}"
                command = [tool("uv"), "pip", "install", "--target", str(folder), "boto3"]
                result = run(command + platform_flags(version, "x86_64"), self.work, 600)
                self.boto3[version] = folder if result.code == 0 else uv_error(result)
            return self.boto3[version]


# --- one project --------------------------------------------------------------------------


@dataclass
class Options:
    targets: list[tuple[str, str]]
    slim: bool
    plain: bool
    imports: bool
    timeout: float
    keep: bool
    tool_env: dict[str, str] | None


def layer_builder(
    command: str,
    project: Path,
    python: str,
    arch: str,
    extra: list[str],
    options: Options,
    cwd: Path,
) -> tuple[Run, dict]:
    argv = [tool("layer-builder"), command, "--project", str(project), "--python", python]
    argv += ["--arch", arch, "--json", *extra]
    result = run(argv, cwd, options.timeout, options.tool_env)
    data: dict = {}
    if result.code == 0:
        with contextlib.suppress(json.JSONDecodeError):
            data = json.loads(result.out)
    return result, data


def check_imports(row: Row, zip_path: Path, python: str, runtime: Runtime, work: Path) -> None:
    interpreter = runtime.python(python)
    if interpreter is None:
        row.imports_note = f"no python{python} on this host"
        return
    boto3 = runtime.boto3_dir(python)
    if isinstance(boto3, str):
        row.imports_note = f"runtime boto3 not installed: {boto3}"
        return
    row.imports_ok, row.import_failures = import_layer(zip_path, interpreter, boto3, work)


def run_target(
    source: Path,
    name: str,
    manifest: str,
    kind: str,
    python: str,
    arch: str,
    options: Options,
    runtime: Runtime,
    work: Path,
) -> list[Row]:
    target = f"{python}/{arch}"
    row = Row(name, manifest, target)
    rows = [row]
    if options.plain:
        plain_copy = _corpus.materialize(source, work / "plain")
        row.plain = plain_uv(plain_copy, kind, python, arch, options.timeout)
    project = _corpus.materialize(source, work / "project")
    built, _ = layer_builder("build", project, python, arch, [], options, work)
    if built.code != 0:
        row.tool = tool_failure("build", built, project)
        return rows
    layers: list[tuple[Row, Path]] = []
    variants = [("", [])] + ([("--slim --strip", ["--slim", "--strip"])] if options.slim else [])
    for variant, flags in variants:  # the slim variant too when the default is over the limit
        current = row if not variant else Row(name, manifest, target, variant=variant)
        if variant:
            rows.append(current)
        packaged, data = layer_builder("package", project, python, arch, flags, options, work)
        if packaged.code != 0:
            current.tool = tool_failure("package", packaged, project)
        else:
            current.tool = Outcome(True, packaged.seconds)
            current.unzipped, current.zipped = data.get("unzipped_size"), data.get("zip_size")
            layers.append((current, work / f"layer{len(layers)}.zip"))
            shutil.copyfile(data["path"], layers[-1][1])
    assert row.tool is not None
    row.tool.seconds += built.seconds  # the default row counts build + package
    if options.imports and arch == "x86_64":
        for layer_row, zip_path in layers:
            check_imports(layer_row, zip_path, python, runtime, work)
    return rows


def run_project(source: Path, options: Options, runtime: Runtime, work_root: Path) -> list[Row]:
    kind, manifest = manifest_kind(source)
    rows: list[Row] = []
    for python, arch in options.targets:
        work = work_root / f"{source.name}-{python}-{arch}"
        work.mkdir(parents=True, exist_ok=True)
        print(f"[real-world] {source.name} {python}/{arch} ...", file=sys.stderr, flush=True)
        try:
            rows += run_target(
                source, source.name, manifest, kind, python, arch, options, runtime, work
            )
        except Exception as error:  # one project's crash must not stop the run
            rows.append(
                Row(
                    source.name,
                    manifest,
                    f"{python}/{arch}",
                    tool=Outcome(False, 0.0, f"benchmark error: {error!r}"),
                )
            )
        finally:
            if not options.keep:
                shutil.rmtree(work, ignore_errors=True)
        done = rows[-1].tool
        state = "ok" if done and done.ok else f"failed: {done.message if done else ''}"
        print(f"[real-world] {source.name} {python}/{arch}: {state}", file=sys.stderr, flush=True)
    return rows


# --- the table ----------------------------------------------------------------------------


def mb(size: int | None) -> str:
    return "" if size is None else f"{size / 1e6:.1f}"


def cell(text: str, limit: int = 110) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(rows: list[Row]) -> str:
    lines = [
        "| project | manifest | target | plain uv | layer-builder | s | unzipped MB | zip MB "
        "| imports ok/failed |",
        "|---|---|---|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        plain = ""
        if row.plain is not None:
            state = "ok" if row.plain.ok else "failed"
            if row.plain.ok and row.plain.message:
                state = "ok, built sdists"
            plain = f"{state} ({row.plain.seconds:.1f} s)"
        result = "ok" if row.tool and row.tool.ok else cell(row.tool.message if row.tool else "")
        seconds = f"{row.tool.seconds:.1f}" if row.tool else ""
        if row.imports_ok is not None:
            imports = f"{row.imports_ok}/{len(row.import_failures)}"
        else:
            imports = row.imports_note
        target = f"{row.target} {row.variant}".strip()
        lines.append(
            f"| {row.project} | {row.manifest} | {target} | {plain} | {result} | {seconds} "
            f"| {mb(row.unzipped)} | {mb(row.zipped)} | {imports} |"
        )
    return "\n".join(lines)


def details(rows: list[Row]) -> str:
    """The plain-uv messages and first import failures, below the table."""
    out = []
    for row in rows:
        where = f"{row.project} {row.target} {row.variant}".strip()
        if row.tool is not None and not row.tool.ok:
            detail = f" (last line: {row.tool.detail})" if row.tool.detail else ""
            out.append(f"- {where}, layer-builder: {row.tool.message}{detail}")
        if row.plain is not None and row.plain.message:
            out.append(f"- {where}, plain uv: {row.plain.message}")
        for failure in row.import_failures[:3]:
            out.append(f"- {where}, import {failure}")
        if len(row.import_failures) > 3:
            out.append(f"- {where}: {len(row.import_failures) - 3} more import failures")
    return "\n".join(out)


def output_of(command: list[str]) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(command, capture_output=True, text=True).stdout.strip()
    return "?"


def header(argv: list[str], runtime: Runtime, tool_source: str, started: list[str]) -> str:
    """The run's circumstances; ``started`` holds the lines taken before it began."""
    pythons = ", ".join(f"python{v}: {runtime.pythons.get(v) or 'none'}" for v in runtime.pythons)
    return "\n".join(
        [
            *started,
            f"- tool from {tool_source}",
            f"- command: `{' '.join(['.venv/bin/python benchmarks/real_world.py', *argv])}`",
            f"- host: Python {platform.python_version()}, {output_of([tool('uv'), '--version'])}, "
            f"{output_of([tool('poetry'), '--version'])}, {os.cpu_count()} cores",
            f"- import interpreters: {pythons or 'not needed'}",
        ]
    )


def parse_targets(values: list[str]) -> list[tuple[str, str]]:
    found = []
    for value in values:
        for item in value.split(","):
            python, _, arch = item.strip().partition("/")
            if arch not in UV_ARCH:
                raise SystemExit(f"--targets: {item!r} is not PYTHON/ARCH (arch: x86_64, arm64)")
            found.append((python, arch))
    return found


def prepare_tool_source(spec: str, work: Path) -> tuple[dict[str, str] | None, str]:
    """The environment that makes ``layer-builder`` run the chosen tree, and its name."""
    if spec == "worktree":
        return None, "the working tree"
    rev = "HEAD" if spec == "head" else spec
    tree = work / "tool-src"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "layer_builder"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short=9", rev],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {**os.environ, "PYTHONPATH": str(tree)}, f"`git archive {sha}`"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="more project folders")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="only this project (repeatable)"
    )
    parser.add_argument(
        "--targets",
        action="append",
        default=[],
        metavar="PY/ARCH,...",
        help=f"default: {','.join(DEFAULT_TARGETS)}",
    )
    parser.add_argument("--slim", action="store_true", help="also package --slim --strip")
    parser.add_argument("--no-plain", action="store_true", help="skip plain uv")
    parser.add_argument("--no-imports", action="store_true", help="skip the import check")
    parser.add_argument("--jobs", type=int, default=1, help="projects at once (default 1)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per command")
    parser.add_argument(
        "--tool-source",
        default="worktree",
        help="worktree (default), head, or a git revision to archive",
    )
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep every copy and tree")
    parser.add_argument("--output", type=Path, help="also write the Markdown here")
    parser.add_argument("--json", type=Path, help="write the full records here")
    args = parser.parse_args(argv)

    projects = [*_corpus.project_dirs(), *(p.resolve() for p in args.folders)]
    if args.only:
        projects = [p for p in projects if p.name in args.only]
    if not projects:
        raise SystemExit("no project matches")
    work_root = args.work or Path(tempfile.mkdtemp(prefix="real-world-"))
    work_root.mkdir(parents=True, exist_ok=True)
    commit = output_of(["git", "-C", str(REPO), "rev-parse", "--short=9", "HEAD"])
    dirty = output_of(["git", "-C", str(REPO), "status", "--porcelain", "--", "layer_builder"])
    started_lines = [
        f"- date: {datetime.datetime.now().isoformat(timespec='minutes')}",
        f"- commit at the start: {commit}"
        + (" (layer_builder/ has uncommitted changes)" if dirty else ""),
    ]
    tool_env, tool_source = prepare_tool_source(args.tool_source, work_root)
    options = Options(
        targets=parse_targets(args.targets or list(DEFAULT_TARGETS)),
        slim=args.slim,
        plain=not args.no_plain,
        imports=not args.no_imports,
        timeout=args.timeout,
        keep=args.keep,
        tool_env=tool_env,
    )
    runtime = Runtime(work_root)
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = [pool.submit(run_project, p, options, runtime, work_root) for p in projects]
        rows = [row for future in futures for row in future.result()]
    minutes = (time.perf_counter() - started) / 60
    text = "\n\n".join(
        [
            header(argv, runtime, tool_source, started_lines) + f"\n- wall time: {minutes:.1f} min",
            table(rows),
            details(rows),
        ]
    )
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1), encoding="utf-8")
    if not args.keep and args.work is None:
        shutil.rmtree(work_root, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
