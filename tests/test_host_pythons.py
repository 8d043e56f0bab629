"""The supported host Pythons: the oldest and the newest found on this machine install the
project from its wheel and run the README's end-to-end job; an older one gets a clear message.

The host that runs layer-builder is not the Lambda runtime it builds for: every host here
builds the same ``python3.12`` layer, and they must all give the same zip bytes, whatever
the path of the environment layer-builder runs from (a console script's first line names
it, and the build leaves the scripts out with their RECORD lines).
"""

from __future__ import annotations

import configparser
import html
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # the oldest host runs part of this suite too
    import tomli as tomllib

import pytest

from tests.conftest import MakeProject
from tests.small_index import CLITOOL, SmallIndex, serve_wheels
from tests.wheelhouse import WHEELS, IndexServer

# One worker runs them all, so that each interpreter's environment is made once.
pytestmark = pytest.mark.xdist_group("host-pythons")

ROOT = Path(__file__).resolve().parent.parent
#: The host Pythons the project supports, oldest first (setup.cfg must say the same).
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
#: The newest CPython too old to run layer-builder.
TOO_OLD = "3.9"

HostVenv = Callable[..., Path]

# Captured at import, before the autouse fixture points pip at the test wheel index: the
# fresh environments install boto3, moto ... from the package index, as a user's would.
_USER_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIP_INDEX"))}


def find_python(version: str) -> str | None:
    """A CPython ``version`` interpreter from pyenv or PATH that really runs (pyenv shims
    of inactive versions do not)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True)
    candidates += [Path(p) for p in [shutil.which(f"python{version}")] if p]
    for candidate in candidates:
        probe = subprocess.run(
            [str(candidate), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return str(candidate)
    return None


def test_metadata_and_tools_name_the_same_host_pythons() -> None:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    assert setup["options"]["python_requires"] == f">={SUPPORTED[0]}"
    classifiers = setup["metadata"]["classifiers"].split("\n")
    declared = [c.rsplit(" :: ", 1)[1] for c in classifiers if c.count("::") == 2 and "3." in c]
    assert tuple(declared) == SUPPORTED
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + SUPPORTED[0].replace(".", "")
    assert pyproject["tool"]["mypy"]["python_version"] == SUPPORTED[0]
    supported_text = f"Python {SUPPORTED[0]} to {SUPPORTED[-1]}"
    assert supported_text in (ROOT / "README.md").read_text()
    assert supported_text in (ROOT / "docs" / "quickstart.rst").read_text()


@pytest.fixture(scope="module")
def project_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built once as a release would be."""
    out = tmp_path_factory.mktemp("dist")
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv is part of the test extra"
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(out), str(ROOT)],
        env=_USER_ENV,
        capture_output=True,
        check=True,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


def run_cli(venv: Path, *args: str) -> dict[str, object]:
    """``layer-builder ARGS --json`` of ``venv``; its JSON object."""
    process = subprocess.run(
        [str(venv / "bin" / "layer-builder"), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    return dict(json.loads(process.stdout))


@pytest.fixture(scope="module")
def host_venv(project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> HostVenv:
    """``host_venv(version, extras)``: a fresh virtual environment of that CPython with the
    wheel and ``extras`` installed (made once per module), or a skip naming the missing
    interpreter."""
    made: dict[tuple[str, str, str], Path] = {}

    def get(version: str, extras: str = "local", folder: str = "venv") -> Path:
        """``folder``: the environment's path below a fresh temporary folder."""
        if (version, extras, folder) not in made:
            python = find_python(version)
            if python is None:
                pytest.skip(f"CPython {version} (a supported host) is not on this machine")
            uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
            venv = tmp_path_factory.mktemp(f"host-{version}-{extras.replace(',', '-')}") / folder
            subprocess.run([uv, "venv", "-q", "--python", python, str(venv)],
                           env=_USER_ENV, check=True)  # fmt: skip
            install = subprocess.run(
                [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                 f"{project_wheel}[{extras}]"],
                env=_USER_ENV,
                capture_output=True,
                text=True,
                check=False,
            )  # fmt: skip
            assert install.returncode == 0, install.stderr
            made[version, extras, folder] = venv
        return made[version, extras, folder]

    return get


PINS = {"tinyutil": "1.0.0", "fastcalc": "1.0.0"}
#: Where a second environment goes: a path of another length than ``venv``.
LONGER = "a-folder-with-a-much-longer-name/venv"


@pytest.fixture(scope="module")
def console_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallIndex]:
    """An index of PINS' wheels and of a distribution with console scripts."""
    specs = [s for s in WHEELS if PINS.get(s.name) == s.version] + [CLITOOL]
    with serve_wheels(specs, tmp_path_factory.mktemp("console-index")) as index:
        yield index


def console_project(root: Path, index: SmallIndex) -> Path:
    """A project pinning PINS and a distribution with console scripts, from ``index``."""
    root.mkdir(parents=True)
    (root / "requirements.txt").write_text(index.requirements(*PINS, CLITOOL.name))
    (root / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0.1.0"\n')
    return root


def checkout_venv(venv: Path) -> Path:
    """A fresh environment of the running interpreter that runs layer-builder from this
    checkout with the test environment's packages (a ``.pth`` file: nothing installed)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    ours = sysconfig.get_paths()["purelib"]
    (venv / "lib" / version / "site-packages" / "checkout.pth").write_text(
        f"import sys, site; sys.path.insert(0, {str(ROOT)!r}); site.addsitedir({ours!r})\n"
    )
    return venv / "bin" / "python"


def run_module(python: Path, *args: str) -> dict[str, object]:
    """``python -m layer_builder.cli ARGS --json``; its JSON object."""
    process = subprocess.run(
        [str(python), "-m", "layer_builder.cli", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    return dict(json.loads(process.stdout))


def test_venvs_at_paths_of_other_lengths_package_the_same_bytes(
    tmp_path: Path, console_index: SmallIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A console script's first line names the environment's interpreter, and its RECORD
    line counts it: the build leaves both out, so the zip is the same from any path."""
    monkeypatch.setenv("PIP_INDEX_URL", console_index.url)
    digests, records = set(), set()
    for folder in ("venv", LONGER):
        python = checkout_venv(tmp_path / folder)
        project = str(console_project(tmp_path / "projects" / folder, console_index))
        run_module(python, "build", "--project", project, "--python", "3.12")
        package = run_module(python, "package", "--project", project)
        digests.add(package["zip_sha256"])
        with zipfile.ZipFile(str(package["path"])) as zf:
            records.add(zf.read("python/clitool-1.0.0.dist-info/RECORD").decode())
    assert len(digests) == 1
    (record,) = records
    assert "bin/" not in record


@pytest.mark.network
@pytest.mark.parametrize("version", [SUPPORTED[0], SUPPORTED[-1]], ids=["oldest", "newest"])
def test_supported_host_installs_and_runs_the_demo(
    version: str, host_venv: HostVenv, make_project: MakeProject
) -> None:
    venv = host_venv(version)
    project = str(make_project(PINS))
    demo = ("run", "--local", "--project", project, "--layer-name", "demo_deps",
            "--s3dir", "s3://layer-builder-demo/app/lambda/")  # fmt: skip
    first = run_cli(venv, *demo)
    assert first["published"] is True
    assert first["layer_version"] == 1
    again = run_cli(venv, *demo)
    assert again["published"] is False
    assert again["layer_version_arn"] == first["layer_version_arn"]


@pytest.mark.network
def test_oldest_and_newest_hosts_package_the_same_bytes(
    host_venv: HostVenv,
    console_index: SmallIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two host Pythons, in environments at paths of other lengths, with a compiled wheel
    and console scripts in the lock: one zip."""
    digests = set()
    for version, folder in ((SUPPORTED[0], "venv"), (SUPPORTED[-1], LONGER)):
        venv = host_venv(version, folder=folder)
        project = str(console_project(tmp_path / f"app{version.replace('.', '')}", console_index))
        with monkeypatch.context() as index:
            index.setenv("PIP_INDEX_URL", console_index.url)
            run_cli(venv, "build", "--project", project, "--python", "3.12")
            digests.add(run_cli(venv, "package", "--project", project)["zip_sha256"])
    assert len(digests) == 1


#: Packages a tree in a process that has a second thread (as a caller's would), with every
#: DeprecationWarning shown, counting the forks; prints the count and the sha256 per worker count.
_PACKAGE_WITH_A_THREAD = """
import os, sys, threading
from pathlib import Path
from layer_builder.archive.writer import write_reproducible_zip
forks = []
real_fork = os.fork
def counting_fork():
    forks.append(1)
    return real_fork()
os.fork = counting_fork
stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()
root, out = Path(sys.argv[1]), Path(sys.argv[2])
entries = [(f"python/{p.relative_to(root).as_posix()}", p) for p in sorted(root.rglob("*.py"))]
digests = [write_reproducible_zip(entries, out / f"{w}.zip", workers=w, incremental=False).sha256
           for w in (1, 2)]
stop.set()
print(len(forks), *digests)
"""


@pytest.mark.network
def test_packaging_on_the_newest_host_never_forks_and_gives_our_bytes(
    host_venv: HostVenv, tmp_path: Path
) -> None:
    """Python 3.12+ warns when a process with threads forks (a deadlock risk in the child):
    the zip's workers are threads, so no process forks and no warning appears."""
    from layer_builder.archive.writer import write_reproducible_zip

    venv = host_venv(SUPPORTED[-1])
    root = tmp_path / "tree"
    for i in range(40):
        module = root / "pkg" / f"m{i}.py"
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text(f"VALUE = {i}\n" * (200 * i + 1))
    process = subprocess.run(
        [str(venv / "bin" / "python"), "-W", "always::DeprecationWarning", "-c",
         _PACKAGE_WITH_A_THREAD, str(root), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    assert "DeprecationWarning" not in process.stderr
    forks, *digests = process.stdout.split()
    assert forks == "0"
    entries = [(f"python/{p.relative_to(root).as_posix()}", p) for p in sorted(root.rglob("*.py"))]
    here = write_reproducible_zip(entries, tmp_path / "here.zip", incremental=False).sha256
    assert digests == [here, here]  # the default backend: the same bytes on both Pythons


def test_too_old_python_gets_one_clear_line_from_the_package(tmp_path: Path) -> None:
    python = find_python(TOO_OLD)
    if python is None:
        pytest.skip(f"CPython {TOO_OLD} is not on this machine")
    process = subprocess.run(
        [python, "-m", "layer_builder.cli", "--version"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode != 0
    last = process.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"ImportError: layer_builder needs Python {SUPPORTED[0]} or newer, and this is "
        f"Python {TOO_OLD}."
    )


@pytest.mark.network
def test_too_old_python_is_refused_by_the_installer(project_wheel: Path, tmp_path: Path) -> None:
    python = find_python(TOO_OLD)
    if python is None:
        pytest.skip(f"CPython {TOO_OLD} is not on this machine")
    # A PEP 503 index serving the wheel with its Requires-Python, as PyPI does.
    page = tmp_path / "simple" / "lambda-layer-builder"
    page.mkdir(parents=True)
    shutil.copy(project_wheel, page)
    requires = html.escape(f">={SUPPORTED[0]}")
    page.joinpath("index.html").write_text(
        f'<a href="{project_wheel.name}" data-requires-python="{requires}">'
        f"{project_wheel.name}</a>\n"
    )
    server = IndexServer(tmp_path).start()
    try:
        process = subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--isolated",
                "--dry-run",
                "--index-url",
                server.url,
                "lambda-layer-builder",
            ],
            env={k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        server.stop()
    assert process.returncode != 0
    assert f"Requires-Python >={SUPPORTED[0]}" in process.stderr
    assert "s3pathlib" not in process.stderr


#: The offline tests the oldest host runs too: the library's own code, about half the
#: suite, enough to catch what differs between Python versions (a csv message, a stdlib
#: module) in about a minute.
OLDEST_HOST_SUITE = (
    "tests/model",
    "tests/archive",
    "tests/steps/package",
    "tests/operations",
    "tests/aws",
    "tests/cli/test_config.py",
    "tests/installers/test_base.py",
    "tests/installers/test_process.py",
)


@pytest.mark.network
def test_the_library_tests_pass_on_the_oldest_host(host_venv: HostVenv) -> None:
    venv = host_venv(SUPPORTED[0], "test,local")
    process = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-m", "not network", "-n", "2", *OLDEST_HOST_SUITE],
        cwd=ROOT,
        env={k: v for k, v in _USER_ENV.items() if k != "PYTEST_XDIST_WORKER"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout[-3000:]
    assert " passed" in process.stdout.strip().splitlines()[-1]
