"""Where the façade's messages go: the caller's ``printer``, else a logger, never stdout.

``aws_lambda_artifact_builder`` printed its progress through a ``printer`` callable (``print``
by default) when ``verbose``. The façade keeps both parameters: with ``verbose`` each message
goes to ``printer`` when one is given, else to the ``layer_builder.compat.artifact_builder``
logger at INFO; without ``verbose`` it goes to that logger at DEBUG. The steps underneath log
through ``logging`` as they always do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs

#: A callable taking one line of text, e.g. ``print`` or ``list.append``.
Printer = Callable[[str], None]

logger = logging.getLogger("layer_builder.compat.artifact_builder")


@attrs.frozen
class Reporter:
    """Sends the façade's messages to ``printer`` or the logger, as ``verbose`` says."""

    verbose: bool = True
    printer: Printer | None = None

    def say(self, message: str) -> None:
        """Report one line of progress (quiet, at DEBUG, unless ``verbose``)."""
        if not self.verbose:
            logger.debug("%s", message)
        elif self.printer is not None:
            self.printer(message)
        else:
            logger.info("%s", message)

    def always(self, message: str) -> None:
        """Report a line the old API printed whatever ``verbose`` said (where an upload went)."""
        if self.printer is not None:
            self.printer(message)
        else:
            logger.info("%s", message)
