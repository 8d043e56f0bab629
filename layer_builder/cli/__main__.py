"""``python -m layer_builder.cli``."""

from layer_builder.cli.main import console_main

console_main()
