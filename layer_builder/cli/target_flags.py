"""The flags that name a command's targets and fan them out to CI jobs (``--target``,
``matrix``), held apart from the code that reads them so that building the parser imports
no part of the library."""

from __future__ import annotations

import argparse


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """``--python``, ``--arch``, ``--target`` and ``--no-universal``."""
    # "append", so that a repeated --python is an error rather than the last one winning.
    parser.add_argument("--python", action="append", metavar="VERSION",
                        help="Lambda Python version of the one target (default: 3.12)")  # fmt: skip
    parser.add_argument("--arch", action="append", metavar="ARCH",
                        help="x86_64 or arm64, the one target's (default: x86_64)")  # fmt: skip
    parser.add_argument("--target", action="append", dest="targets", metavar="PYTHON/ARCH",
                        help="a Lambda target, e.g. 3.12/arm64; repeat it for several targets "
                             "in one command (build, package, run, plan)")  # fmt: skip
    parser.add_argument("--no-universal", action="store_true",
                        help="one layer version per target even when every dependency is pure "
                             "Python")  # fmt: skip


MATRIX_COMMAND = {
    "matrix": "print one job per target for GitHub Actions (strategy.matrix JSON) or write an "
    "AWS CodeBuild batch buildspec; each job runs `layer-builder run --target ...`",
}
MATRIX_FORMATS = ("github", "codebuild")


def add_matrix_arguments(parser: argparse.ArgumentParser) -> None:
    """``--format`` and ``--output`` of ``matrix``."""
    parser.add_argument("--format", choices=MATRIX_FORMATS, default="github",
                        help="github: the strategy.matrix JSON (default); codebuild: a batch "
                             "buildspec (YAML)")  # fmt: skip
    parser.add_argument("--output", metavar="FILE",
                        help="write to FILE instead of printing")  # fmt: skip
