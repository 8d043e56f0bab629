"""The exception hierarchy: every error a user can hit is a ``LayerBuilderError``.

Messages follow one rule: say what was wrong, where, and what to do about it, in one line
that the CLI can print as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class LayerBuilderError(Exception):
    """Root of every error raised on purpose by layer_builder."""


class ConfigurationError(LayerBuilderError):
    """An argument or setting is invalid (target, layer name, S3 folder, options)."""


class ProjectError(LayerBuilderError):
    """The project directory or its dependency manifest is missing or unreadable."""


class BuildError(LayerBuilderError):
    """Installing the dependencies failed."""


class ToolMissingError(BuildError):
    """An installer the build needs is not available, or too old."""


class InstallerFailedError(BuildError):
    """The installer subprocess exited non-zero; carries its command line and output."""

    def __init__(self, message: str, command: Sequence[str], output: str, returncode: int):
        self.command = tuple(command)
        self.output = output
        self.returncode = returncode
        super().__init__(message)

    def __str__(self) -> str:
        tail = "\n".join(self.output.strip().splitlines()[-30:])
        return (
            f"{self.args[0]}\n"
            f"command (exit code {self.returncode}): {' '.join(self.command)}\n"
            f"output (last lines):\n{tail}"
        )


class NoCompatibleWheelError(BuildError):
    """A dependency has no wheel for the layer's target."""

    def __init__(self, package: str, target_description: str, detail: str = ""):
        self.package = package
        self.target_description = target_description
        message = (
            f"no wheel of {package!r} matches the layer target {target_description}: "
            f"pick a version that publishes such a wheel, or build in a container (--container)"
        )
        if detail:
            message += f" ({detail})"
        super().__init__(message)


class SourceOnlyDependencyError(NoCompatibleWheelError):
    """Dependencies publish only a source distribution, and the build may not compile."""

    def __init__(self, package: str | Sequence[str], target_description: str):
        self.packages = (package,) if isinstance(package, str) else tuple(package)
        self.package = self.packages[0]
        self.target_description = target_description
        names = " and ".join(repr(p) for p in self.packages)
        allow = " ".join(f"--allow-source {p}" for p in self.packages)
        if len(self.packages) > 1:
            verb, what, them, are = "publish", "source distributions", "them", "they are"
        else:
            verb, what, them, are = "publishes", "a source distribution", "it", "it is"
        BuildError.__init__(
            self,
            f"{names} {verb} no wheel for {target_description}, only {what}, and building "
            f"{them} on this host would compile for the host: allow {them} if {are} pure "
            f"Python ({allow}), or build in a container (--container docker)",
        )


class DependencyProblem(Protocol):
    """What ``DependencyProblemsError`` needs of one problem."""

    @property
    def name(self) -> str:
        """The package."""
        ...

    def line(self) -> str:
        """The package, its version, the cause and the fix, in one sentence."""
        ...


class DependencyProblemsError(NoCompatibleWheelError):
    """Dependencies that cannot be installed for the target, every one with its cause and
    fix (found by asking the index after the installer stopped at the first)."""

    def __init__(self, problems: Sequence[DependencyProblem], target_description: str):
        self.problems = tuple(problems)
        self.package = self.problems[0].name
        self.target_description = target_description
        if len(self.problems) == 1:
            head = f"a dependency cannot be installed for {target_description}"
        else:
            head = f"{len(self.problems)} dependencies cannot be installed for {target_description}"
        BuildError.__init__(self, f"{head}: {' | '.join(p.line() for p in self.problems)}")


class SourceBuildRefusedError(BuildError):
    """The manifest asks to build a package from source (``--no-binary``) that the build may
    not compile (no ``--allow-source``)."""


class IndexAuthError(BuildError):
    """The package index refused the request for lack of valid credentials (401 or 403)."""

    def __init__(self, index_url: str, status: int, package: str = ""):
        #: Printable: any credentials in it are masked.
        self.index_url = index_url
        self.status = status
        self.package = package
        reason = {401: "401 Unauthorized", 403: "403 Forbidden"}.get(status, str(status))
        asked = f" when asked for {package!r}" if package else ""
        super().__init__(
            f"the package index {index_url} refused the credentials ({reason}){asked}: check "
            f"the user and token the index URL carries (PIP_INDEX_URL, UV_DEFAULT_INDEX, "
            f"--index-url, --codeartifact) and that they may read this index"
        )


class IndexUnreachableError(BuildError):
    """The installer could not reach the package index (DNS, connection, TLS)."""

    def __init__(self, url: str, cause: str = ""):
        #: Printable: any credentials in it are masked.
        self.url = url
        because = f" ({cause.strip()})" if cause.strip() else ""
        super().__init__(
            f"the package index could not be reached at {url}{because}: check the address "
            f"(--index-url, PIP_INDEX_URL, UV_DEFAULT_INDEX, or the index the lock names) "
            f"and this host's network"
        )


class PackageNotFoundError(BuildError):
    """A dependency, or the pinned version of it, is not in the package index."""

    def __init__(
        self,
        package: str,
        where: str = "the package index",
        requirement: str = "",
        versions: Sequence[str] = (),
    ):
        self.package = package
        self.requirement = requirement
        self.versions = tuple(versions)
        fix = "or add the index that serves it (--extra-index-url)"
        if requirement and requirement != package:
            found = f" (it has {', '.join(self.versions)})" if self.versions else ""
            message = (
                f"no version of {package!r} matching {requirement!r} is in {where}{found}: "
                f"pin a version it has (then lock again), {fix}"
            )
        else:
            message = (
                f"{package!r} is not in {where}: check the name your lock or requirements file "
                f"gives, {fix}"
            )
        super().__init__(message)


class NoDependenciesError(ProjectError):
    """The manifest, with the extras and groups asked for, lists no dependency."""


class StaleLockError(ProjectError):
    """The project's lock file (``uv.lock``, ``poetry.lock``) no longer matches its
    ``pyproject.toml``. (The publish lock's error is ``LockTimeoutError``.)"""


class PythonRangeError(ProjectError):
    """The layer's target is outside the project's Python range (``requires-python``)."""


class MismatchedBuildError(ProjectError):
    """A tree, zip or uploaded object holds another build than the one asked for (another
    manifest, target or options): publishing it would label one build with another's name."""


class IncompatibleWheelError(BuildError):
    """Installed distributions carry wheel tags the layer's target cannot load."""

    def __init__(self, offenders: Sequence[tuple[str, Sequence[str]]], target_description: str):
        self.offenders = tuple((name, tuple(tags)) for name, tags in offenders)
        self.target_description = target_description
        listed = "; ".join(f"{name} ({', '.join(tags)})" for name, tags in self.offenders)
        super().__init__(
            f"installed distributions do not match the layer target {target_description}: "
            f"{listed}: pin versions that publish matching wheels, or build in a container "
            f"(--container docker)"
        )


class NotUniversalError(BuildError):
    """The trees of several targets are not one pure-Python tree: no universal layer."""


class PackageError(LayerBuilderError):
    """Turning the installed tree into ``layer.zip`` failed."""


class LayerTooLargeError(PackageError):
    """The unzipped layer is over Lambda's size limit."""


class LicenseDeniedError(PackageError):
    """The layer would ship a distribution whose licence ``--deny-license`` refuses."""


class AwsError(LayerBuilderError):
    """An AWS call failed; the message names the call, the resource and the fix."""


class StaleUploadError(AwsError):
    """The uploaded object changed or vanished between upload and publish."""


class LockTimeoutError(AwsError):
    """Another run held the publish lock for longer than this run would wait."""


class RegionOutcome(Protocol):
    """What ``RegionsFailedError`` needs of a region's result."""

    @property
    def region(self) -> str:
        """The region the result is for."""
        ...

    @property
    def error(self) -> str | None:
        """Why the region failed (None: it did not)."""
        ...


class RegionsFailedError(AwsError):
    """Some regions failed; the others are done, and a rerun finishes the rest."""

    def __init__(self, results: Sequence[RegionOutcome]):
        self.results = tuple(results)
        failed = [r for r in self.results if r.error is not None]
        listed = "; ".join(f"{r.region}: {r.error}" for r in failed)
        done = len(self.results) - len(failed)
        super().__init__(
            f"{len(failed)} of {len(self.results)} regions failed ({listed}); "
            f"{done} done: run again to finish the failed ones"
        )
