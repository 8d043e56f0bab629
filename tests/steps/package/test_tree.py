"""Hostile trees: links, unreadable files and folders, names that are not UTF-8.

Each case is made in ``tmp_path`` and packaged by the real ``PackageStep``; unreadable cases
run in a child process without the root's right to read anything (``setpriv``), since root
reads a ``chmod 000`` file as if nothing were wrong.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from layer_builder import BuildResult, LayerTarget, Manifest, PackageError, PackageStep
from layer_builder.steps.package.step import PackageOptions
from layer_builder.steps.package.tree import walk_tree

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and modes")

SECRET = b"aws_secret_access_key = do-not-publish\n"


def make_tree(root: Path) -> Path:
    """A one-distribution tree ``root/python`` and a project ``root/project`` for it."""
    tree = root / "python"
    dist_info = tree / "pkg-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n")
    (dist_info / "RECORD").write_text(
        "pkg/__init__.py,,\npkg-1.0.dist-info/METADATA,,\npkg-1.0.dist-info/RECORD,,\n"
    )
    (tree / "pkg").mkdir()
    (tree / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    project = root / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("pkg==1.0\n")
    return tree


def package(tree: Path, path_zip: Path) -> list[str]:
    """Package ``tree``; the zip's member names."""
    build = BuildResult(
        dir_python=tree,
        manifest=Manifest.from_project(tree.parent / "project"),
        target=LayerTarget(),
        distributions=(),
        installer="by hand",
    )
    PackageStep(path_zip, PackageOptions(smoke_test=False)).run(build)
    with zipfile.ZipFile(path_zip) as zf:
        assert zf.testzip() is None
        assert SECRET not in b"".join(zf.read(n) for n in zf.namelist())
        return zf.namelist()


def refused(tree: Path, path_zip: Path) -> str:
    with pytest.raises(PackageError) as caught:
        package(tree, path_zip)
    message = str(caught.value)
    assert "\n" not in message
    assert not path_zip.exists(), "nothing written"
    return message


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A credentials file outside the tree."""
    path = tmp_path / "home" / ".aws" / "credentials"
    path.parent.mkdir(parents=True)
    path.write_bytes(SECRET)
    return path


def test_link_leaving_the_tree_is_refused_and_its_content_never_zipped(
    tree: Path, secret: Path, tmp_path: Path
) -> None:
    link = tree / "pkg" / "settings.ini"
    link.symlink_to(secret)
    assert refused(tree, tmp_path / "layer.zip") == (
        f"{link} is a symbolic link to {secret}, outside the layer tree {tree}: its content is "
        f"not zipped; remove the link, or put a copy of what the layer needs in the tree"
    )


def test_relative_link_climbing_out_of_the_tree_is_refused(
    tree: Path, secret: Path, tmp_path: Path
) -> None:
    link = tree / "pkg" / "creds"
    link.symlink_to("../../home/.aws/credentials")
    message = refused(tree, tmp_path / "layer.zip")
    assert message.startswith(f"{link} is a symbolic link to ../../home/.aws/credentials, outside")


def test_link_into_the_tree_through_a_link_out_of_it_is_followed_to_its_end(
    tree: Path, tmp_path: Path
) -> None:
    """Only where a link finally lands matters: out and back in is inside."""
    (tmp_path / "hop").symlink_to(tree / "pkg" / "__init__.py")
    (tree / "pkg" / "again.py").symlink_to(tmp_path / "hop")
    names = package(tree, tmp_path / "layer.zip")
    assert "python/pkg/again.py" in names


def test_link_to_a_file_inside_is_stored_as_that_file(tree: Path, tmp_path: Path) -> None:
    (tree / "pkg" / "run.sh").write_text("#!/bin/sh\n")
    (tree / "pkg" / "run.sh").chmod(0o755)
    (tree / "pkg" / "alias.py").symlink_to("__init__.py")
    (tree / "pkg" / "run").symlink_to("run.sh")
    path_zip = tmp_path / "layer.zip"
    names = package(tree, path_zip)
    with zipfile.ZipFile(path_zip) as zf:
        assert zf.read("python/pkg/alias.py") == b"VALUE = 1\n"
        info = zf.getinfo("python/pkg/run")
        assert info.external_attr >> 16 == 0o100755, "a regular file with the target's mode"
    assert "python/pkg/alias.py" in names


def test_link_to_a_folder_is_refused(tree: Path, tmp_path: Path) -> None:
    link = tree / "pkg" / "loop"
    link.symlink_to(".")
    assert refused(tree, tmp_path / "layer.zip") == (
        f"{link} is a symbolic link to a folder (.), and folder links are not followed: "
        f"replace it with a copy of the folder, or remove it"
    )


def test_dangling_link_is_refused(tree: Path, tmp_path: Path) -> None:
    link = tree / "pkg" / "gone.py"
    link.symlink_to("moved.py")
    assert refused(tree, tmp_path / "layer.zip") == (
        f"{link} is a dangling symbolic link (to moved.py): remove it, or point it at a file "
        f"inside the tree"
    )


def test_links_of_an_excluded_distribution_are_not_looked_at(
    tree: Path, secret: Path, tmp_path: Path
) -> None:
    """Its files leave the layer whatever they are."""
    record = tree / "pkg-1.0.dist-info" / "RECORD"
    record.write_text(record.read_text() + "pkg/settings.ini,,\n")
    (tree / "pkg" / "settings.ini").symlink_to(secret)
    (tree / "kept.py").write_text("")  # a layer with nothing to import is refused
    build = BuildResult(
        dir_python=tree,
        manifest=Manifest.from_project(tree.parent / "project"),
        target=LayerTarget(),
        distributions=(),
        installer="by hand",
    )
    result = PackageStep(tmp_path / "layer.zip", PackageOptions(excludes=("pkg",))).run(build)
    with zipfile.ZipFile(result.path_zip) as zf:
        assert zf.namelist() == ["python/kept.py"]


def test_name_that_is_not_utf8_is_refused(tree: Path, tmp_path: Path) -> None:
    bad = os.fsdecode(b"caf\xe9.txt")
    (tree / "pkg" / bad).write_text("x")
    assert refused(tree, tmp_path / "layer.zip") == (
        f"{tree}/pkg/caf\\xe9.txt has a name that is not valid UTF-8, and a zip member name "
        f"must be: rename it (or remove it) in the tree, or fix the package that made it"
    )


def test_folder_name_that_is_not_utf8_is_refused(tree: Path, tmp_path: Path) -> None:
    (tree / os.fsdecode(b"d\xffta")).mkdir()
    message = refused(tree, tmp_path / "layer.zip")
    assert message.startswith(f"{tree}/d\\xffta has a name that is not valid UTF-8")


def test_fifo_is_left_out_with_a_notice(
    tree: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    os.mkfifo(tree / "pkg" / "pipe")
    caplog.set_level("INFO", logger="layer_builder")
    names = package(tree, tmp_path / "layer.zip")
    assert "python/pkg/pipe" not in names
    assert f"left out {tree / 'pkg' / 'pipe'}: not a regular file" in caplog.messages


def test_walk_gives_sizes_and_normalised_modes(tree: Path) -> None:
    (tree / "pkg" / "tool").write_text("#!/bin/sh\n")
    (tree / "pkg" / "tool").chmod(0o700)
    found = walk_tree(tree, {"pkg-1.0.dist-info/RECORD"})
    assert sorted(found.files) == ["pkg-1.0.dist-info/METADATA", "pkg/__init__.py", "pkg/tool"]
    assert found.sizes["pkg/__init__.py"] == 10
    assert found.modes == {
        "pkg-1.0.dist-info/METADATA": 0o644,
        "pkg/__init__.py": 0o644,
        "pkg/tool": 0o755,
    }


# -- unreadable files and folders: in a child that cannot read what it may not read -------

UNPRIVILEGED_PACKAGE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from layer_builder import BuildResult, LayerTarget, Manifest, PackageError, PackageStep
    from layer_builder.steps.package.step import PackageOptions
    tree, path_zip = Path(sys.argv[1]), Path(sys.argv[2])
    build = BuildResult(
        dir_python=tree,
        manifest=Manifest.from_project(tree.parent / "project"),
        target=LayerTarget(),
        distributions=(),
        installer="by hand",
    )
    try:
        PackageStep(path_zip, PackageOptions(smoke_test=False)).run(build)
    except PackageError as exc:
        print(json.dumps({"error": str(exc)}))
    else:
        print(json.dumps({"error": None}))
    """
)


def package_unprivileged(tree: Path, path_zip: Path) -> str | None:
    """Package in a child without the right to read past file modes; its error or None."""
    command = [sys.executable, "-c", UNPRIVILEGED_PACKAGE, str(tree), str(path_zip)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root reads any file, and setpriv is missing to drop that right")
        caps = "-dac_override,-dac_read_search"
        command = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", "--", *command]
    process = subprocess.run(command, capture_output=True, text=True, check=False)
    assert process.returncode == 0, process.stderr
    error: str | None = json.loads(process.stdout)["error"]
    return error


def test_unreadable_file_is_an_error_naming_it(tree: Path, tmp_path: Path) -> None:
    path = tree / "pkg" / "__init__.py"
    path.chmod(0)
    assert package_unprivileged(tree, tmp_path / "layer.zip") == (
        f"cannot read {path} (Permission denied): make it readable (chmod a+r) or remove it "
        f"from the tree, then retry"
    )
    assert not (tmp_path / "layer.zip").exists()


def test_unreadable_folder_is_an_error_not_a_silent_gap(tree: Path, tmp_path: Path) -> None:
    folder = tree / "pkg" / "data"
    folder.mkdir()
    (folder / "table.csv").write_text("a,b\n")
    folder.chmod(0)
    try:
        assert package_unprivileged(tree, tmp_path / "layer.zip") == (
            f"cannot read the folder {folder} (Permission denied): make it readable "
            f"(chmod -R u+rX {tree}) or build again"
        )
    finally:
        folder.chmod(0o755)
    assert not (tmp_path / "layer.zip").exists()


def test_unreadable_record_is_an_error_naming_it(tree: Path, tmp_path: Path) -> None:
    record = tree / "pkg-1.0.dist-info" / "RECORD"
    record.chmod(0)
    assert package_unprivileged(tree, tmp_path / "layer.zip") == (
        f"cannot read {record} (Permission denied): make it readable or build again"
    )


def test_readable_tree_packages_in_the_unprivileged_child(tree: Path, tmp_path: Path) -> None:
    """The child itself works: the errors above come from the modes, not from the child."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out").chmod(0o777)
    assert package_unprivileged(tree, tmp_path / "out" / "layer.zip") is None
