"""Optional precompiled bytecode: unchecked-hash pycs, the same bytes every time."""

from __future__ import annotations

import importlib.util
import marshal
import subprocess
import sys
import zipfile
from pathlib import Path

import attrs
import pytest

from layer_builder import BuildResult, LayerTarget, Manifest, PackageOptions, PackageStep
from layer_builder.errors import ConfigurationError
from layer_builder.installers.host_pythons import ENV_VARIABLE, find_host_python, running_python
from layer_builder.model.distributions import InstalledDistribution
from layer_builder.steps.package.bytecode import (
    bytecode_interpreter,
    cache_tag,
    compile_bytecode,
)

HOST = f"{sys.version_info.major}.{sys.version_info.minor}"
SOURCES = {
    "pkg/__init__.py": "KINDS = frozenset({'alpha', 'beta', 'gamma', 'delta', 'epsilon'})\n"
    "def kind(x):\n    return x in {'alpha', 'beta', 'gamma', 'delta', 'epsilon'}\n",
    "pkg/mod.py": "def f():\n    return __file__\n",
    "pkg/broken.py": "def f(:\n",  # a syntax error: left as source only
    "pkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n",
}


def _tree(root: Path) -> dict[str, Path]:
    files = {}
    for name, text in SOURCES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        files[name] = path
    return files


def test_pycs_are_unchecked_hash_with_the_lambda_path(tmp_path: Path) -> None:
    files = _tree(tmp_path / "python")
    compiled = compile_bytecode(files, tmp_path / "cache", workers=2)
    tag = cache_tag()
    assert sorted(compiled) == [f"pkg/__pycache__/__init__.{tag}.pyc",
                                f"pkg/__pycache__/mod.{tag}.pyc"]  # fmt: skip
    data = compiled[f"pkg/__pycache__/mod.{tag}.pyc"][1].read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(data[4:8], "little") == 0b01, "hash-based, unchecked"
    code = marshal.loads(data[16:])
    assert code.co_filename == "/opt/python/pkg/mod.py"


def test_same_bytes_whatever_the_hash_seed(tmp_path: Path) -> None:
    """Compiled in two interpreters with different hash seeds: same bytes."""
    files = _tree(tmp_path / "python")
    script = (
        "import sys, pathlib; from layer_builder.steps.package.bytecode import compile_bytecode; "
        "files = {k: pathlib.Path(v) for k, v in zip(sys.argv[2::2], sys.argv[3::2])}; "
        "out = compile_bytecode(files, pathlib.Path(sys.argv[1]), 1); "
        "print(sorted((k, v[1].read_bytes().hex()) for k, v in out.items()))"
    )
    outputs = []
    for seed, cache in (("1", "a"), ("2", "b")):
        args = [a for name, path in files.items() for a in (name, str(path))]
        outputs.append(
            subprocess.run(
                [sys.executable, "-c", script, str(tmp_path / cache), *args],
                capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed},
            ).stdout
        )  # fmt: skip
    assert outputs[0] == outputs[1]
    assert outputs[0].count(".pyc") == 2


def test_unchanged_modules_are_not_compiled_again(tmp_path: Path) -> None:
    files = _tree(tmp_path / "python")
    first = compile_bytecode(files, tmp_path / "cache", workers=1)
    stamps = {k: v[1].stat().st_mtime_ns for k, v in first.items()}
    files["pkg/mod.py"].write_text("def f():\n    return 2\n")
    second = compile_bytecode(files, tmp_path / "cache", workers=1)
    changed = {k for k, v in second.items() if v[1].stat().st_mtime_ns != stamps.get(k)}
    assert changed == {f"pkg/__pycache__/mod.{cache_tag()}.pyc"}
    assert len(list((tmp_path / "cache").glob("*/*.pyc"))) == 2, "the stale pyc is pruned"


@pytest.fixture(autouse=True)
def unrestricted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every interpreter of the host may be found, whatever the shell says."""
    monkeypatch.delenv(ENV_VARIABLE, raising=False)


def test_a_python_the_host_lacks_is_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    other = "3.12" if HOST != "3.12" else "3.11"
    monkeypatch.setenv(ENV_VARIABLE, "running")
    with pytest.raises(ConfigurationError) as caught:
        bytecode_interpreter(LayerTarget(other, "x86_64"))
    assert str(caught.value) == (
        f"--compile-bytecode needs Python {other} to compile for python{other}, and this host "
        f"has none (searched {ENV_VARIABLE}=running): install it with `uv python install "
        f"{other}` (or `pyenv install {other}`), or package without --compile-bytecode"
    )
    # The CPU does not matter for bytecode.
    assert bytecode_interpreter(LayerTarget(HOST, "arm64")) == running_python()


def test_another_python_on_the_host_compiles_for_its_version(tmp_path: Path) -> None:
    other = next(
        (v for v in ("3.12", "3.13", "3.10") if v != HOST and find_host_python(v, "x86_64")), None
    )
    if other is None:
        pytest.skip("needs an x86_64 Python 3.10, 3.12 or 3.13 besides the running one")
    interpreter = bytecode_interpreter(LayerTarget(other, "arm64"))
    assert interpreter.version == other and interpreter.origin != "running"
    files = _tree(tmp_path / "python")
    compiled = compile_bytecode(files, tmp_path / "cache", 2, interpreter)
    tag = "cpython-" + other.replace(".", "")
    assert sorted(compiled) == [f"pkg/__pycache__/__init__.{tag}.pyc",
                                f"pkg/__pycache__/mod.{tag}.pyc"]  # fmt: skip
    magic = subprocess.run(
        [interpreter.path, "-c", "import importlib.util as u; print(u.MAGIC_NUMBER.hex())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    data = compiled[f"pkg/__pycache__/mod.{tag}.pyc"][1].read_bytes()
    assert (data[:4].hex(), data[:4] != importlib.util.MAGIC_NUMBER) == (magic, True)
    assert int.from_bytes(data[4:8], "little") == 0b01, "hash-based, unchecked"


def test_package_step_adds_pycs_to_the_zip_and_the_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if HOST not in ("3.10", "3.11", "3.12", "3.13", "3.14"):
        pytest.skip("the host Python is not a Lambda runtime")
    root = tmp_path / "python"
    files = _tree(root)
    record = "".join(f"{name},,\n" for name in files) + "pkg-1.0.dist-info/RECORD,,\n"
    (root / "pkg-1.0.dist-info" / "RECORD").write_text(record)
    (tmp_path / "requirements.txt").write_text("pkg==1.0\n")
    build = BuildResult(
        dir_python=root,
        manifest=Manifest.from_file(tmp_path / "requirements.txt"),
        target=LayerTarget(HOST, "x86_64"),
        distributions=(InstalledDistribution("pkg", "1.0", "pkg-1.0.dist-info"),),
        installer="by hand",
    )
    options = PackageOptions(compile_bytecode=True)
    result = PackageStep(tmp_path / "layer.zip", options).run(build)
    with zipfile.ZipFile(result.path_zip) as zf:
        names = zf.namelist()
    assert f"python/pkg/__pycache__/mod.{cache_tag()}.pyc" in names
    assert not [n for n in names if "broken" in n and n.endswith(".pyc")]
    (pkg,) = result.distributions
    assert (pkg.name, pkg.files) == ("pkg", len(names))
    plain = PackageStep(tmp_path / "plain.zip").run(build)
    assert plain.fingerprint != result.fingerprint
    again = PackageStep(tmp_path / "layer.zip", options).run(build)
    assert (again.sha256, again.reused) == (result.sha256, result.files)
    other = attrs.evolve(build, target=LayerTarget("3.12" if HOST != "3.12" else "3.11"))
    if find_host_python(other.target.python_version, "x86_64"):
        with_other = PackageStep(tmp_path / "other.zip", options).run(other)
        with zipfile.ZipFile(with_other.path_zip) as zf:
            tag = other.target.interpreter_tag.replace("cp", "cpython-")
            assert f"python/pkg/__pycache__/mod.{tag}.pyc" in zf.namelist()
    monkeypatch.setenv(ENV_VARIABLE, "running")
    with pytest.raises(ConfigurationError, match="needs Python"):
        PackageStep(tmp_path / "x.zip", options).run(other)
