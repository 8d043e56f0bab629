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
``project_dirs()``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pip._internal.models.index import PyPI

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


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
