"""The ``layer-builder`` command line; ``main()`` is its entry point."""

from layer_builder.cli.main import main
from layer_builder.cli.parser import build_parser

__all__ = ["build_parser", "main"]
