"""The scripts in examples/ run end to end against the embedded endpoint, as a user runs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Captured at import, before the autouse fixture points pip at the test wheel index: the
# examples install simple_app's real requests from the package index, as a user's run does.
_USER_ENV = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}

pytestmark = pytest.mark.network


def run_example(name: str) -> str:
    process = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        env=_USER_ENV,
        cwd=EXAMPLES.parent,
        timeout=600,
        check=False,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return process.stdout


def test_script_workflow_publishes_once_and_rebuilds_identically() -> None:
    out = run_example("script_workflow.py")
    assert "built      5 distributions for python3.12 arm64" in out
    assert "published  True: arn:aws:lambda:us-east-1:123456789012:layer:simple_app_deps:1" in out
    assert "second run published=False version=1 reason: requirements.txt and build" in out
    assert "rebuilt    same sha256: True" in out


def test_hook_smoke_test_imports_the_host_layer_and_skips_the_foreign_one() -> None:
    out = run_example("hook_smoke_test.py")
    assert "smoke test passed: imported certifi, charset_normalizer, idna, requests, urllib3" in out
    assert re.search(r"smoke test skipped: .* cannot load wheels for python3\.12 arm64", out)
    assert ":layer:simple_app_deps_cp312_arm64:1 for python3.12 arm64" in out


def test_swap_step_packages_smaller_with_the_same_fingerprint() -> None:
    out = run_example("swap_step.py")
    sizes = dict(re.findall(r"^level (\d): +([\d,]+) bytes$", out, flags=re.MULTILINE))
    assert int(sizes["9"].replace(",", "")) < int(sizes["6"].replace(",", ""))
    assert "same fingerprint: True" in out
    assert "published arn:aws:lambda:us-east-1:123456789012:layer:simple_app_deps:1" in out
