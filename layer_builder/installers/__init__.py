"""Installers: the tool-specific way to fill a layer tree from a manifest."""

from layer_builder.installers.base import IndexOptions, Installer, InstallOptions
from layer_builder.installers.pip import PipInstaller
from layer_builder.installers.pipenv import PipenvInstaller
from layer_builder.installers.poetry import PoetryInstaller
from layer_builder.installers.pylock import PylockInstaller
from layer_builder.installers.resolution import PyprojectInstaller
from layer_builder.installers.tools import find_poetry, find_uv
from layer_builder.installers.uv import UvInstaller
from layer_builder.installers.uv_pip import UvPipInstaller

__all__ = [
    "IndexOptions",
    "InstallOptions",
    "Installer",
    "PipInstaller",
    "PipenvInstaller",
    "PoetryInstaller",
    "PylockInstaller",
    "PyprojectInstaller",
    "UvInstaller",
    "UvPipInstaller",
    "find_poetry",
    "find_uv",
]
