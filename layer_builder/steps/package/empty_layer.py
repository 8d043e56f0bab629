"""A layer with nothing to import is refused before its zip is written.

However it comes about (a manifest whose every requirement has a marker false for the target,
a requirements file that lists nothing, every distribution excluded, slimming or an override
of ``select_files`` that leaves only metadata), such a zip would be uploaded and published as
a new version that gives the function nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from layer_builder.errors import PackageError
from layer_builder.model.distributions import InstalledDistribution
from layer_builder.steps.build import BuildResult
from layer_builder.steps.package.options import RUNTIME_PROVIDED

#: What Python imports: modules, bytecode without source, extension modules.
_IMPORTABLE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")


def is_importable(relative: str) -> bool:
    """Whether the file ``relative`` (``yaml/__init__.py``) is a module Python can import
    from the layer: not metadata (``*.dist-info/``), nor a library folder (``numpy.libs/``)."""
    top, _, rest = relative.partition("/")
    name = top if rest else top.split(".", 1)[0]
    return name.isidentifier() and name != "__pycache__" and relative.endswith(_IMPORTABLE_SUFFIXES)


def _names(distributions: Iterable[InstalledDistribution]) -> str:
    return ", ".join(d.name for d in distributions)


def refuse_empty_layer(
    files: Iterable[str],
    build: BuildResult,
    distributions: Sequence[InstalledDistribution],
    excluded: Sequence[InstalledDistribution],
) -> None:
    """Raise ``PackageError`` when none of ``files`` (the tree's, as they go into the zip) is
    importable; ``distributions`` are the tree's, ``excluded`` those left out."""
    if any(is_importable(relative) for relative in files):
        return
    manifest = build.manifest
    target = build.target.description
    where = f"{build.dir_python} (built from {manifest.path} for {target})"
    if not distributions:
        raise PackageError(
            f"the layer would be empty: {where} holds no distribution, as no requirement of "
            f"{manifest.filename} applies to {target} (every marker false for it) or it lists "
            f"none; add the function's dependencies to {manifest.filename}, or build for the "
            f"target its markers name (--python, --arch)"
        )
    if len(excluded) == len(distributions):
        if all(d.canonical_name in RUNTIME_PROVIDED for d in excluded):
            what_to_do = (
                f"the Lambda runtime provides them: add what else the function needs to "
                f"{manifest.filename}"
            )
        else:
            what_to_do = (
                f"ship some of them (name only the others in --exclude, or exclude = [...] in "
                f"[tool.layer_builder]), or add what the function needs to {manifest.filename}"
            )
        raise PackageError(
            f"the layer would be empty: every distribution in {where} is excluded "
            f"({_names(excluded)}); {what_to_do}"
        )
    kept = [d for d in distributions if d not in excluded]
    left_out = f" (excluded: {_names(excluded)})" if excluded else ""
    raise PackageError(
        f"the layer would hold nothing to import: of {where}, {_names(kept)} leave no module "
        f"or package in the zip{left_out}; package without --slim, check what select_files() "
        f"leaves out, or add the function's dependencies to {manifest.filename}"
    )
