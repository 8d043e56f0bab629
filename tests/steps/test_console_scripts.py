"""RECORD files name only what the tree holds: the lines of what the build left out go, every
other line stays as the installer wrote it."""

from __future__ import annotations

from pathlib import Path

from layer_builder.steps.console_scripts import drop_console_scripts, prune_records, pruned_record


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a,b.py").write_text("")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg-1.0.dist-info").mkdir()
    (root / "pkg-1.0.dist-info" / "RECORD").write_text("")
    return root


def test_lines_of_files_the_tree_lacks_go_the_rest_stay_byte_for_byte(tmp_path: Path) -> None:
    root = _tree(tmp_path / "python")
    text = (
        'pkg/__init__.py,sha256=abc,0\r\n"pkg/a,b.py",sha256=def,0\r\n'
        "bin/tool,sha256=ghi,301\r\n../../bin/tool,sha256=ghi,301\r\n/usr/bin/tool,,\r\n"
        "pkg-1.0.dist-info/RECORD,,\r\n"
    )
    kept, dropped = pruned_record(text, str(root)) or ("", [])
    assert kept == (
        'pkg/__init__.py,sha256=abc,0\r\n"pkg/a,b.py",sha256=def,0\r\npkg-1.0.dist-info/RECORD,,\r\n'
    )
    assert dropped == ["bin/tool", "../../bin/tool", "/usr/bin/tool"]


def test_a_malformed_record_is_left_for_the_package_step_to_name(tmp_path: Path) -> None:
    root = _tree(tmp_path / "python")
    assert pruned_record('"pkg/__init__.py,sha256=abc,0\n', str(root)) is None


def test_only_records_that_name_missing_files_are_rewritten(tmp_path: Path) -> None:
    root = _tree(tmp_path / "python")
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_text("#!/home/me/.venv/bin/python\n")
    record = root / "pkg-1.0.dist-info" / "RECORD"
    record.write_text(
        "pkg/__init__.py,sha256=abc,0\nbin/tool,sha256=x,29\npkg-1.0.dist-info/RECORD,,\n"
    )
    (root / "other-2.0.dist-info").mkdir()
    untouched = root / "other-2.0.dist-info" / "RECORD"
    untouched.write_text("other-2.0.dist-info/RECORD,,\n")
    inode = untouched.stat().st_ino
    assert drop_console_scripts(root) == ["tool"]
    assert prune_records(root) == {"pkg-1.0.dist-info": ["bin/tool"]}
    assert record.read_text() == "pkg/__init__.py,sha256=abc,0\npkg-1.0.dist-info/RECORD,,\n"
    assert untouched.stat().st_ino == inode
