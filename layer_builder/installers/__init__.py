"""Installers: the tool-specific way to fill a layer tree from a manifest."""

from layer_builder.installers.base import IndexOptions, Installer
from layer_builder.installers.pip import PipInstaller

__all__ = ["IndexOptions", "Installer", "PipInstaller"]
