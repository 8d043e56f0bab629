"""A workflow subclass that adds a hook: import-smoke-test the built tree before packaging.

Run: .venv/bin/python examples/hook_smoke_test.py   (needs the ``local`` extra and the network)

A layer can install cleanly and still fail at import time on Lambda (a wheel missing a
dependency, a shared object built for another glibc). Importing every top-level module of the
tree catches that before anything is uploaded, but only when this host can load the target's
wheels: same Python version, same CPU, Linux. Otherwise the test is skipped, not faked.
"""

from __future__ import annotations

import logging
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from layer_builder import (
    BuildError,
    BuildResult,
    LayerTarget,
    LayerWorkflow,
    LocalAwsEndpoint,
)

SIMPLE_APP = Path(__file__).resolve().parent / "simple_app"
# Leave out a build/ the README command may have left there: these runs start from scratch.
NO_BUILD = shutil.ignore_patterns("build")


class SmokeTestError(BuildError):
    """A module of the built layer does not import.

    Deriving from a LayerBuilderError class lets the CLI and callers treat it like any other
    build failure: one clear message, no traceback.
    """


def host_runs(target: LayerTarget) -> bool:
    """Whether this interpreter can load wheels built for ``target``."""
    host_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (
        sys.platform == "linux"
        and platform.machine() == target.machine
        and host_version == target.python_version
    )


def top_level_modules(build: BuildResult) -> list[str]:
    """The importable names each distribution's RECORD puts at the root of the tree."""
    names = set()
    for dist in build.distributions:
        for file in dist.files:
            first = file.split("/")[0]
            if first.endswith(".py"):
                names.add(first[:-3])
            elif "/" in file and file.endswith("/__init__.py") and file.count("/") == 1:
                names.add(first)
    return sorted(names)


class SmokeTestedWorkflow(LayerWorkflow):
    def after_build(self, result: BuildResult) -> None:
        if not host_runs(result.target):
            print(
                f"smoke test skipped: this host (Python {platform.python_version()}, "
                f"{platform.machine()}) cannot load wheels for {result.target.description}"
            )
            return
        modules = top_level_modules(result)
        # -I -S: no site-packages, no PYTHON* variables, so only the stdlib and the layer's
        # tree are importable, as on Lambda (where the tree is /opt/python). -B: a hook must
        # not write into the tree (no __pycache__): packaging refuses a tree changed since
        # its build.
        code = (
            f"import sys; sys.path.insert(0, {str(result.dir_python)!r})\n"
            f"for name in {modules!r}: __import__(name)"
        )
        process = subprocess.run(
            [sys.executable, "-I", "-S", "-B", "-c", code],
            capture_output=True,
            text=True,
            check=False,
        )
        if process.returncode != 0:
            last_line = (process.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise SmokeTestError(
                f"the layer built in {result.dir_python} fails to import: {last_line}: "
                f"pin a version that ships a complete wheel for {result.target.runtime}"
            )
        print(f"smoke test passed: imported {', '.join(modules)}")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    # This host's Python and CPU, so the smoke test runs; then Lambda's arm64, where it cannot.
    machine = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine(), "x86_64")
    host_target = LayerTarget(f"{sys.version_info.major}.{sys.version_info.minor}", machine)
    with tempfile.TemporaryDirectory() as tmp, LocalAwsEndpoint() as endpoint:
        project = Path(shutil.copytree(SIMPLE_APP, Path(tmp) / "simple_app", ignore=NO_BUILD))
        endpoint.ensure_bucket("layer-builder-example")
        for target in (host_target, LayerTarget("3.12", "arm64")):
            name = f"simple_app_deps_{target.interpreter_tag}_{target.architecture}"
            workflow = SmokeTestedWorkflow(
                project_dir=project,
                layer_name=name,
                s3dir_lambda=f"s3://layer-builder-example/projects/{name}/lambda/",
                target=target,
                aws=endpoint.clients(),
            )
            result = workflow.run()
            print(f"published {result.publish.layer_version_arn} for {target.description}")


if __name__ == "__main__":
    main()
