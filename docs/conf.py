"""Sphinx configuration for the layer_builder documentation."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))  # the local clihelp extension
sys.path.insert(0, str(HERE.parent))  # layer_builder itself, without installing it

from layer_builder import __version__  # noqa: E402

project = "layer_builder"
author = "layer_builder contributors"
copyright = "2026, layer_builder contributors"
release = __version__
version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "clihelp",
]

# Offline builds only: no intersphinx, nothing fetched over the network.
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_class_signature = "mixed"
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}

templates_path: list[str] = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
html_theme_options = {"description": "Locked dependencies to a published AWS Lambda layer"}
