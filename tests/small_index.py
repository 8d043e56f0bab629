"""A package index of a few wheels a test module makes for itself, served on 127.0.0.1, and
the wheels more than one module needs."""

from __future__ import annotations

import contextlib
import hashlib
import html
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import attrs

from tests.wheelhouse import IndexServer, WheelSpec, make_wheel

#: Two console scripts, which the build leaves out (and the lines RECORD has for them).
CLITOOL = WheelSpec(
    "clitool",
    "1.0.0",
    files={
        "clitool/__init__.py": b"def main():\n    return 0\n",
        "clitool-1.0.0.dist-info/entry_points.txt": (
            b"[console_scripts]\nclitool = clitool:main\nclitool-admin = clitool:main\n"
        ),
    },
)
#: Pure Python for Python 2 and 3, like six: its WHEEL lists py2-none-any and py3-none-any.
SIXLIKE = WheelSpec("sixlike", "1.17.0", tag="py2.py3-none-any", files={"sixlike.py": b"X = 1\n"})


@attrs.frozen
class SmallIndex:
    url: str
    #: The sha256 of each wheel of a distribution, by distribution name.
    hashes: Mapping[str, tuple[str, ...]]
    versions: Mapping[str, str]

    def requirements(self, *names: str) -> str:
        """A hashed ``requirements.txt`` pinning ``names``."""
        return "".join(
            f"{n}=={self.versions[n]}"
            + "".join(f" --hash=sha256:{h}" for h in self.hashes[n])
            + "\n"
            for n in names
        )


@contextlib.contextmanager
def serve_wheels(specs: Iterable[WheelSpec], root: Path) -> Iterator[SmallIndex]:
    """A PEP 503 index of ``specs`` (one version of each distribution, any number of wheels)
    under ``root``, served while the block runs."""
    (root / "files").mkdir(parents=True)
    hashes: dict[str, tuple[str, ...]] = {}
    versions: dict[str, str] = {}
    links: dict[str, str] = {}
    for spec in specs:
        path = make_wheel(spec, root / "files")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        hashes[spec.name] = (*hashes.get(spec.name, ()), digest)
        versions[spec.name] = spec.version
        links[spec.name] = links.get(spec.name, "") + (
            f'<a href="../../files/{html.escape(path.name)}#sha256={digest}">'
            f"{html.escape(path.name)}</a>\n"
        )
    for name, page in links.items():
        (root / "simple" / name).mkdir(parents=True)
        (root / "simple" / name / "index.html").write_text(page)
    server = IndexServer(root).start()
    try:
        yield SmallIndex(server.url, hashes, versions)
    finally:
        server.stop()
