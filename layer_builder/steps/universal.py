"""A universal layer's build: the trees of several targets, checked to be one pure-Python
tree, which is then packaged once for all of them.

Each target's tree is built as usual, in its own folder (``build/lambda/<target>/layer/``):
only the builds tell whether the installers picked the same files for every target (an
environment marker, or a compiled wheel for one CPU and a pure one for another, makes
them differ). Built trees are reused (``BuildStep``'s cache), so checking again costs
reading the trees, not installing them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from layer_builder.errors import NotUniversalError
from layer_builder.installers import Installer
from layer_builder.model.purity import impurity
from layer_builder.model.tree_state import tree_content_digest
from layer_builder.steps.base import Step
from layer_builder.steps.build import BuildResult, BuildStep
from layer_builder.steps.build_record import check_tree_is_built


@attrs.frozen
class Universality:
    """Whether one zip can serve the targets of some builds, and why (not)."""

    universal: bool
    reason: str


def universality(builds: Sequence[BuildResult]) -> Universality:
    """Whether ``builds`` (one per target) are one pure-Python tree."""
    if len(builds) < 2:
        return Universality(False, "a single target")
    for build in builds:
        problem = impurity(build.dir_python, build.distributions)
        if problem is not None:
            return Universality(False, f"{problem} ({build.target.name})")
    first, *others = builds
    expected = tree_content_digest(first.dir_python)
    for build in others:
        if tree_content_digest(build.dir_python) != expected:
            return Universality(
                False,
                f"the trees of {first.target.name} and {build.target.name} differ (an "
                f"environment marker, or another wheel picked for one of them)",
            )
    return Universality(
        True, f"every distribution is pure Python and the {len(builds)} trees are the same"
    )


class UniversalBuildStep(Step[None, BuildResult]):
    """Builds (or reuses) the tree of each target with its ``BuildStep``, checks that they
    are one pure-Python tree, and returns the first, marked ``universal``; raises
    ``NotUniversalError`` when they are not."""

    name = "build"

    def __init__(self, steps: Sequence[BuildStep]):
        if len(steps) < 2:
            raise ValueError("a universal build needs the build steps of two targets or more")
        self.steps = tuple(steps)

    @property
    def installer(self) -> Installer:
        """The installer of every target's build (one installer serves every target)."""
        return self.steps[0].installer

    def fingerprint_fields(self) -> Mapping[str, object]:
        """The targets' build steps' (the same for each: one installer, one set of options)."""
        return self.steps[0].fingerprint_fields()

    def run(self, previous: None = None) -> BuildResult:
        """Build (or reuse) each target's tree, then check that they are one pure tree."""
        return self._universal([step.run() for step in self.steps])

    def last_result(self) -> BuildResult:
        """The trees earlier builds left, checked like ``run()`` checks them; a tree changed
        since its build is refused in its own words (not as trees that differ)."""
        builds = [step.last_result() for step in self.steps]
        for build in builds:
            check_tree_is_built(build.dir_python)
        return self._universal(builds)

    def _universal(self, builds: list[BuildResult]) -> BuildResult:
        verdict = universality(builds)
        if not verdict.universal:
            names = ", ".join(b.target.name for b in builds)
            raise NotUniversalError(
                f"one zip cannot serve {names}: {verdict.reason}: publish one layer version "
                f"per target (--no-universal)"
            )
        self.logger.info("universal layer: %s", verdict.reason)
        return attrs.evolve(builds[0], universal=True)
