"""Start-up: what a command imports. `--help` and `--version` load no part of the library, and
the commands that need no AWS (`build`, `package`) never load boto3, botocore or s3pathlib.

Each case runs in a fresh interpreter and reports ``sys.modules`` as the command left it, so
that a later import added at the top of a module cannot bring boto3 back unnoticed. (How fast
that is lives in benchmarks/bench_startup.py: no timed assertions here.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import layer_builder
from layer_builder.cli import flag_values
from tests.conftest import MakeProject

#: Imported by boto3 and s3pathlib; none of them may load without an AWS call to make.
AWS_LIBRARIES = ("boto3", "botocore", "s3transfer", "s3pathlib", "smart_open")
HOST = f"{sys.version_info.major}.{sys.version_info.minor}"

#: Runs the CLI's main() in this interpreter, then prints the names of the loaded modules.
CLI = textwrap.dedent(
    """
    import json, sys
    from layer_builder.cli.main import main
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:  # --help, --version
        code = exc.code
    print("\\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules)}))
    """
)


def loaded_by(code: str, *args: str | Path) -> list[str]:
    """The modules loaded once ``code`` ran with ``args`` in a fresh interpreter (which must
    print its report last, as ``CLI`` does, and exit 0)."""
    process = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr
    report = json.loads(process.stdout.rsplit("\nMODULES ", 1)[1])
    assert report["code"] in (0, None), process.stderr
    modules: list[str] = report["modules"]
    return modules


def aws_modules(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in AWS_LIBRARIES]


@pytest.mark.parametrize(
    "args", [["--version"], ["--help"], ["build", "--help"], ["run", "--help"]]
)
def test_help_and_version_load_no_part_of_the_library(args: list[str]) -> None:
    modules = loaded_by(CLI, *args)
    assert aws_modules(modules) == []
    heavy = [m for m in modules if m.startswith(("layer_builder.steps", "layer_builder.workflow"))]
    assert heavy == [], "the parser must not import the steps (they take ~0.1 s to import)"
    assert "attrs" not in modules and "packaging" not in modules


def test_build_and_package_never_load_boto3(make_project: MakeProject) -> None:
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    built = loaded_by(CLI, "build", "--project", project, "--python", HOST)
    assert "layer_builder.steps.build" in built, "the build really ran"
    assert aws_modules(built) == []
    # --slim on the host's own Python also runs the import smoke test.
    packaged = loaded_by(CLI, "package", "--project", project, "--python", HOST, "--slim")
    assert (project / "build" / "lambda" / "layer" / "layer.zip").is_file()
    assert aws_modules(packaged) == []


def test_a_build_of_several_targets_never_loads_boto3(make_project: MakeProject) -> None:
    project = make_project({"tinyhttp": "2.0.0", "tinyutil": "1.0.0"})
    targets = ["--target", f"{HOST}/x86_64", "--target", f"{HOST}/arm64"]
    built = loaded_by(CLI, "build", "--project", project, *targets)
    assert "layer_builder.matrix" in built, "the targets really ran side by side"
    assert (project / "build" / "lambda" / f"python{HOST}-arm64" / "layer").is_dir()
    assert aws_modules(built) == []


def test_the_package_names_load_no_aws_library_until_asked_for() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        import layer_builder
        from layer_builder import (
            BuildStep, LayerPathLayout, LayerTarget, LayerWorkflow, PackageError, PackageOptions,
            PackageStep, PublishOptions,
        )
        LayerPathLayout(".").path_layer_zip
        workflow = LayerWorkflow(".", "my_layer", "s3://my-bucket/app/lambda/")
        before = sorted(sys.modules)
        workflow.s3_layout.s3path_layer_zip  # the S3 side, asked for
        print("\\nMODULES " + json.dumps({"code": 0, "modules": before}))
        assert "s3pathlib" in sys.modules
        """
    )
    assert aws_modules(loaded_by(code)) == []


def test_every_public_name_resolves_lazily() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        import layer_builder
        names = [n for n in layer_builder.__all__ if getattr(layer_builder, n) is not None]
        print("\\nMODULES " + json.dumps({"code": 0, "modules": names}))
        """
    )
    assert sorted(loaded_by(code)) == sorted(layer_builder.__all__)
    assert set(layer_builder.__all__) <= set(dir(layer_builder))
    assert layer_builder.LayerWorkflow.__name__ == "LayerWorkflow"
    with pytest.raises(AttributeError, match="module 'layer_builder' has no attribute 'Nope'"):
        _ = layer_builder.Nope


def test_the_parsers_choices_are_the_librarys() -> None:
    from layer_builder.archive.deflate import BACKENDS
    from layer_builder.steps.build import INSTALLERS
    from layer_builder.steps.package.slimming import STRIP_MODES
    from layer_builder.steps.package.step import DEFAULT_EXCLUDES

    assert (flag_values.INSTALLERS, flag_values.DEFAULT_EXCLUDES, flag_values.BACKENDS) == (
        INSTALLERS,
        DEFAULT_EXCLUDES,
        BACKENDS,
    )
    assert list(STRIP_MODES) == list(flag_values.STRIP_MODES)
