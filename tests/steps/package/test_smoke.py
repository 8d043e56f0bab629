"""The import smoke test that guards a slimmed layer."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from layer_builder import LayerTarget, PackageError
from layer_builder.archive.reuse import sidecar_path
from layer_builder.model.distributions import InstalledDistribution
from layer_builder.steps.package.smoke import import_smoke_test, smoke_test_applies, top_level_names

HOST = LayerTarget(f"{sys.version_info.major}.{sys.version_info.minor}", "x86_64")


def test_applies_only_to_the_hosts_python_and_cpu() -> None:
    import platform

    if platform.machine() != "x86_64" or HOST.python_version not in ("3.10", "3.11", "3.12"):
        pytest.skip("written for an x86_64 host")
    assert smoke_test_applies(HOST)
    assert not smoke_test_applies(LayerTarget(HOST.python_version, "arm64"))
    other = "3.12" if HOST.python_version != "3.12" else "3.11"
    assert not smoke_test_applies(LayerTarget(other, "x86_64"))


def test_top_level_names_from_top_level_txt_or_record(tmp_path: Path) -> None:
    (tmp_path / "a-1.dist-info").mkdir()
    (tmp_path / "a-1.dist-info" / "top_level.txt").write_text("alpha\n_alpha_c\n")
    with_txt = InstalledDistribution("a", "1", "a-1.dist-info", ("alpha/__init__.py",))
    from_record = InstalledDistribution(
        "b", "1", "b-1.dist-info",
        ("beta/__init__.py", "beta/x.py", "gamma.py", "_delta.cpython-311-x86_64-linux-gnu.so",
         "b-1.dist-info/RECORD", "b.libs/libz.so", "README.txt", "__pycache__/gamma.pyc"),
    )  # fmt: skip
    assert top_level_names([with_txt, from_record], tmp_path) == [
        "_alpha_c",
        "_delta",
        "alpha",
        "beta",
        "gamma",
    ]


def _tree_and_zip(tmp_path: Path, drop: str) -> tuple[Path, Path, list[InstalledDistribution]]:
    root = tmp_path / "python"
    files = {
        "good/__init__.py": "VALUE = 1\n",
        "needy/__init__.py": "from needy.tests.helper import HELP\n",
        "needy/tests/__init__.py": "",
        "needy/tests/helper.py": "HELP = 2\n",
        "already_broken.py": "raise ImportError('broken before slimming')\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    dist = InstalledDistribution("demo", "1", "demo-1.dist-info", tuple(files))
    path_zip = tmp_path / "layer.zip"
    with zipfile.ZipFile(path_zip, "w") as zf:
        for name in files:
            if not name.startswith(drop):
                zf.write(root / name, f"python/{name}")
    sidecar_path(path_zip).write_text("{}")
    return root, path_zip, [dist]


def test_passes_when_every_import_still_works(tmp_path: Path) -> None:
    root, path_zip, dists = _tree_and_zip(tmp_path, drop="nothing")
    import_smoke_test(root, path_zip, dists)
    assert path_zip.is_file()


def test_a_broken_import_fails_and_removes_the_zip(tmp_path: Path) -> None:
    root, path_zip, dists = _tree_and_zip(tmp_path, drop="needy/tests")
    with pytest.raises(PackageError) as caught:
        import_smoke_test(root, path_zip, dists)
    message = str(caught.value)
    assert message.startswith(
        f"slimming broke imports that work from {root} (import needy: ModuleNotFoundError: "
        "No module named 'needy.tests'); "
    )
    assert message.endswith(
        f"{path_zip} was removed: package without --slim/--strip, or exclude the package "
        "from slimming"
    )
    assert "already_broken" not in message, "failures from before slimming are not blamed"
    assert not path_zip.exists()
    assert not sidecar_path(path_zip).exists()
