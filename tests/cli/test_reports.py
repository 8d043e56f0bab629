"""``package``'s licence report, ``--deny-license``, ``--report`` and ``layer-builder sbom``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MakeProject

PINS = {"tinyhttp": "2.0.0", "tinyutil": "1.0.0", "fastcalc": "1.0.0", "tinygpl": "1.0.0"}


@pytest.fixture
def built_project(make_project: MakeProject, cli: Any) -> Path:
    project = make_project(PINS)
    code, _, err = cli("build", "--project", project)
    assert code == 0, err
    return project


def test_package_json_has_the_licence_report_and_the_sbom(built_project: Path, cli: Any) -> None:
    code, out, err = cli("package", "--project", built_project, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["licenses"] == [
        {"name": "fastcalc", "version": "1.0.0", "expression": None, "text": "BSD",
         "source": "License"},
        {"name": "tinygpl", "version": "1.0.0", "expression": "GPL-3.0-or-later", "text": "",
         "source": "License-Expression"},
        {"name": "tinyhttp", "version": "2.0.0", "expression": "Apache-2.0", "text": "",
         "source": "License"},
        {"name": "tinyutil", "version": "1.0.0", "expression": "MIT", "text": "",
         "source": "License-Expression"},
    ]  # fmt: skip
    assert data["sbom"] == str(built_project / "build/lambda/layer/sbom.cdx.json")
    assert "report" not in data


def test_human_output_lists_licences(built_project: Path, cli: Any) -> None:
    code, out, _ = cli("package", "--project", built_project)
    assert code == 0
    lines = out.splitlines()
    start = lines.index("distribution    licence (source)")
    assert lines[start + 1 : start + 5] == [
        "fastcalc 1.0.0  BSD (License)",
        "tinygpl 1.0.0   GPL-3.0-or-later (License-Expression)",
        "tinyhttp 2.0.0  Apache-2.0 (License)",
        "tinyutil 1.0.0  MIT (License-Expression)",
    ]
    assert lines[start + 5] == (
        f"SBOM (CycloneDX): {built_project / 'build/lambda/layer/sbom.cdx.json'}"
    )


def test_deny_license_refuses_in_one_line(built_project: Path, cli: Any) -> None:
    code, out, err = cli(
        "package", "--project", built_project, "--deny-license", "AGPL-*",
        "--deny-license", "gpl-*",
    )  # fmt: skip
    assert code == 1
    assert out == ""
    assert err == (
        "layer-builder: using python3.12 x86_64 from the last build\n"
        "layer-builder: error: tinygpl 1.0.0 is GPL-3.0-or-later (from License-Expression), "
        "refused by --deny-license gpl-*: remove it from the project's dependencies, leave it "
        "out with --exclude tinygpl if the function does not import it, or stop denying that "
        "licence\n"
    )
    assert not (built_project / "build/lambda/layer/layer.zip").exists()
    code, _, err = cli("package", "--project", built_project, "--deny-license", "GPL OR MIT")
    assert code == 1
    assert "invalid --deny-license 'GPL OR MIT': give one SPDX licence identifier" in err


def test_deny_licenses_from_pyproject(make_project: MakeProject, cli: Any) -> None:
    extra = '[tool.layer_builder]\ndeny_licenses = ["GPL-3.0-or-later"]\n'
    project = make_project(PINS, pyproject_extra=extra)
    assert cli("build", "--project", project).code == 0
    code, _, err = cli("package", "--project", project)
    assert code == 1
    assert "tinygpl 1.0.0 is GPL-3.0-or-later (from License-Expression), refused by " in err
    code, _, err = cli("package", "--project", project, "--exclude", "tinygpl")
    assert code == 0, err
    assert "--deny-license cannot judge fastcalc 1.0.0 (BSD)" in err


@pytest.mark.usefixtures("aws_env")
def test_run_applies_deny_license_when_the_layer_is_unchanged(
    make_project: MakeProject, bucket: str, layer_name: str, cli: Any
) -> None:
    project = make_project(PINS)
    common = ["run", "--project", project, "--layer-name", layer_name, "--s3dir",
              f"s3://{bucket}/app/", "--quiet"]  # fmt: skip
    assert cli(*common).code == 0

    code, out, err = cli(*common, "--deny-license", "GPL-*")

    assert (code, out) == (1, "")
    assert err == (
        f"layer-builder: error: tinygpl 1.0.0 is GPL-3.0-or-later (from s3://{bucket}/app/layer/"
        "000001/contents.json), refused by --deny-license GPL-*: remove it from the project's "
        "dependencies, leave it out with --exclude tinygpl if the function does not import it, "
        "or stop denying that licence\n"
    )
    assert cli(*common, "--deny-license", "AGPL-*").code == 0


def test_report_flag_writes_the_page(built_project: Path, cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "out" / "size.html"
    code, out, err = cli("package", "--project", built_project, "--report", target, "--json")
    assert code == 0, err
    assert json.loads(out)["report"] == str(target)
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert 'class="dist" data-name="tinyhttp"' in page


def test_sbom_command_prints_or_writes_the_current_sbom(
    built_project: Path, cli: Any, tmp_path: Path
) -> None:
    assert cli("package", "--project", built_project).code == 0
    written = (built_project / "build/lambda/layer/sbom.cdx.json").read_text()
    code, out, err = cli("sbom", "--project", built_project)
    assert code == 0, err
    assert out == written
    assert cli("sbom", "--project", built_project, "--json").out == written
    output = tmp_path / "sbom.json"
    code, out, _ = cli("sbom", "--project", built_project, "--output", output)
    assert code == 0
    assert out == f"{output} (4 components)\n"
    assert output.read_text() == written
    code, out, _ = cli("sbom", "--project", built_project, "--output", output, "--json")
    assert json.loads(out)["components"] == 4


def test_sbom_command_refuses_a_missing_or_stale_sbom(built_project: Path, cli: Any) -> None:
    zip_path = built_project / "build/lambda/layer/layer.zip"
    code, _, err = cli("sbom", "--project", built_project)
    assert code == 1
    assert err == (
        f"layer-builder: error: {zip_path} does not exist: run `layer-builder package` first\n"
    )
    assert cli("package", "--project", built_project).code == 0
    assert cli("package", "--project", built_project, "--exclude", "tinygpl").code == 0
    (built_project / "build/lambda/layer/sbom.cdx.json").unlink()
    code, _, err = cli("sbom", "--project", built_project)
    assert code == 1
    assert "sbom.cdx.json does not exist: run `layer-builder package` first" in err
    assert cli("package", "--project", built_project).code == 0
    zip_path.write_bytes(b"another zip")
    code, _, err = cli("sbom", "--project", built_project)
    assert code == 1
    assert "sbom.cdx.json describes another zip (sha256 " in err
    assert err.endswith(": run `layer-builder package` again\n")
