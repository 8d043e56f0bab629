"""One check for every closed choice (architecture, storage mode, strip mode, backend ...),
so that every refusal reads the same: ``unknown <what> 'x': choose a or b (<hint>)``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from layer_builder.errors import ConfigurationError, LayerBuilderError

T = TypeVar("T")


def check_choice(
    value: object,
    choices: Sequence[str],
    what: str,
    hint: str = "",
    error: type[LayerBuilderError] = ConfigurationError,
) -> str:
    """``value`` when it is one of ``choices``; else ``error`` naming them (and ``hint``)."""
    if isinstance(value, str) and value in choices:
        return value
    listed = " or ".join(choices) if len(choices) == 2 else f"one of {', '.join(choices)}"
    suffix = f" ({hint})" if hint else ""
    raise error(f"unknown {what} {value!r}: choose {listed}{suffix}")


def choice_validator(
    choices: Sequence[str], what: str, hint: str = "", optional: bool = False
) -> Callable[[Any, Any, Any], None]:
    """An attrs validator for ``check_choice`` (``optional``: None is allowed too)."""

    def validate(_: Any, __: Any, value: Any) -> None:
        if not (optional and value is None):
            check_choice(value, choices, what, hint)

    return validate
