"""Tiny real wheels and a PEP 503 index on 127.0.0.1, so installers run offline."""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import http.server
import io
import tarfile
import threading
import zipfile
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import attrs
from packaging.utils import canonicalize_name


@attrs.frozen
class WheelSpec:
    """A wheel to make: its files are ``{path in the wheel: content}``."""

    name: str
    version: str
    tag: str = "py3-none-any"
    files: Mapping[str, bytes] = attrs.Factory(dict)
    requires: Sequence[str] = ()
    #: More METADATA header lines, e.g. ``License-Expression: MIT`` or a ``Classifier``.
    metadata: Sequence[str] = ()

    @property
    def filename(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}-{self.tag}.whl"

    @property
    def dist_info(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}.dist-info"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def make_wheel(spec: WheelSpec, directory: Path) -> Path:
    """Write a valid wheel (METADATA, WHEEL with every tag, RECORD) into ``directory``."""
    interpreters, abis, platforms = spec.tag.split("-")
    wheel_tags = [
        f"Tag: {i}-{a}-{p}"
        for i in interpreters.split(".")
        for a in abis.split(".")
        for p in platforms.split(".")
    ]
    # License-Expression is core metadata 2.4 (PEP 639).
    version = "2.4" if any(m.startswith("License-Expression:") for m in spec.metadata) else "2.1"
    metadata = [f"Metadata-Version: {version}", f"Name: {spec.name}", f"Version: {spec.version}"]
    metadata += [f"Requires-Dist: {r}" for r in spec.requires]
    metadata += spec.metadata
    pure = "true" if spec.tag.endswith("-none-any") else "false"
    contents = dict(spec.files)
    contents[f"{spec.dist_info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    contents[f"{spec.dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: layer-builder-tests\n"
        f"Root-Is-Purelib: {pure}\n" + "\n".join(wheel_tags) + "\n"
    ).encode()
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in contents.items()]
    record.append(f"{spec.dist_info}/RECORD,,")
    contents[f"{spec.dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / spec.filename
    # Fixed timestamps: the same wheel has the same hash in every session, so a tool's
    # cache filled from an earlier session's index on the same port cannot fail hashes.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return path


# What every in-tree backend below ends with: METADATA, WHEEL and RECORD beside ``files``,
# zipped with a fixed date into the wheel the build returns.
_WRITE_WHEEL = """
import base64, hashlib, zipfile
def write_wheel(wheel_directory, name, version, tag, files, requires=(), purelib=True):
    dist = name + "-" + version
    metadata = "Metadata-Version: 2.1\\nName: " + name + "\\nVersion: " + version + "\\n"
    metadata += "".join("Requires-Dist: " + r + "\\n" for r in requires)
    files[dist + ".dist-info/METADATA"] = metadata.encode()
    files[dist + ".dist-info/WHEEL"] = ("Wheel-Version: 1.0\\nRoot-Is-Purelib: "
        + str(purelib).lower() + "\\nTag: " + tag + "\\n").encode()
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(path + ",sha256=" + digest.decode() + "," + str(len(data)))
    record.append(dist + ".dist-info/RECORD,,")
    files[dist + ".dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()
    filename = dist + "-" + tag + ".whl"
    with zipfile.ZipFile(wheel_directory + "/" + filename, "w") as zf:
        for path, data in files.items():
            zf.writestr(zipfile.ZipInfo(path, (1980, 1, 2, 0, 0, 0)), data)
    return filename
"""

# An in-tree PEP 517 backend, so that the sdists build offline (no setuptools download).
_SDIST_BACKEND = (
    """\
NAME, VERSION, TAG = {name!r}, {version!r}, {tag!r}
def get_requires_for_build_wheel(config_settings=None):
    return []
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {{NAME + "/__init__.py": b"SOURCE_BUILT = True\\n"}}
    return write_wheel(wheel_directory, NAME, VERSION, TAG, files)
"""
    + _WRITE_WHEEL
)


def make_sdist(
    name: str, version: str, directory: Path, tag: str = "py3-none-any", backend: str = ""
) -> Path:
    """A source distribution only (no wheel): what a cross build must refuse. It builds
    offline into a wheel tagged ``tag`` (what the host's Python would make), or with the
    in-tree ``backend`` given."""
    path = directory / f"{name}-{version}.tar.gz"
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    pyproject = (
        f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
        '[build-system]\nrequires = []\nbuild-backend = "_backend"\nbackend-path = ["."]\n'
    )
    backend = backend or _SDIST_BACKEND.format(name=name, version=version, tag=tag)
    with gzip.GzipFile(path, "wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tf:
        for member, text in (
            ("PKG-INFO", pkg_info),
            ("pyproject.toml", pyproject),
            ("_backend.py", backend),
        ):
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-{version}/{member}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


# The same backend for a folder of the project: the wheel holds the folder's NAME/ files.
_FOLDER_BACKEND = (
    """\
import pathlib
NAME, VERSION, TAG, REQUIRES = {name!r}, {version!r}, {tag!r}, {requires!r}
def get_requires_for_build_wheel(config_settings=None):
    return []
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {{p.as_posix(): p.read_bytes() for p in sorted(pathlib.Path(NAME).rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts}}
    return write_wheel(wheel_directory, NAME, VERSION, TAG, files, REQUIRES)
"""
    + _WRITE_WHEEL
)


def make_local_package(
    directory: Path,
    name: str,
    version: str = "0.1.0",
    files: Mapping[str, bytes] | None = None,
    tag: str = "py3-none-any",
    requires: Sequence[str] = (),
) -> Path:
    """A folder holding a package's source (``files`` under ``name/``), built offline by an
    in-tree backend into a wheel tagged ``tag`` (a compiled tag stands for a C extension)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
        '[build-system]\nrequires = []\nbuild-backend = "_backend"\nbackend-path = ["."]\n'
    )
    backend = _FOLDER_BACKEND.format(name=name, version=version, tag=tag, requires=list(requires))
    (directory / "_backend.py").write_text(backend)
    for relative, data in (files or {f"{name}/__init__.py": b"VALUE = 1\n"}).items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_bytes(data)
    return directory


# A backend that compiles a real C extension with the interpreter that runs it (gcc and its
# headers), tagged for that interpreter and CPU: what a compiled sdist gives on any host.
_NATIVE_BACKEND = (
    """\
import os, subprocess, sys, sysconfig, tempfile
NAME, VERSION = {name!r}, {version!r}
SOURCE = (
    "#include <Python.h>\\n"
    "static struct PyModuleDef m = {{PyModuleDef_HEAD_INIT, \\"_native\\", 0, -1, 0}};\\n"
    "PyMODINIT_FUNC PyInit__native(void) {{ return PyModule_Create(&m); }}\\n"
)
def get_requires_for_build_wheel(config_settings=None):
    return []
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    py = "cp%d%d" % sys.version_info[:2]
    tag = py + "-" + py + "-linux_" + os.uname().machine
    with tempfile.TemporaryDirectory() as tmp:
        with open(tmp + "/m.c", "w") as f:
            f.write(SOURCE)
        include = sysconfig.get_paths()["include"]
        subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-I", include, tmp + "/m.c",
                        "-o", tmp + "/m.so"], check=True)
        with open(tmp + "/m.so", "rb") as f:
            library = f.read()
    files = {{
        NAME + "/__init__.py": b"from . import _native\\n",
        NAME + "/_native" + sysconfig.get_config_var("EXT_SUFFIX"): library,
    }}
    return write_wheel(wheel_directory, NAME, VERSION, tag, files, purelib=False)
"""
    + _WRITE_WHEEL
)


# A build that fails the way a missing compiler header does.
_BROKEN_BACKEND = """\
import sys
def get_requires_for_build_wheel(config_settings=None):
    return []
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    print("building extension 'fast'", file=sys.stderr)
    print("src/fast.c:1:10: fatal error: libfoo.h: No such file or directory", file=sys.stderr)
    raise SystemExit(1)
"""


def make_native_sdist(name: str, version: str, directory: Path) -> Path:
    """A source distribution of a real C extension, built by whichever Python builds it."""
    backend = _NATIVE_BACKEND.format(name=name, version=version)
    return make_sdist(name, version, directory, backend=backend)


def fake_shared_object(machine: str) -> bytes:
    """Bytes standing for a compiled extension built for ``machine``."""
    return f"\x7fELF fake extension for {machine}\n".encode()


#: Licence metadata each way a distribution may declare it (see model/licenses.py).
_MIT_CLASSIFIER = "Classifier: License :: OSI Approved :: MIT License"
_BSD_CLASSIFIER = "Classifier: License :: OSI Approved :: BSD License"

#: The local index's contents, used across the suite.
WHEELS: tuple[WheelSpec, ...] = (
    WheelSpec(
        "tinyutil",
        "1.0.0",
        files={"tinyutil/__init__.py": b"VERSION = '1.0.0'\n"},
        metadata=("License-Expression: MIT",),
    ),
    WheelSpec(
        "tinyutil",
        "1.1.0",
        files={"tinyutil/__init__.py": b"VERSION = '1.1.0'\n"},
        metadata=("License-Expression: MIT",),
    ),
    WheelSpec(
        "tinyhttp",
        "2.0.0",
        files={"tinyhttp/__init__.py": b"import tinyutil\n\ndef get(url):\n    return url\n"},
        requires=("tinyutil>=1.0",),
        metadata=("License: Apache-2.0",),
    ),
    # A distribution whose import names differ from its name: excluded by RECORD, not glob.
    WheelSpec(
        "Tiny-YAML",
        "6.0.0",
        files={"yaml_impl/__init__.py": b"def load(s):\n    return s\n", "_tiny_yaml.py": b""},
        metadata=("License: MIT License", _MIT_CLASSIFIER),
    ),
    # A copyleft licence, for --deny-license.
    WheelSpec(
        "tinygpl",
        "1.0.0",
        files={"tinygpl/__init__.py": b""},
        metadata=("License-Expression: GPL-3.0-or-later",),
    ),
    # Ships command-line code, which examples/own_package_step.py leaves out.
    WheelSpec(
        "tinycli",
        "1.0.0",
        files={
            "tinycli/__init__.py": b"",
            "tinycli/__main__.py": b"from tinycli.cli import main\n\nmain()\n",
            "tinycli/cli/__init__.py": b"def main():\n    return 0\n",
        },
    ),
    # Ships its test suite as a top-level ``tests`` package (as some do), which --slim drops.
    WheelSpec(
        "sloppypkg",
        "1.0.0",
        files={
            "sloppypkg/__init__.py": b"VALUE = 1\n",
            "tests/__init__.py": b"",
            "tests/test_sloppy.py": b"def test():\n    pass\n",
        },
    ),
    # Stands for a package the Lambda runtime provides (excluded by default).
    WheelSpec("s3transfer", "99.0.0", files={"s3transfer/__init__.py": b"FAKE = True\n"}),
    *(
        WheelSpec(
            "fastcalc",
            "1.0.0",
            tag=f"cp{py}-cp{py}-manylinux_2_17_{machine}.manylinux2014_{machine}",
            files={
                "fastcalc/__init__.py": b"from fastcalc._speedups import *\n",
                f"fastcalc/_speedups.cpython-{py}-{machine}-linux-gnu.so": fake_shared_object(
                    machine
                ),
            },
            # Free text and a classifier that names no variant: no SPDX expression.
            metadata=("License: BSD", _BSD_CLASSIFIER),
        )
        for py in ("311", "312")
        for machine in ("x86_64", "aarch64")
    ),
    # Only a glibc 2.28 wheel: loads on python3.12 (glibc 2.34), not on python3.11 (2.26).
    WheelSpec(
        "modernlib",
        "1.0.0",
        tag="cp312-cp312-manylinux_2_28_x86_64",
        files={"modernlib/__init__.py": b""},
    ),
)
#: (name, version, tag of the wheel it builds): ``hostonly`` builds a host-only wheel.
SDISTS: tuple[tuple[str, str, str], ...] = (
    ("sourceonly", "1.0.0", "py3-none-any"),
    ("hostonly", "1.0.0", "cp311-cp311-linux_x86_64"),
)


def build_index(root: Path) -> dict[str, str]:
    """Make every wheel and sdist under ``root/files`` and a simple index under
    ``root/simple``; returns ``{file name: sha256}``."""
    files_dir = root / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    paths = [make_wheel(spec, files_dir) for spec in WHEELS]
    paths += [make_sdist(name, version, files_dir, tag) for name, version, tag in SDISTS]
    paths.append(make_native_sdist("nativeext", "1.0.0", files_dir))
    paths.append(make_sdist("brokenbuild", "1.0.0", files_dir, backend=_BROKEN_BACKEND))
    by_project: dict[str, list[Path]] = {}
    hashes = {}
    for path in paths:
        project = canonicalize_name(path.name.split("-")[0])
        by_project.setdefault(project, []).append(path)
        hashes[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    simple = root / "simple"
    simple.mkdir(exist_ok=True)
    for project, project_paths in by_project.items():
        (simple / project).mkdir(exist_ok=True)
        links = "".join(
            f'<a href="../../files/{html.escape(p.name)}#sha256={hashes[p.name]}">'
            f"{html.escape(p.name)}</a>\n"
            for p in sorted(project_paths)
        )
        (simple / project / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    projects = "".join(f'<a href="{p}/">{p}</a>\n' for p in sorted(by_project))
    (simple / "index.html").write_text(f"<html><body>\n{projects}</body></html>\n")
    return hashes


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    #: ``user:password`` the client must send with HTTP basic auth (None: open index).
    credentials: str | None = None
    #: How a request without them is answered: 401 (asks for credentials) or 403.
    refusal: int = 401

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        if self.credentials is not None:
            expected = "Basic " + base64.b64encode(self.credentials.encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(self.refusal)
                if self.refusal == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="index"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
        return super().send_head()


class IndexServer:
    """Serves a directory over HTTP on 127.0.0.1 (a free port) from a thread."""

    def __init__(self, root: Path, credentials: str | None = None, refusal: int = 401):
        attributes = {"credentials": credentials, "refusal": refusal}
        handler_class = type("_Handler", (_QuietHandler,), attributes)
        handler = partial(handler_class, directory=str(root))
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/simple/"

    def start(self) -> IndexServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
