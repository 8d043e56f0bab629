"""Several targets from one project in one command: one ``LayerWorkflow`` per target, run
side by side on a bounded pool of threads, or one universal layer for them all.

``MatrixRun`` composes workflows and adds no step of its own. Each target's workflow has its
own build folder (``build/lambda/<runtime>-<arch>/layer/``: tree, zip, folder lock), so the
targets never wait for one another's lock; they share the installers' caches and the AWS
clients. Every command returns one ``TargetOutcome`` per target, in the order the targets
were given; a target that fails never stops or hides the others.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sysconfig
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Generic, TypeVar

import attrs

from layer_builder.archive.parallel import shutting_down, usable_cpus
from layer_builder.model.fingerprint import UNIVERSAL
from layer_builder.model.purity import impurity
from layer_builder.model.target import LayerTarget, TargetSet
from layer_builder.steps.build import BuildResult
from layer_builder.steps.package.step import PackageResult
from layer_builder.steps.universal import Universality, universality
from layer_builder.workflow import LayerWorkflow, WorkflowResult

if TYPE_CHECKING:
    from layer_builder.plan import Plan

logger = logging.getLogger(__name__)

R = TypeVar("R")

#: ``make_workflow(target=..., build_folder=..., universal=...)``: a ``LayerWorkflow`` (or a
#: subclass) with everything else the same, e.g. ``functools.partial(LayerWorkflow, ...)``.
MakeWorkflow = Callable[..., LayerWorkflow]

#: The target the current thread works for (for log lines; None outside ``MatrixRun``).
CURRENT_TARGET: contextvars.ContextVar[LayerTarget | None] = contextvars.ContextVar(
    "layer_builder_target", default=None
)


class TargetLogFilter(logging.Filter):
    """Adds ``record.layer_target``: ``"python3.12-arm64: "`` in a target's thread, else
    ``""``; for a log format that says which target a line is about."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Set ``record.layer_target``; every record passes."""
        target = CURRENT_TARGET.get()
        record.layer_target = f"{target.name}: " if target is not None else ""
        return True


@attrs.frozen
class TargetOutcome(Generic[R]):
    """What a command did for one target: its result, or the error that stopped it."""

    target: LayerTarget
    result: R | None = None
    error: Exception | None = None
    #: The result is the universal layer's, shared by every target of the set.
    universal: bool = False

    @property
    def ok(self) -> bool:
        """Whether the target succeeded."""
        return self.error is None


@attrs.frozen
class MatrixResult(Generic[R]):
    """One outcome per target, in the order the targets were given."""

    outcomes: tuple[TargetOutcome[R], ...]
    #: Whether the targets' trees make one universal layer, and why (not); None when the
    #: command did not need to know (nothing to build, or ``plan``).
    universality: Universality | None = None

    def __iter__(self) -> Iterator[TargetOutcome[R]]:
        return iter(self.outcomes)

    @property
    def failed(self) -> tuple[TargetOutcome[R], ...]:
        """The outcomes of the targets that failed."""
        return tuple(o for o in self.outcomes if not o.ok)

    @property
    def ok(self) -> bool:
        """Whether every target succeeded."""
        return not self.failed

    @property
    def universal(self) -> bool:
        """Whether one universal layer served every target."""
        return bool(self.outcomes) and all(o.universal for o in self.outcomes)


class MatrixRun:
    """``build``, ``package``, ``plan`` and ``run`` for every target of a ``TargetSet``.

    ``make_workflow`` makes each target's workflow (called with ``target=`` and
    ``build_folder=``) and, when the targets may share one zip, the universal layer's
    (``universal=`` the set, ``build_folder="universal"``). At most ``workers`` targets
    (default: the usable CPUs) run at once. Give every workflow the same ``AwsClients``
    (``aws=``): the clients are thread-safe, their creation is not, so ``MatrixRun`` makes
    any it needs in the calling thread before the workers start.
    """

    def __init__(
        self, make_workflow: MakeWorkflow, targets: TargetSet, *, workers: int | None = None
    ):
        self.targets = targets
        self.workers = max(1, workers or usable_cpus())
        self._make = make_workflow
        several = len(targets) > 1
        #: Each target's workflow; one target keeps the single-target folder ``layer/``.
        self.workflows: dict[LayerTarget, LayerWorkflow] = {
            t: make_workflow(target=t, build_folder=t.name if several else None) for t in targets
        }

    @cached_property
    def universal_workflow(self) -> LayerWorkflow:
        """The workflow of the universal layer: the first target's tree, zipped into
        ``build/lambda/universal/layer/``, published once for every target."""
        return self._make(target=self.targets.first, build_folder=UNIVERSAL, universal=self.targets)

    @property
    def first(self) -> LayerWorkflow:
        """The first target's workflow."""
        return self.workflows[self.targets.first]

    def universal_blocker(self) -> str | None:
        """Why these targets may not share one zip whatever their trees (None: they may,
        if the trees allow it)."""
        if len(self.targets) < 2:
            return "a single target"
        if not self.first.publish_options.universal:
            return "turned off (--no-universal)"
        if self.first.package_options.compile_bytecode:
            return "--compile-bytecode compiles for one Python version"
        if not self.targets.is_product:
            return (
                f"the targets ({self.targets.names}) are not every pairing of their runtimes "
                f"and architectures, which one version would declare"
            )
        return None

    # -- the commands ---------------------------------------------------------------------

    def build(self) -> MatrixResult[BuildResult]:
        """Each target's tree, side by side; says whether they make a universal layer."""
        outcomes = self._each(self.targets, lambda t: self.workflows[t].build())
        return MatrixResult(tuple(outcomes.values()), self._universality(outcomes))

    def package(self) -> MatrixResult[PackageResult]:
        """Zip what ``build`` left: once for all targets when the trees are one pure-Python
        tree (into ``build/lambda/universal/layer/layer.zip``), else once per target."""
        blocker = self.universal_blocker()
        if blocker is None:
            builds = self._each(self.targets, lambda t: self.workflows[t].last_build())
            verdict = self._universality(builds)
            if verdict.universal:
                return self._shared(self._package_universal, verdict)
        else:
            verdict = Universality(False, blocker)

        def package(target: LayerTarget) -> PackageResult:
            workflow = self.workflows[target]
            # Held while the tree is checked, too, as the single-target command does.
            with workflow.folder_lock("package"):
                return workflow.package(workflow.last_build())

        outcomes = self._each(self.targets, package)
        return MatrixResult(tuple(outcomes.values()), verdict)

    def plan(self) -> MatrixResult[Plan]:
        """What ``run`` would do for each target (read-only): each target's plan, or the
        universal version's for every target when ``run`` would publish one and a version of
        this manifest's universal layer proves the trees pure (see ``plan_together``)."""
        self.prepare_aws()
        from layer_builder.plan import plan_run, plan_together  # the AWS side, when asked

        outcomes = self._each(self.targets, lambda t: plan_run(self.workflows[t]))
        return plan_together(self, outcomes)

    def run(self) -> MatrixResult[WorkflowResult]:
        """``LayerWorkflow.run()`` for every target, or one universal layer for them all.

        First each target looks for the version that holds its build (its own or a universal
        one): when every target finds it, nothing is built. Otherwise, when the targets may
        share one zip, the changed targets are built (and, if their trees are pure Python,
        the others too) to learn whether their trees are one: then one zip is made, uploaded
        and published once, declaring every runtime and architecture of the set. Else each
        target runs on its own.
        """
        self.prepare_aws()
        self.first.check()  # the bucket, storage mode and regions are the same for all
        probes = self._each(self.targets, lambda t: self.workflows[t].find_unchanged())
        errors = {t: o.error for t, o in probes.items() if o.error is not None}
        unchanged = {t: o.result for t, o in probes.items() if o.ok and o.result is not None}
        changed = [t for t, o in probes.items() if o.ok and o.result is None]
        verdict: Universality | None = None
        blocker = self.universal_blocker()
        if changed and not errors and blocker is None:
            verdict, errors = self._verify_universal(changed)
            if verdict.universal:
                return self._shared(self.universal_workflow.run_checked, verdict)
        elif changed:
            verdict = Universality(False, blocker or "a target failed")

        def run(target: LayerTarget) -> WorkflowResult:
            workflow = self.workflows[target]
            found = unchanged.get(target)
            return workflow.run_steps() if found is None else workflow.run_unchanged(found)

        outcomes = {
            # A universal version found by a target's own comparison is still shared.
            t: attrs.evolve(o, universal=o.result.publish.universal) if o.result else o
            for t, o in self._each([t for t in self.targets if t not in errors], run).items()
        }
        outcomes.update({t: TargetOutcome(t, error=e) for t, e in errors.items()})
        return MatrixResult(tuple(outcomes[t] for t in self.targets), verdict)

    # -- helpers --------------------------------------------------------------------------

    def prepare_aws(self) -> None:
        """Make, in this thread, every AWS client the workers will use (boto3 sessions are
        not thread-safe): each workflow's and its extra regions'."""
        for workflow in self.workflows.values():
            _ = workflow.aws
            for region in workflow.regions:
                workflow.region_aws(region.region)

    def _verify_universal(
        self, changed: Sequence[LayerTarget]
    ) -> tuple[Universality, dict[LayerTarget, Exception]]:
        """Build the changed targets, then (if their trees are pure) the others, and judge;
        returns the verdict and the errors of the builds that failed (those targets' end)."""
        first = self._each(changed, lambda t: self.workflows[t].build())
        failed = {t: o.error for t, o in first.items() if o.error is not None}
        if failed:
            return Universality(False, f"{next(iter(failed)).name} failed to build"), failed
        for target, outcome in first.items():
            assert outcome.result is not None
            problem = impurity(outcome.result.dir_python, outcome.result.distributions)
            if problem is not None:
                return Universality(False, f"{problem} ({target.name})"), {}
        rest = self._each(
            [t for t in self.targets if t not in first], lambda t: self.workflows[t].build()
        )
        failed = {t: o.error for t, o in rest.items() if o.error is not None}
        if failed:
            return Universality(False, f"{next(iter(failed)).name} failed to build"), failed
        builds = {**first, **rest}
        results = [builds[t].result for t in self.targets]
        return universality([r for r in results if r is not None]), {}

    def _universality(
        self, outcomes: dict[LayerTarget, TargetOutcome[BuildResult]]
    ) -> Universality:
        blocker = self.universal_blocker()
        if blocker is not None:
            return Universality(False, blocker)
        failed = [t for t, o in outcomes.items() if not o.ok]
        if failed:
            return Universality(False, f"{failed[0].name} has no tree")
        return universality([o.result for o in outcomes.values() if o.result is not None])

    def _package_universal(self) -> PackageResult:
        workflow = self.universal_workflow
        with contextlib.ExitStack() as stack:
            # Each target's tree, checked and zipped under its own folder lock (taken in the
            # targets' order, so two such commands cannot deadlock), and the universal zip's.
            for target in self.targets:
                stack.enter_context(self.workflows[target].folder_lock("package"))
            stack.enter_context(workflow.folder_lock("package"))
            return workflow.package(workflow.last_build())

    def _shared(self, make: Callable[[], R], verdict: Universality) -> MatrixResult[R]:
        """One result (the universal layer's) as the outcome of every target."""
        try:
            result = make()
        except Exception as exc:
            logger.debug("the universal layer failed", exc_info=True)
            outcomes = tuple(TargetOutcome[R](t, error=exc, universal=True) for t in self.targets)
        else:
            outcomes = tuple(TargetOutcome(t, result, universal=True) for t in self.targets)
        return MatrixResult(outcomes, verdict)

    def _each(
        self, targets: Sequence[LayerTarget] | TargetSet, work: Callable[[LayerTarget], R]
    ) -> dict[LayerTarget, TargetOutcome[R]]:
        """``work(target)`` for each target on the pool; errors become outcomes. Stopped
        (Ctrl-C, SIGTERM), the targets not started are cancelled and those started finish."""
        targets = list(targets)
        if not targets:
            return {}
        if len(targets) == 1 or self.workers == 1:
            return {t: _attempt(t, work) for t in targets}
        # Filled lazily and without a lock on Python 3.11: a thread reading the variables
        # while another fills them gets None (finding uv then failed in one target).
        sysconfig.get_config_vars()
        pool = ThreadPoolExecutor(min(self.workers, len(targets)), "layer-builder-target")
        with shutting_down(pool):
            futures = {t: pool.submit(_attempt, t, work) for t in targets}
            try:
                return {t: future.result() for t, future in futures.items()}
            except BaseException:
                running = [t.name for t, f in futures.items() if f.running()]
                logger.warning(
                    "stopping: the targets not started are cancelled; waiting for %s to finish",
                    ", ".join(running) or "no target",
                )
                raise


def _attempt(target: LayerTarget, work: Callable[[LayerTarget], R]) -> TargetOutcome[R]:
    token = CURRENT_TARGET.set(target)
    try:
        return TargetOutcome(target, work(target))
    except Exception as exc:
        logger.debug("%s failed", target.name, exc_info=True)
        return TargetOutcome(target, error=exc)
    finally:
        CURRENT_TARGET.reset(token)
