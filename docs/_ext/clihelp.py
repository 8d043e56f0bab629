"""Local Sphinx directives that read the code at build time, so the docs never go stale.

- ``.. clihelp:: [COMMAND]``: the ``layer-builder [COMMAND] --help`` text.
- ``.. config-keys::``: the keys accepted in ``[tool.layer_builder]``, with their types.
- ``.. public-names-not-listed::``: autodoc entries for every name of
  ``layer_builder.__all__`` that the current page does not document yet.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList


def _help_text(command: str | None) -> str:
    from layer_builder.cli import build_parser as _parser

    # argparse wraps at the terminal's width; fix it so the page is the same everywhere.
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        return _format_help(_parser(), command)
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]  # type: ignore[no-any-return]
    raise ValueError(f"no subcommand {command!r}")


def _subparser_names(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def _format_help(parser: argparse.ArgumentParser, command: str | None) -> str:
    if command is None:
        return parser.format_help()
    return _subparser(parser, command).format_help()


def _literal(text: str) -> nodes.literal_block:
    block = nodes.literal_block(text, text)
    block["language"] = "text"
    return block


class CliHelp(Directive):
    """``layer-builder [COMMAND] --help`` as a literal block; ``*``: every subcommand's, each
    under a rubric, so that a new subcommand appears without editing the page."""

    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        """The help text of the command named (the top level without one), as a literal block."""
        command = self.arguments[0] if self.arguments else None
        if command != "*":
            return [_literal(_help_text(command).rstrip())]
        from layer_builder.cli import build_parser as _parser

        found: list[nodes.Node] = []
        for name in _subparser_names(_parser()):
            found.append(nodes.rubric(text=f"layer-builder {name}"))
            found.append(_literal(_help_text(name).rstrip()))
        return found


class ConfigKeys(Directive):
    """A table of the ``[tool.layer_builder]`` keys: TOML type and the flag each stands for."""

    def run(self) -> list[nodes.Node]:
        """The keys' table, read from the parser so it cannot drift from the flags."""
        from layer_builder.cli import build_parser as _parser
        from layer_builder.cli.config import KNOWN_KEYS

        run_parser = _subparser(_parser(), "run")
        flags = {a.dest: a.option_strings[-1] for a in run_parser._actions if a.option_strings}
        toml_names = {str: "string", list: "array of strings", bool: "boolean", int: "integer"}
        lines = [".. list-table::", "   :header-rows: 1", "", "   * - key", "     - type",
                 "     - flag"]  # fmt: skip
        for key, expected in KNOWN_KEYS.items():
            types = expected if isinstance(expected, tuple) else (expected,)
            kind = " or ".join(toml_names.get(t, t.__name__) for t in types)
            flag = f"``{flags[key]}``" if key in flags else ""
            lines += [f"   * - ``{key}``", f"     - {kind}", f"     - {flag}"]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="config-keys"), 0, container)
        return list(container.children)


class PublicNamesNotListed(Directive):
    """Autodoc every public name the page has not documented with an ``auto*`` directive."""

    def run(self) -> list[nodes.Node]:
        """The autodoc directives of the names left."""
        import layer_builder

        source = self.state.document.current_source or ""
        with open(source, encoding="utf-8") as f:
            listed = set(re.findall(r"^\.\. auto\w+:: (\w+)", f.read(), flags=re.MULTILINE))
        lines = []
        for name in sorted(set(layer_builder.__all__) - listed):
            obj = getattr(layer_builder, name)
            if isinstance(obj, type) and issubclass(obj, BaseException):
                kind = "autoexception"
            elif isinstance(obj, type):
                kind = "autoclass"
            elif callable(obj):
                kind = "autofunction"
            else:
                kind = "autodata"
            lines += [f".. {kind}:: {name}", ""]
        if not lines:
            return []
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="public-names"), 0, container)
        return list(container.children)


def setup(app: Any) -> dict[str, Any]:
    """Register the directives with Sphinx."""
    app.add_directive("clihelp", CliHelp)
    app.add_directive("config-keys", ConfigKeys)
    app.add_directive("public-names-not-listed", PublicNamesNotListed)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
