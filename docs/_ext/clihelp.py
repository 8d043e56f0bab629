"""``.. clihelp::`` directive: the ``layer-builder --help`` text, generated at build time."""

from __future__ import annotations

import argparse
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive, directives


def _help_text(command: str | None) -> str:
    from layer_builder.cli import _parser

    parser = _parser()
    if command is None:
        return parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return str(action.choices[command].format_help())
    raise ValueError(f"no subcommand {command!r}")


class CliHelp(Directive):
    """Render ``layer-builder [COMMAND] --help`` as a literal block."""

    optional_arguments = 1
    has_content = False
    option_spec = {"command": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        command = self.arguments[0] if self.arguments else None
        text = _help_text(command).rstrip()
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("clihelp", CliHelp)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
