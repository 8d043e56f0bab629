"""The errors the ``artifact_builder`` façade raises on its own.

Each also derives from the built-in exception ``aws_lambda_artifact_builder`` raised in the
same situation (``FileNotFoundError``, ``ValueError``), so that a script's ``except`` clauses
keep catching them; and from :class:`~layer_builder.LayerBuilderError`, as every error raised
on purpose by layer_builder does.
"""

from __future__ import annotations

from layer_builder.errors import AwsError, LayerBuilderError, MismatchedBuildError, ProjectError


class NothingBuiltError(ProjectError, FileNotFoundError):
    """The tree or zip a step works from is missing: the step before it did not run."""


class LayerZipNotUploadedError(AwsError, FileNotFoundError):
    """Nothing is staged at ``layer/layer.zip``: the upload step did not run."""


class InconsistentLayerZipError(MismatchedBuildError, ValueError):
    """The staged ``layer/layer.zip`` holds another manifest's build, or another tool's."""


class DependenciesUnchangedError(LayerBuilderError, ValueError):
    """Nothing to publish, and ``raise_on_unchanged=True`` asked for the old error."""


class ManifestNotFoundError(ProjectError, FileNotFoundError):
    """The build tool's manifest (``requirements.txt``, ``poetry.lock``, ``uv.lock``) is missing."""
