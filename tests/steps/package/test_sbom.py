"""The SBOM and the licence report of a real package run, and --deny-license refusing one."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import zipfile
from pathlib import Path

import attrs
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from layer_builder import (
    AwsClients,
    BuildResult,
    BuildStep,
    LayerPathLayout,
    LayerS3Layout,
    LayerTarget,
    Manifest,
    PackageOptions,
    PackageStep,
)
from layer_builder.errors import LicenseDeniedError
from layer_builder.model.licenses import DistributionLicense
from layer_builder.steps.publish.records import SBOM, local_record_for, write_version_record
from tests.conftest import WheelIndex

PINS = (
    "tinyhttp==2.0.0\ntinyutil==1.0.0\nTiny-YAML==6.0.0\ns3transfer==99.0.0\nfastcalc==1.0.0\n"
    "tinygpl==1.0.0\n"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, wheel_index: WheelIndex) -> BuildResult:
    project = tmp_path_factory.mktemp("sbom") / "app"
    project.mkdir()
    (project / "requirements.txt").write_text(PINS)
    (project / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0.1.0"\n')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_CONFIG_FILE", os.devnull)
        mp.setenv("PIP_INDEX_URL", wheel_index.url)
        manifest = Manifest.from_project(project)
        return BuildStep(LayerTarget("3.12"), manifest, LayerPathLayout(project)).run()


@pytest.fixture
def build(built: BuildResult, tmp_path: Path) -> BuildResult:
    copy = tmp_path / "tree" / "python"
    shutil.copytree(built.dir_python, copy)
    return attrs.evolve(built, dir_python=copy)


def test_sbom_lists_the_shipped_distributions_and_validates(
    build: BuildResult, tmp_path: Path
) -> None:
    result = PackageStep(tmp_path / "layer.zip").run(build)
    assert result.path_sbom == tmp_path / "sbom.cdx.json"
    document = result.path_sbom.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(document) is None
    sbom = json.loads(document)
    assert sbom["specVersion"] == "1.6"
    purls = [c["purl"] for c in sbom["components"]]
    # s3transfer is excluded by default: it is not in the zip, so not in the SBOM.
    assert sorted(purls) == [
        "pkg:pypi/fastcalc@1.0.0",
        "pkg:pypi/tiny-yaml@6.0.0",
        "pkg:pypi/tinygpl@1.0.0",
        "pkg:pypi/tinyhttp@2.0.0",
        "pkg:pypi/tinyutil@1.0.0",
    ]
    root = sbom["metadata"]["component"]
    assert root["hashes"] == [{"alg": "SHA-256", "content": result.sha256}]
    assert {p["name"]: p["value"] for p in root["properties"]}["layer-builder:runtime"] == (
        "python3.12"
    )
    (dependency,) = [d for d in sbom["dependencies"] if d["ref"] == root["bom-ref"]]
    assert sorted(dependency["dependsOn"]) == sorted(purls)
    # Each component's hash is its RECORD as shipped in the zip.
    with zipfile.ZipFile(result.path_zip) as zf:
        for component in sbom["components"]:
            props = {p["name"]: p["value"] for p in component["properties"]}
            record = zf.read(f"python/{props['layer-builder:dist-info']}/RECORD")
            assert component["hashes"] == [
                {"alg": "SHA-256", "content": hashlib.sha256(record).hexdigest()}
            ]
    licences = {c["name"]: c.get("licenses") for c in sbom["components"]}
    assert licences["tinyutil"] == [{"license": {"id": "MIT", "acknowledgement": "declared"}}]
    assert licences["fastcalc"] == [{"license": {"name": "BSD", "acknowledgement": "declared"}}]


def test_an_unchanged_zip_keeps_its_sbom_and_a_new_one_gets_its_own(
    build: BuildResult, tmp_path: Path
) -> None:
    first = PackageStep(tmp_path / "layer.zip").run(build)
    assert first.path_sbom is not None
    written = first.path_sbom.read_bytes()  # its serial number and timestamp are its own
    again = PackageStep(tmp_path / "layer.zip").run(build)
    assert again.sha256 == first.sha256 and again.path_sbom == first.path_sbom
    assert first.path_sbom.read_bytes() == written, "not made again for the same zip"
    other = PackageStep(tmp_path / "layer.zip", PackageOptions(excludes=())).run(build)
    assert other.sha256 != first.sha256
    document = json.loads(first.path_sbom.read_text())
    assert document["metadata"]["component"]["hashes"][0]["content"] == other.sha256
    assert "pkg:pypi/s3transfer@99.0.0" in [c["purl"] for c in document["components"]]


def test_licence_report_in_the_result(build: BuildResult, tmp_path: Path) -> None:
    result = PackageStep(tmp_path / "layer.zip").run(build)
    assert result.licenses == (
        DistributionLicense("fastcalc", "1.0.0", None, "BSD", "License"),
        DistributionLicense("Tiny-YAML", "6.0.0", "MIT", "MIT License", "classifiers"),
        DistributionLicense("tinygpl", "1.0.0", "GPL-3.0-or-later", "", "License-Expression"),
        DistributionLicense("tinyhttp", "2.0.0", "Apache-2.0", "", "License"),
        DistributionLicense("tinyutil", "1.0.0", "MIT", "", "License-Expression"),
    )


def test_denied_licence_stops_before_the_zip_is_written(
    build: BuildResult, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    options = PackageOptions(deny_licenses=("GPL-*",))
    with pytest.raises(LicenseDeniedError) as caught:
        PackageStep(tmp_path / "layer.zip", options).run(build)
    assert str(caught.value).startswith(
        "tinygpl 1.0.0 is GPL-3.0-or-later (from License-Expression), refused by "
        "--deny-license GPL-*: "
    )
    assert not (tmp_path / "layer.zip").exists()
    # Left out, it is not shipped, so not refused; fastcalc's "BSD" cannot be judged.
    caplog.set_level(logging.WARNING, "layer_builder")
    options = attrs.evolve(options, excludes=("s3transfer", "tinygpl"))
    result = PackageStep(tmp_path / "layer.zip", options).run(build)
    assert "tinygpl" not in [d.name for d in result.licenses]
    assert "--deny-license cannot judge fastcalc 1.0.0 (BSD): their metadata gives no SPDX " in (
        caplog.text
    )


def test_version_sbom_is_stored_beside_the_manifest_backup(
    build: BuildResult, tmp_path: Path, aws: AwsClients, bucket: str
) -> None:
    result = PackageStep(tmp_path / "layer.zip").run(build)
    assert result.path_sbom is not None
    layout = LayerS3Layout(f"s3://{bucket}/app/lambda/")
    document = local_record_for(SBOM, result.path_sbom, result.sha256)
    assert document is not None
    s3path = write_version_record(SBOM, aws.s3, layout, 7, document)
    assert s3path.uri == f"s3://{bucket}/app/lambda/layer/000007/sbom.cdx.json"
    stored = aws.s3.get_object(Bucket=bucket, Key=s3path.key)
    assert stored["Body"].read() == document
    assert stored["ContentType"] == "application/vnd.cyclonedx+json"
    assert stored["Metadata"] == {"layer-version": "7"}


def test_no_version_sbom_for_another_zip(
    build: BuildResult, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    result = PackageStep(tmp_path / "layer.zip").run(build)
    assert result.path_sbom is not None
    caplog.set_level(logging.WARNING, "layer_builder")
    assert local_record_for(SBOM, result.path_sbom, "0" * 64) is None
    assert f"{result.path_sbom} describes another zip (sha256 {result.sha256}, not " in caplog.text
    assert local_record_for(SBOM, tmp_path / "missing.json", result.sha256) is None
    assert "no SBOM at " in caplog.text


def test_no_version_sbom_from_a_file_that_is_not_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Stored after the version is published: a broken file is left out with a warning, it
    # does not fail the publish that already happened.
    broken = tmp_path / "sbom.cdx.json"
    broken.write_text("{}")
    caplog.set_level(logging.WARNING, "layer_builder")
    assert local_record_for(SBOM, broken, "0" * 64) is None
    assert f"{broken} is not an SBOM written by layer-builder: run `layer-builder package`" in (
        caplog.text
    )
