"""The step contract: a name, ``run(previous) -> result``, and what the step adds to the
layer's fingerprint."""

from __future__ import annotations

import abc
import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from typing import ClassVar, Generic, TypeVar

PreviousT = TypeVar("PreviousT", contravariant=True)
ResultT = TypeVar("ResultT", covariant=True)


class Step(abc.ABC, Generic[PreviousT, ResultT]):
    """One stage of the pipeline.

    A step holds its configuration (set when it is built), takes the previous step's result
    in ``run()`` and returns a new frozen result; it never changes shared state, so any step
    can run alone from a result that was saved or built by hand. ``LayerWorkflow`` asks each
    step for ``fingerprint_fields()`` and nothing else, so a step of your own counts in the
    fingerprint by overriding that method.
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def run(self, previous: PreviousT) -> ResultT:
        """Do the step's work on the previous step's result; return this step's result."""

    def fingerprint_fields(self) -> Mapping[str, object]:
        """What about this step changes the layer's content (JSON-serialisable).

        Two builds whose steps give the same fields (and the same manifest and target) make
        the same layer, so a change here publishes a new version. The default: nothing.
        """
        return {}

    @property
    def logger(self) -> logging.Logger:
        """The step's logger, ``layer_builder.steps.<name>``."""
        return logging.getLogger(f"layer_builder.steps.{self.name}")

    @contextlib.contextmanager
    def timed(self, what: str) -> Iterator[None]:
        """Log the start and the duration of a piece of long work."""
        self.logger.info("%s ...", what)
        started = time.perf_counter()
        yield
        self.logger.info("%s: done in %.1f s", what, time.perf_counter() - started)
