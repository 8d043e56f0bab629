"""Requirements files read as pip reads them: lines, options, includes, names/paths/URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from layer_builder.errors import ProjectError
from layer_builder.model.requirements_file import ALL, read_requirements_file


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_continuations_comments_and_hashes(tmp_path: Path) -> None:
    text = (
        "# a comment\n"
        "six==1.16.0 \\\n"
        "    --hash=sha256:aaa \\\n"
        "    --hash=sha256:bbb  # why\n"
        "\n"
        "idna>=3 ; python_version >= '3.8'\n"
    )
    file = read_requirements_file(write(tmp_path / "requirements.txt", text))
    six, idna = file.requirements
    assert (six.spec, six.name, six.hashes, six.where) == (
        "six==1.16.0", "six", ("sha256:aaa", "sha256:bbb"), "requirements.txt:2"
    )  # fmt: skip
    assert (idna.spec, str(idna.marker)) == ("idna>=3", 'python_version >= "3.8"')


def test_environment_variables_are_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIX_VERSION", "1.16.0")
    file = read_requirements_file(write(tmp_path / "r.txt", "six==${SIX_VERSION}\n"))
    assert file.requirements[0].spec == "six==1.16.0"


def test_per_line_options_parse_as_pip_parses_them(tmp_path: Path) -> None:
    text = (
        "inflate64==1.0.0; python_version >= '3.8' --no-binary=:inflate64:\n"
        "lxml==5.0 --config-settings=--build-option=--static --global-option=--quiet\n"
        "wrapt==1.16 --no-binary wrapt\n"
        "--only-binary six\n"
    )
    file = read_requirements_file(write(tmp_path / "r.txt", text))
    inflate, lxml, wrapt = file.requirements
    assert wrapt.name == "wrapt"
    assert str(inflate.marker) == 'python_version >= "3.8"'
    assert lxml.config_settings == ("--build-option=--static",)
    assert lxml.global_options == ("--quiet",)
    # pip applies --no-binary/--only-binary to the whole install, wherever they stand.
    assert (file.no_binary, file.only_binary) == ({"wrapt"}, {"six"})
    assert file.ignored == (
        "r.txt:1: --no-binary=:inflate64: names no package (':inflate64:' is not a name, "
        ":all: or :none:), so pip ignores it",
    )


def test_format_control_follows_pips_order(tmp_path: Path) -> None:
    file = read_requirements_file(
        write(tmp_path / "r.txt", "--no-binary :all:\n--only-binary six\nsix\n")
    )
    # pip keeps both; a name wins over :all: when it asks (FormatControl.get_allowed_formats).
    assert (file.no_binary, file.only_binary) == ({ALL}, {"six"})
    assert not file.builds_from_source("six") and file.builds_from_source("idna")
    file = read_requirements_file(
        write(tmp_path / "s.txt", "--only-binary six\n--no-binary :all:\n")
    )
    assert (file.no_binary, file.only_binary) == ({ALL}, frozenset())


def test_an_option_pip_does_not_know_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "r.txt", "six==1.16.0 --frobnicate\n")
    with pytest.raises(ProjectError) as refused:
        read_requirements_file(path)
    assert str(refused.value) == (
        "r.txt:1: unrecognized arguments: --frobnicate in 'six==1.16.0 --frobnicate', which "
        "pip refuses too: remove or fix the option"
    )


def test_includes_and_constraints_follow_their_files(tmp_path: Path) -> None:
    write(tmp_path / "base" / "common.txt", "idna==3.7\n-c pins.txt\n")
    write(tmp_path / "base" / "pins.txt", "six==1.16.0\n")
    top = write(
        tmp_path / "requirements.txt", "-r base/common.txt\nsix\n--index-url https://i/simple\n"
    )
    file = read_requirements_file(top)
    assert [r.spec for r in file.requirements] == ["idna==3.7", "six"]
    assert [c.spec for c in file.constraints] == ["six==1.16.0"]
    assert file.index_url == "https://i/simple"


def test_names_paths_and_urls_are_told_apart(tmp_path: Path) -> None:
    (tmp_path / "libs" / "shared").mkdir(parents=True)
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "pkg-1.0-py3-none-any.whl").write_bytes(b"")
    text = (
        "./libs/shared\n"
        "-e libs/shared\n"
        "dist/pkg-1.0-py3-none-any.whl ; sys_platform == 'linux'\n"
        "pkg @ https://example.com/pkg-1.0-py3-none-any.whl\n"
        "git+https://example.com/repo.git#egg=thing\n"
        "six[extra]>=1\n"
    )
    shared, editable, wheel, direct, vcs, six = read_requirements_file(
        write(tmp_path / "requirements.txt", text)
    ).requirements
    assert shared.path == editable.path == (tmp_path / "libs" / "shared").resolve()
    assert editable.editable and not shared.editable
    assert wheel.path == (tmp_path / "dist" / "pkg-1.0-py3-none-any.whl").resolve()
    assert str(wheel.marker) == 'sys_platform == "linux"'
    assert (direct.name, direct.path, direct.requirement) == ("pkg", None, None)
    assert (vcs.name, vcs.is_url) == ("thing", True)
    assert six.requirement is not None and six.name == "six"


def test_a_path_that_does_not_exist_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "requirements.txt", "./libs/missing\n")
    with pytest.raises(ProjectError) as missing:
        read_requirements_file(path)
    assert str(missing.value) == (
        f"requirements.txt:1: ./libs/missing names the path {tmp_path / 'libs' / 'missing'}, "
        "which does not exist: fix the path (relative paths start from the project folder, "
        "as for pip)"
    )


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"six==1.16.0\n# caf\xe9\n", "is not UTF-8 (byte 0xe9 on line 2)"),
        ("six==1.16.0\n".encode("utf-16"), "is UTF-16, not UTF-8"),
    ],
    ids=["latin-1", "utf-16"],
)
def test_a_file_that_is_not_utf8_is_named(tmp_path: Path, data: bytes, problem: str) -> None:
    (tmp_path / "requirements.txt").write_text("-r base.txt\n")
    (tmp_path / "base.txt").write_bytes(data)

    with pytest.raises(ProjectError) as info:
        read_requirements_file(tmp_path / "requirements.txt")

    assert str(info.value) == f"{tmp_path / 'base.txt'} {problem}: save it as UTF-8"


def test_a_utf8_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"\xef\xbb\xbfsix==1.16.0\n")
    assert [r.name for r in read_requirements_file(path).requirements] == ["six"]


def test_an_include_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r folder\n")
    (tmp_path / "folder").mkdir()

    with pytest.raises(ProjectError) as info:
        read_requirements_file(tmp_path / "requirements.txt")

    assert str(info.value) == (
        f"cannot read {tmp_path / 'folder'} (Is a directory): make it a readable file, or fix "
        "the -r/-c line naming it"
    )
