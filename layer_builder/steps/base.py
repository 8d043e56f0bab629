"""What every step shares: a name, a logger, and timing of its run."""

from __future__ import annotations

import abc
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import ClassVar


class Step(abc.ABC):
    """One stage of the pipeline.

    A step holds its configuration (set when it is built), takes the previous step's result
    in ``run()`` and returns a new frozen result; it never changes shared state, so any step
    can run alone from a result that was saved or built by hand.
    """

    name: ClassVar[str]

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger(f"layer_builder.steps.{self.name}")

    @contextlib.contextmanager
    def timed(self, what: str) -> Iterator[None]:
        """Log the start and the duration of a piece of long work."""
        self.logger.info("%s ...", what)
        started = time.perf_counter()
        yield
        self.logger.info("%s: done in %.1f s", what, time.perf_counter() - started)
