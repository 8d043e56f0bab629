"""The digests of a tree: its state (one lstat per file) and its content (every byte)."""

from __future__ import annotations

import os
from pathlib import Path

from layer_builder.model.tree_state import tree_content_digest, tree_digest, tree_state


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("VERSION = '1.0.0'\n")
    (root / "pkg" / "data.txt").write_text("data\n")
    return root


def test_a_same_size_edit_with_its_times_put_back_moves_the_state(tmp_path: Path) -> None:
    """Modification times can be set back (``touch -r``), change times cannot: only the
    state and the content see the edit."""
    tree = _tree(tmp_path / "python")
    module = tree / "pkg" / "__init__.py"
    before = (tree_digest(tree), tree_state(tree), tree_content_digest(tree))
    st = module.stat()
    module.write_text("VERSION = '6.6.6'\n")
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert tree_digest(tree) == before[0], "the first format's digest misses it"
    assert tree_state(tree) != before[1]
    assert tree_content_digest(tree) != before[2]


def test_a_hard_link_made_and_removed_moves_the_state_not_the_content(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "python")
    state, content = tree_state(tree), tree_content_digest(tree)
    os.link(tree / "pkg" / "data.txt", tmp_path / "view.txt")
    (tmp_path / "view.txt").unlink()
    assert tree_state(tree) != state
    assert tree_content_digest(tree) == content


def test_the_content_digest_ignores_times_and_places(tmp_path: Path) -> None:
    first, second = _tree(tmp_path / "a" / "python"), _tree(tmp_path / "b" / "python")
    os.utime(second / "pkg" / "data.txt", ns=(0, 0))
    assert tree_content_digest(first) == tree_content_digest(second)
    (second / "pkg" / "data.txt").chmod(0o755)
    assert tree_content_digest(first) != tree_content_digest(second), "the executable bit counts"
