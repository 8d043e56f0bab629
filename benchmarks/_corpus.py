"""The real projects of ``benchmarks/corpus``: placeholders for index addresses, and copies.

The stored manifests name no package index host: each address of the default index is
replaced by a placeholder, the same ones ``../shared/corpus/materialize.py`` uses
(``https://DEFAULT-INDEX/simple``, ``https://DEFAULT-FILES``), plus one for the index's older
alias that some Pipfiles still name (``https://DEFAULT-INDEX-LEGACY/simple``). The real
addresses are taken from pip's own record of its default index, so that a materialized copy is
byte for byte what its repository holds (``corpus/SOURCES``).

    .venv/bin/python benchmarks/_corpus.py materialize DEST [NAME ...]
    .venv/bin/python benchmarks/_corpus.py store SOURCE_FILE DEST_FILE   # placeholders in

Projects of both corpora (``../shared/corpus`` and ``benchmarks/corpus``) are found by
``project_dirs()``; ``manifest_kind()`` names what a project locks with, and ``plain_uv()``
installs it for a target the way a new user would without layer-builder (the commands are
described in ``real_world.py``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pip._internal.models.index import PyPI

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
BIN = Path(sys.executable).parent
UV_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}


def _legacy_simple_url() -> str:
    # The index's pre-2018 name: the same domain with "python" before its last label.
    name, _, top = PyPI.netloc.rpartition(".")
    return f"https://{name}.python.{top}/simple"


PLACEHOLDERS = {
    "https://DEFAULT-INDEX/simple": PyPI.simple_url.rstrip("/"),
    "https://DEFAULT-INDEX-LEGACY/simple": _legacy_simple_url(),
    "https://DEFAULT-FILES": "https://" + PyPI.file_storage_domain,
}


def shared_corpus() -> Path | None:
    """``shared/corpus`` above the checkout (a worktree finds the main checkout's), if any."""
    for folder in HERE.parents:
        candidate = folder / "shared" / "corpus"
        if candidate.is_dir():
            return candidate
    return None


def project_dirs() -> list[Path]:
    """Every project folder of the shared corpus, then of ``benchmarks/corpus``."""
    found: list[Path] = []
    for root in (shared_corpus(), CORPUS):
        if root is not None and root.is_dir():
            found += sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] not in "._")
    return found


def to_placeholders(text: str) -> str:
    for placeholder, real in PLACEHOLDERS.items():
        text = text.replace(real, placeholder)
    return text


def from_placeholders(text: str) -> str:
    for placeholder, real in PLACEHOLDERS.items():
        text = text.replace(placeholder, real)
    return text


def materialize(project: Path, dest: Path) -> Path:
    """Copy ``project`` to ``dest``, writable, with the real index addresses put back."""
    shutil.copytree(project, dest, dirs_exist_ok=True, copy_function=shutil.copyfile)
    dest.chmod(0o755)  # the shared corpus is laid read-only
    for path in dest.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
            text = path.read_bytes().decode("utf-8")  # bytes: line endings stay as stored
            restored = from_placeholders(text)
            if restored != text:
                path.write_bytes(restored.encode("utf-8"))
    return dest


# --- child processes ----------------------------------------------------------------------


def tool(name: str) -> str:
    """A console script of this venv, else of PATH."""
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


@dataclass
class Outcome:
    ok: bool
    seconds: float
    message: str = ""
    detail: str = ""  # the last line of the output, when it says more than the message


@dataclass
class Run:
    """One child process: exit code (None on timeout), output and wall seconds."""

    code: int | None
    out: str
    err: str
    seconds: float


def run(command: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> Run:
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as expired:
        out = expired.stdout.decode() if isinstance(expired.stdout, bytes) else ""
        return Run(None, out, f"timeout after {timeout:.0f} s", time.perf_counter() - started)
    return Run(done.returncode, done.stdout, done.stderr, time.perf_counter() - started)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def uv_error(result: Run) -> str:
    """uv's or Poetry's first error line and its first cause, on one line."""
    if result.code is None:
        return result.err
    lines = [line.strip() for line in result.err.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith(("error:", "\u00d7", "Error:")) or "Error" in line.split(":")[0]:
            rest = [x for x in lines[i + 1 : i + 4] if x.startswith(("╰─▶", "Caused by", "cause"))]
            return " ".join([line, *rest])[:400]
    return (lines[-1] if lines else f"exit code {result.code}")[:400]


# --- the manifest -------------------------------------------------------------------------


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def python_floor(project: Path) -> str:
    pyproject = _toml(project / "pyproject.toml")
    found = pyproject.get("project", {}).get("requires-python")
    found = found or pyproject.get("tool", {}).get("poetry", {}).get("dependencies", {}).get(
        "python"
    )
    if not found and (project / "Pipfile.lock").exists():
        meta = json.loads((project / "Pipfile.lock").read_text(encoding="utf-8")).get("_meta", {})
        requires = meta.get("requires", {})
        found = requires.get("python_full_version") or requires.get("python_version")
        found = f"=={found}" if found else None
    return f"python {found}" if found else ""


def manifest_kind(project: Path) -> tuple[str, str]:
    """The kind plain uv follows (``uv.lock``, ...) and its description for the table."""
    if (project / "uv.lock").exists():
        kind, text = "uv.lock", "uv.lock"
    elif (project / "poetry.lock").exists():
        version = _toml(project / "poetry.lock").get("metadata", {}).get("lock-version", "?")
        kind, text = "poetry.lock", f"poetry.lock {version}"
    elif (project / "Pipfile.lock").exists():
        kind, text = "Pipfile.lock", "Pipfile.lock"
    elif (project / "pylock.toml").exists():
        kind, text = "pylock.toml", "pylock.toml"
    elif (project / "requirements.txt").exists():
        lines = (project / "requirements.txt").read_text(encoding="utf-8").splitlines()
        hashed = any("--hash=" in line for line in lines)
        pins = sum(1 for line in lines if "==" in line.split("#")[0])
        kind = "requirements.txt"
        text = f"requirements.txt ({'hashed' if hashed else 'unhashed'}, {pins} pins)"
    elif (project / "pyproject.toml").exists():
        kind, text = "pyproject.toml", "pyproject.toml (no lock)"
    else:
        kind, text = "", "no manifest"
    floor = python_floor(project)
    return kind, f"{text}, {floor}" if floor else text


def pipfile_requirements(lock: Path) -> str:
    """The ``default`` section of a Pipfile.lock as requirement lines, without hashes."""
    lines = []
    for name, entry in json.loads(lock.read_text(encoding="utf-8")).get("default", {}).items():
        extras = f"[{','.join(entry['extras'])}]" if entry.get("extras") else ""
        if "git" in entry:
            ref = f"@{entry['ref']}" if entry.get("ref") else ""
            requirement = f"{name}{extras} @ git+{entry['git']}{ref}"
        elif "path" in entry or "file" in entry:
            requirement = f"{name}{extras} @ {entry.get('file') or entry['path']}"
        else:
            requirement = f"{name}{extras}{entry.get('version', '')}"
        markers = entry.get("markers")
        lines.append(f"{requirement} ; {markers}" if markers else requirement)
    return "\n".join(lines) + "\n"


# --- plain uv -----------------------------------------------------------------------------


def platform_flags(python: str, arch: str) -> list[str]:
    glibc = "2_34" if tuple(int(x) for x in python.split(".")) >= (3, 12) else "2_17"
    return [
        "--python-platform",
        f"{UV_ARCH[arch]}-manylinux_{glibc}",
        "--python-version",
        python,
    ]


def plain_uv(project: Path, kind: str, python: str, arch: str, timeout: float) -> Outcome:
    exported = project / "plain-requirements.txt"
    if kind == "uv.lock":
        export = [tool("uv"), "export", "--frozen", "--no-dev", "--no-emit-project"]
        export += ["--no-hashes", "--format", "requirements.txt", "-o", str(exported)]
    elif kind == "poetry.lock":
        export = [tool("poetry"), "export", "-f", "requirements.txt", "--without-hashes"]
        export += ["-o", str(exported)]
    else:
        export = []
    seconds = 0.0
    if export:
        result = run(export, project, timeout)
        seconds += result.seconds
        if result.code != 0:
            message = uv_error(result).replace(str(project), "<project>")
            return Outcome(False, seconds, "export: " + message)
        source = exported
    elif kind == "Pipfile.lock":
        exported.write_text(pipfile_requirements(project / "Pipfile.lock"), encoding="utf-8")
        source = exported
    else:
        source = project / kind
    target = project / "plain-target"
    install = [tool("uv"), "pip", "install", "-r", str(source), "--target", str(target)]
    result = run(install + platform_flags(python, arch), project, timeout)
    seconds += result.seconds
    if result.code != 0:
        return Outcome(False, seconds, uv_error(result).replace(str(project), "<project>"))
    built = [
        line.split()[-1] for line in result.err.splitlines() if line.strip().startswith("Built ")
    ]
    note = f"built from sdist with the host's Python: {', '.join(built)}" if built else ""
    return Outcome(True, seconds, note)


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "materialize":
        dest, names = Path(argv[1]), argv[2:]
        for project in project_dirs():
            if not names or project.name in names:
                print(materialize(project, dest / project.name))
    elif len(argv) == 3 and argv[0] == "store":
        source, target = Path(argv[1]), Path(argv[2])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(to_placeholders(source.read_bytes().decode("utf-8")).encode("utf-8"))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
