"""The ``layer-builder`` command: in-process through ``main()``, and as a real subprocess."""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from layer_builder import AwsClients
from layer_builder.cli.config import KNOWN_KEYS
from tests.conftest import MakeProject

ARM_SO = "python/fastcalc/_speedups.cpython-312-aarch64-linux-gnu.so"
X86_SO = "python/fastcalc/_speedups.cpython-312-x86_64-linux-gnu.so"
PINS = {"tinyhttp": "2.0.0", "tinyutil": "1.0.0", "fastcalc": "1.0.0"}


@attrs.frozen
class Outcome:
    code: int
    out: str
    err: str

    def __iter__(self) -> Iterator[Any]:
        """``code, out, err = cli(...)``."""
        return iter((self.code, self.out, self.err))

    @property
    def json(self) -> dict[str, Any]:
        """stdout holds exactly one JSON object (one line) and nothing else."""
        assert self.out.endswith("\n")
        assert self.out.count("\n") == 1, self.out
        data = json.loads(self.out)
        assert isinstance(data, dict)
        return data

    @property
    def error(self) -> str:
        """The one error line on stderr, without its ``layer-builder: error:`` prefix."""
        assert self.code == 1, (self.code, self.err)
        assert self.out == ""
        assert "Traceback" not in self.err
        prefix = "layer-builder: error: "
        lines = [line for line in self.err.splitlines() if line.startswith(prefix)]
        assert len(lines) == 1, self.err
        return lines[0][len(prefix) :]


def run_subprocess(*args: str | Path, env: dict[str, str] | None = None) -> Outcome:
    """Run ``python -m layer_builder.cli ARGS`` with the test's environment."""
    process = subprocess.run(
        [sys.executable, "-m", "layer_builder.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Outcome(process.returncode, process.stdout, process.stderr)


def bucket_keys(aws: AwsClients, bucket: str) -> set[str]:
    response = aws.s3.list_objects_v2(Bucket=bucket)
    return {item["Key"] for item in response.get("Contents", [])}


def zip_names(path: Path | str) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def sha256_of(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -- the acceptance path ----------------------------------------------------------------------


@pytest.mark.usefixtures("aws_env")
def test_run_builds_an_arm64_layer_on_this_host_and_reruns_as_a_no_op(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    project = make_project(PINS)
    args = [
        "run", "--project", project, "--layer-name", layer_name,
        "--s3dir", f"s3://{bucket}/app/lambda/", "--python", "3.12", "--arch", "arm64", "--json",
    ]  # fmt: skip
    first = run_subprocess(*args)
    assert first.code == 0, first.err
    assert "Traceback" not in first.err
    data = first.json
    assert data["published"] is True
    assert data["layer_version"] == 1
    assert data["layer_version_arn"].endswith(f":layer:{layer_name}:1")
    path_zip = project / "build" / "lambda" / "layer" / "layer.zip"
    assert data["zip_sha256"] == sha256_of(path_zip)
    assert data["s3_uri"] == f"s3://{bucket}/app/lambda/layer/zips/{data['zip_sha256']}.zip"
    names = zip_names(path_zip)
    assert ARM_SO in names
    assert X86_SO not in names
    assert "python/tinyhttp/__init__.py" in names
    assert {
        "app/lambda/layer/layer.zip",
        f"app/lambda/layer/zips/{data['zip_sha256']}.zip",
        "app/lambda/layer/000001/requirements.txt",
        "app/lambda/layer/last-requirements.txt",
    } <= bucket_keys(aws, bucket)
    backup = aws.s3.get_object(Bucket=bucket, Key="app/lambda/layer/000001/requirements.txt")
    assert backup["Body"].read() == (project / "requirements.txt").read_bytes()
    version = aws.lambda_.get_layer_version(LayerName=layer_name, VersionNumber=1)
    assert version["CompatibleArchitectures"] == ["arm64"]
    assert version["CompatibleRuntimes"] == ["python3.12"]
    # Human progress went to stderr, not stdout.
    assert "layer-builder: " in first.err
    assert layer_name in first.err

    second = run_subprocess(*args)
    assert second.code == 0, second.err
    again = second.json
    assert again["published"] is False
    assert again["layer_version"] == 1
    assert again["layer_version_arn"] == data["layer_version_arn"]
    assert again["s3_uri"] == data["s3_uri"]
    assert again["zip_sha256"] == data["zip_sha256"]
    assert "unchanged" in again["reason"]
    listed = aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert [v["Version"] for v in listed] == [1]


@pytest.mark.usefixtures("aws_env")
def test_changed_requirements_publish_version_two(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str, cli: Any
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    common = ["--project", project, "--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a"]
    assert cli("run", *common, "--json").json["layer_version"] == 1
    make_project({"tinyutil": "1.1.0"})
    data = cli("run", *common, "--json").json
    assert data["published"] is True
    assert data["layer_version"] == 2
    assert "requirements.txt changed" in data["reason"]
    keys = bucket_keys(aws, bucket)
    assert "a/layer/000002/requirements.txt" in keys
    last = aws.s3.get_object(Bucket=bucket, Key="a/layer/last-requirements.txt")["Body"].read()
    assert b"tinyutil==1.1.0" in last


@pytest.mark.usefixtures("aws_env")
def test_force_publishes_unchanged_dependencies(
    make_project: MakeProject, bucket: str, layer_name: str, cli: Any
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    common = ["--project", project, "--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"]
    assert cli("run", *common, "--json").json["layer_version"] == 1
    data = cli("run", *common, "--force", "--json").json
    assert data["published"] is True
    assert data["layer_version"] == 2
    assert "--force" in data["reason"]


# -- each subcommand alone --------------------------------------------------------------------


@pytest.mark.usefixtures("aws_env")
def test_build_package_upload_publish_one_by_one(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str, cli: Any
) -> None:
    project = make_project(PINS)
    common = ["--project", project, "--python", "3.12", "--arch", "arm64", "--json"]
    remote = ["--layer-name", layer_name, "--s3dir", f"s3://{bucket}/app/lambda/"]

    build = cli("build", *common)
    assert build.code == 0, build.err
    data = build.json
    dir_python = project / "build" / "lambda" / "layer" / "artifacts" / "python"
    assert data["dir_python"] == str(dir_python)
    assert data["runtime"] == "python3.12"
    assert data["architecture"] == "arm64"
    assert data["manifest"] == "requirements.txt"
    assert data["distributions"] == {"fastcalc": "1.0.0", "tinyhttp": "2.0.0", "tinyutil": "1.0.0"}
    assert (dir_python / "fastcalc" / "_speedups.cpython-312-aarch64-linux-gnu.so").is_file()
    assert not (project / "build" / "lambda" / "layer" / "layer.zip").exists()

    package = cli("package", *common).json
    path_zip = project / "build" / "lambda" / "layer" / "layer.zip"
    assert package["path"] == str(path_zip)
    assert package["zip_sha256"] == sha256_of(path_zip)
    assert package["zip_size"] == path_zip.stat().st_size
    names = zip_names(path_zip)
    assert package["files"] == len([n for n in names if not n.endswith("/")])
    with zipfile.ZipFile(path_zip) as zf:
        assert package["unzipped_size"] == sum(i.file_size for i in zf.infolist())
    assert ARM_SO in names
    assert bucket_keys(aws, bucket) == set()

    upload = cli("upload", *common, *remote).json
    zip_key = f"app/lambda/layer/zips/{package['zip_sha256']}.zip"
    assert upload["s3_uri"] == f"s3://{bucket}/{zip_key}"
    assert upload["zip_sha256"] == package["zip_sha256"]
    assert upload["fingerprint"] == package["fingerprint"]
    assert upload["uploaded"] is True
    assert upload["console_url"] == (
        f"https://us-east-1.console.aws.amazon.com/s3/object/{bucket}?region=us-east-1"
        f"&prefix={zip_key}"
    )
    head = aws.s3.head_object(Bucket=bucket, Key="app/lambda/layer/layer.zip")
    assert head["ContentType"] == "application/zip"
    assert head["Metadata"]["zip-sha256"] == package["zip_sha256"]
    assert bucket_keys(aws, bucket) == {"app/lambda/layer/layer.zip", zip_key}
    with pytest.raises(aws.lambda_.exceptions.ResourceNotFoundException):
        aws.lambda_.get_layer_version(LayerName=layer_name, VersionNumber=1)

    publish = cli("publish", *common, *remote).json
    assert publish["published"] is True
    assert publish["layer_version"] == 1
    assert publish["layer_version_arn"].endswith(f":layer:{layer_name}:1")
    assert publish["layer_version_console_url"] == (
        f"https://us-east-1.console.aws.amazon.com/lambda/home?region=us-east-1"
        f"#/layers/{layer_name}/versions/1"
    )
    assert publish["s3_uri"] == upload["s3_uri"]
    assert publish["console_url"] == upload["console_url"], "read back, with its region"
    assert publish["zip_sha256"] == package["zip_sha256"]
    assert publish["s3_uri_manifest"] == (f"s3://{bucket}/app/lambda/layer/000001/requirements.txt")
    assert "app/lambda/layer/last-requirements.txt" in bucket_keys(aws, bucket)

    again = cli("publish", *common, *remote).json
    assert again["published"] is False
    assert again["layer_version"] == 1
    assert again["layer_version_arn"] == publish["layer_version_arn"]


@pytest.mark.usefixtures("aws_env")
def test_human_output_goes_to_stdout_and_progress_to_stderr(
    make_project: MakeProject, bucket: str, layer_name: str, cli: Any
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    remote = ["--layer-name", layer_name, "--s3dir", f"s3://{bucket}/x/"]
    build = cli("build", "--project", project)
    assert build.code == 0
    assert build.out == f"{project / 'build' / 'lambda' / 'layer' / 'artifacts' / 'python'}\n"
    assert "installing requirements.txt for python3.12 x86_64" in build.err
    package = cli("package", "--project", project)
    assert package.out.startswith(f"{project / 'build' / 'lambda' / 'layer' / 'layer.zip'} (")
    upload = cli("upload", "--project", project, *remote)
    assert upload.out.splitlines()[0].startswith(f"s3://{bucket}/x/layer/zips/")
    run = cli("run", "--project", project, *remote)
    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[0].startswith("published: arn:aws:lambda:")
    assert lines[0].endswith(f":layer:{layer_name}:1")
    assert lines[1].startswith("reason: ")
    rerun = cli("run", "--project", project, *remote)
    assert rerun.out.splitlines()[0] == lines[0].replace("published:", "unchanged, not published:")
    quiet = cli("run", "--project", project, *remote, "--quiet")
    assert quiet.err == ""
    assert quiet.out == rerun.out


def test_build_and_package_need_no_aws(make_project: MakeProject, cli: Any) -> None:
    # No region, no credentials, no endpoint: isolated_environment removed every AWS_ variable.
    project = make_project({"tinyutil": "1.0.0"})
    assert cli("build", "--project", project).code == 0
    data = cli("package", "--project", project, "--json").json
    assert data["files"] > 0


def test_a_second_build_reuses_the_tree_unless_rebuild(make_project: MakeProject, cli: Any) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    assert cli("build", "--project", project, "--json").json["cached"] is False
    assert cli("build", "--project", project, "--json").json["cached"] is True
    rebuilt = cli("build", "--project", project, "--rebuild", "--json")
    assert rebuilt.json["cached"] is False
    assert "installing requirements.txt" in rebuilt.err


# -- defaults from [tool.layer_builder] -------------------------------------------------------


@pytest.mark.usefixtures("aws_env")
def test_defaults_come_from_pyproject(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str, cli: Any
) -> None:
    project = make_project(
        {"fastcalc": "1.0.0", "s3transfer": "99.0.0"},
        pyproject_extra=(
            f'\n[tool.layer_builder]\nlayer_name = "{layer_name}"\n'
            f's3dir = "s3://{bucket}/from/config/"\npython = "3.12"\narch = "arm64"\n'
            f'exclude = []\ndescription = "configured deps"\nlicense_info = "MIT"\n'
        ),
    )
    data = cli("run", "--project", project, "--json").json
    assert data["published"] is True
    assert data["s3_uri"] == f"s3://{bucket}/from/config/layer/zips/{data['zip_sha256']}.zip"
    assert data["layer_version_arn"].endswith(f":layer:{layer_name}:1")
    names = zip_names(project / "build" / "lambda" / "layer" / "layer.zip")
    assert ARM_SO in names
    assert "python/s3transfer/__init__.py" in names  # exclude = [] keeps it
    version = aws.lambda_.get_layer_version(LayerName=layer_name, VersionNumber=1)
    assert version["CompatibleArchitectures"] == ["arm64"]
    assert version["Description"].startswith("configured deps [layer_builder fingerprint=")
    assert version["LicenseInfo"] == "MIT"

    other = f"{layer_name}_flag"
    flags = cli(
        "run", "--project", project, "--layer-name", other, "--s3dir", f"s3://{bucket}/flag/",
        "--description", "from the flag", "--json",
    ).json  # fmt: skip
    assert flags["s3_uri"] == f"s3://{bucket}/flag/layer/zips/{data['zip_sha256']}.zip"
    assert flags["layer_version_arn"].endswith(f":layer:{other}:1")
    described = aws.lambda_.get_layer_version(LayerName=other, VersionNumber=1)["Description"]
    assert described.startswith("from the flag [layer_builder ")


def test_flags_override_pyproject(make_project: MakeProject, cli: Any) -> None:
    project = make_project(
        {"fastcalc": "1.0.0", "s3transfer": "99.0.0", "tinyutil": "1.0.0"},
        pyproject_extra='\n[tool.layer_builder]\npython = "3.12"\narch = "arm64"\nexclude = []\n',
    )
    data = cli("build", "--project", project, "--arch", "x86_64", "--python", "3.11", "--json")
    assert data.json["architecture"] == "x86_64"
    assert data.json["runtime"] == "python3.11"
    dir_fastcalc = project / "build" / "lambda" / "layer" / "artifacts" / "python" / "fastcalc"
    assert (dir_fastcalc / "_speedups.cpython-311-x86_64-linux-gnu.so").is_file()
    package = cli("package", "--project", project, "--arch", "x86_64", "--python", "3.11",
                  "--exclude", "tinyutil", "--json").json  # fmt: skip
    names = zip_names(package["path"])
    assert "python/s3transfer/__init__.py" in names
    assert not [n for n in names if n.startswith("python/tinyutil")]
    assert package["excluded"] == ["tinyutil"]


def test_default_excludes_leave_out_runtime_packages(make_project: MakeProject, cli: Any) -> None:
    project = make_project({"s3transfer": "99.0.0", "tinyutil": "1.0.0"})
    assert cli("build", "--project", project).code == 0
    package = cli("package", "--project", project, "--json").json
    names = zip_names(package["path"])
    assert not [n for n in names if "s3transfer" in n]
    assert "python/tinyutil/__init__.py" in names
    assert package["excluded"] == ["s3transfer"]


# -- user errors: one line, exit 1, no traceback, nothing built ------------------------------


def assert_nothing_built(project: Path) -> None:
    assert not (project / "build").exists()


BAD_ARGUMENTS = [
    (
        ["--layer-name", "my layer"],
        "invalid layer name 'my layer': use 1 to 140 letters, digits, '-' or '_' "
        "(e.g. --layer-name my_app_deps)",
    ),
    (
        ["--layer-name", "x" * 141],
        f"invalid layer name {'x' * 141!r}: use 1 to 140 letters, digits, '-' or '_' "
        f"(e.g. --layer-name my_app_deps)",
    ),
    (
        ["--layer-name", "arn:aws:lambda:us-east-1:123456789012:layer:x"],
        "invalid layer name 'arn:aws:lambda:us-east-1:123456789012:layer:x': use 1 to 140 "
        "letters, digits, '-' or '_' (e.g. --layer-name my_app_deps)",
    ),
    (
        ["--arch", "aarch64"],
        "unknown Lambda architecture 'aarch64': choose x86_64 or arm64 (e.g. --arch arm64)",
    ),
    (
        ["--python", "3.9"],
        "unsupported Lambda Python version '3.9': choose one of 3.10, 3.11, 3.12, 3.13, "
        "3.14 (e.g. --python 3.12)",
    ),
    (
        ["--python", "python3.12"],
        "unsupported Lambda Python version 'python3.12': choose one of 3.10, 3.11, 3.12, "
        "3.13, 3.14 (e.g. --python 3.12)",
    ),
    (
        ["--s3dir", "my-bucket/app/"],
        "invalid S3 folder 'my-bucket/app/': expected s3://bucket/prefix/ "
        "(e.g. --s3dir s3://my-bucket/projects/my_app/lambda/)",
    ),
    (
        ["--s3dir", "s3://my bucket/app/"],
        "invalid S3 bucket name 'my bucket' in 's3://my bucket/app/': a bucket name has only "
        "lowercase letters, digits, '.' and '-', not ' ' (e.g. s3://my-bucket/app/lambda/)",
    ),
    (
        ["--s3dir", "s3://ab/app/"],
        "invalid S3 bucket name 'ab' in 's3://ab/app/': a bucket name has 3 to 63 characters, "
        "not 2 (e.g. s3://my-bucket/app/lambda/)",
    ),
    (
        ["--tool", "hatch"],
        "unknown tool 'hatch': choose one of pip, uv, poetry, pylock, pipenv, pyproject",
    ),
    (
        ["--python", ""],
        "unsupported Lambda Python version '': choose one of 3.10, 3.11, 3.12, 3.13, 3.14 "
        "(e.g. --python 3.12)",
    ),
    (
        ["--arch", ""],
        "unknown Lambda architecture '': choose x86_64 or arm64 (e.g. --arch arm64)",
    ),
    (
        ["--description", "d" * 83],
        "description is 83 characters, over the 82 that fit next to the version stamp in "
        "Lambda's 256: shorten --description",
    ),
    (
        ["--license-info", "l" * 513],
        "license info is 513 characters, over Lambda's 512: shorten --license-info (an "
        "SPDX identifier or a URL)",
    ),
]
#: Flags of the AWS and publish side, which ``build`` does not take.
RUN_ONLY = ("--layer-name", "--s3dir", "--description", "--license-info")


@pytest.mark.parametrize(
    ("command", "flags", "message"),
    [
        (command, flags, message)
        for flags, message in BAD_ARGUMENTS
        for command in ("build", "run")
        if command == "run" or flags[0] not in RUN_ONLY
    ],
)
def test_bad_arguments_are_refused_before_any_build(
    make_project: MakeProject, cli: Any, command: str, flags: list[str], message: str
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    defaults = {"--layer-name": "ok_name", "--s3dir": "s3://bucket/app/"}
    for flag, value in defaults.items():
        if flag not in flags and command == "run":
            flags = [*flags, flag, value]
    outcome = cli(command, "--project", project, *flags)
    assert outcome.error == message
    assert_nothing_built(project)


def test_missing_project(tmp_path: Path, cli: Any) -> None:
    missing = tmp_path / "nowhere"
    outcome = cli("build", "--project", missing)
    assert outcome.error == f"project folder {missing} does not exist: check --project"


def test_project_that_is_a_file(make_project: MakeProject, cli: Any) -> None:
    path = make_project({"tinyutil": "1.0.0"}) / "requirements.txt"
    outcome = cli("build", "--project", path)
    assert outcome.error == f"project folder {path} is not a folder: check --project"


def test_a_file_in_the_way_of_the_build_folder(make_project: MakeProject, cli: Any) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    (project / "build").write_text("not a folder\n")
    outcome = cli("build", "--project", project)
    # Which path the build step trips on is its business; the line names one under build/.
    assert outcome.error.startswith(f"Not a directory: {project / 'build'}/")
    assert outcome.error.endswith(
        ": check that path (permissions, free space, a file in the way of a folder)"
    )
    assert (project / "build").read_text() == "not a folder\n"


def test_missing_manifest(tmp_path: Path, cli: Any) -> None:
    project = tmp_path / "empty"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    outcome = cli("run", "--project", project, "--layer-name", "x", "--s3dir", "s3://bkt/a/")
    assert outcome.error == (
        f"no dependency manifest in {project}: expected one of uv.lock, poetry.lock, "
        f"pylock.toml, Pipfile.lock, requirements.txt, or a pyproject.toml with [project] "
        f"dependencies; lock the project first (e.g. `uv lock` or `pip-compile "
        f"--generate-hashes`)"
    )
    assert_nothing_built(project)


def test_tool_override_to_a_missing_manifest(make_project: MakeProject, cli: Any) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    outcome = cli("build", "--project", project, "--tool", "poetry")
    assert outcome.error == (
        f"manifest {project / 'poetry.lock'} does not exist: create it or point --project at "
        f"the folder that holds it"
    )
    assert_nothing_built(project)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--s3dir", "s3://bkt/a/"],
            "no layer name: pass --layer-name or set layer_name in [tool.layer_builder]",
        ),
        (
            ["--layer-name", "x"],
            "no S3 folder: pass --s3dir s3://bucket/prefix/ or set s3dir in [tool.layer_builder]",
        ),
    ],
)
def test_run_needs_a_layer_name_and_an_s3_folder(
    make_project: MakeProject, cli: Any, flags: list[str], message: str
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    assert cli("run", "--project", project, *flags).error == message
    assert_nothing_built(project)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'layer-name = "x"',
            "unknown key 'layer-name' in [tool.layer_builder] of {path}: known keys are "
            + ", ".join(KNOWN_KEYS),
        ),
        ("python = 3.12", "[tool.layer_builder] python in {path} must be a string, not a float"),
        (
            'exclude = "boto3"',
            "[tool.layer_builder] exclude in {path} must be an array, not a string",
        ),
        (
            "exclude = [1]",
            "[tool.layer_builder] exclude in {path} must be a list of strings "
            '(e.g. exclude = ["boto3", "botocore"])',
        ),
        (
            'arch = "arm"',
            "unknown Lambda architecture 'arm': choose x86_64 or arm64 (e.g. --arch arm64)",
        ),
        (
            's3dir = "bucket/app"',
            "invalid S3 folder 'bucket/app': expected s3://bucket/prefix/ "
            "(e.g. --s3dir s3://my-bucket/projects/my_app/lambda/)",
        ),
    ],
)
def test_bad_pyproject_settings(
    make_project: MakeProject, cli: Any, table: str, message: str
) -> None:
    project = make_project(
        {"tinyutil": "1.0.0"}, pyproject_extra=f"\n[tool.layer_builder]\n{table}\n"
    )
    outcome = cli("run", "--project", project, "--layer-name", "x", "--local")
    assert outcome.error == message.format(path=project / "pyproject.toml")
    assert_nothing_built(project)


def test_package_before_build(make_project: MakeProject, cli: Any) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    outcome = cli("package", "--project", project)
    dir_python = project / "build" / "lambda" / "layer" / "artifacts" / "python"
    assert outcome.error == f"{dir_python} does not exist: run `layer-builder build` first"
    assert_nothing_built(project)


@pytest.mark.usefixtures("aws_env")
def test_upload_before_package(make_project: MakeProject, bucket: str, cli: Any) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    outcome = cli("upload", "--project", project, "--s3dir", f"s3://{bucket}/a/")
    path_zip = project / "build" / "lambda" / "layer" / "layer.zip"
    assert outcome.error == f"{path_zip} does not exist: run `layer-builder package` first"
    assert_nothing_built(project)


@pytest.mark.usefixtures("aws_env")
def test_publish_before_upload(
    make_project: MakeProject, bucket: str, layer_name: str, cli: Any
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    outcome = cli(
        "publish", "--project", project, "--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"
    )
    assert outcome.error == (
        f"nothing uploaded at s3://{bucket}/a/layer/layer.zip: run `layer-builder upload` "
        f"first (or `layer-builder run`)"
    )
    assert_nothing_built(project)


@pytest.mark.usefixtures("aws_env")
def test_publish_of_a_foreign_object(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str, cli: Any
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    aws.s3.put_object(Bucket=bucket, Key="a/layer/layer.zip", Body=b"PK not ours")
    outcome = cli(
        "publish", "--project", project, "--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a"
    )
    assert outcome.error == (
        f"s3://{bucket}/a/layer/layer.zip was not uploaded by layer_builder (no "
        f"manifest-sha256, zip-sha256, fingerprint metadata): run `layer-builder upload` first"
    )
    assert aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"] == []


@pytest.mark.usefixtures("aws_env")
def test_publish_refuses_an_upload_of_other_requirements(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str, cli: Any
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    remote = ["--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"]
    for command in ("build", "package"):
        assert cli(command, "--project", project).code == 0
    assert cli("upload", "--project", project, *remote).code == 0
    make_project({"tinyutil": "1.1.0"})
    outcome = cli("publish", "--project", project, *remote)
    assert re.fullmatch(
        rf"s3://{bucket}/a/layer/zips/[0-9a-f]{{64}}\.zip was built from another "
        rf"requirements\.txt than the one in {re.escape(str(project))}: run `layer-builder "
        rf"run` \(or build, package and upload again\) before publishing",
        outcome.error,
    )
    assert aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"] == []
    assert "a/layer/last-requirements.txt" not in bucket_keys(aws, bucket)


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("change", ["manifest", "package options"])
def test_upload_refuses_a_zip_packaged_before_the_build_changed(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str, cli: Any, change: str
) -> None:
    # The steps run one by one, and package is forgotten after the change: the zip of the
    # earlier build must not go up labelled as the new one.
    project = make_project({"tinyutil": "1.0.0"})
    remote = ["--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"]
    assert cli("build", "--project", project).code == 0
    assert cli("package", "--project", project).code == 0
    flags: list[str] = []
    if change == "manifest":
        make_project({"tinyutil": "1.1.0"})
        assert cli("build", "--project", project).code == 0
    else:
        flags = ["--slim"]
    outcome = cli("upload", "--project", project, *remote, *flags)
    assert outcome.error == (
        f"{project}/build/lambda/layer/layer.zip was packaged from another build of "
        f"{project}/build/lambda/layer/artifacts/python or with other options than this "
        f"command's: run `layer-builder package` again (with the options given to build and "
        f"package), or `layer-builder run`"
    )
    assert bucket_keys(aws, bucket) == set()


@pytest.mark.usefixtures("aws_env")
def test_upload_without_the_tree_still_refuses_another_manifests_zip(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str, cli: Any
) -> None:
    # Packaged on one machine, uploaded from a checkout without the tree: the zip's own
    # identity still names the manifest it was made from.
    project = make_project({"tinyutil": "1.0.0"})
    assert cli("build", "--project", project).code == 0
    assert cli("package", "--project", project).code == 0
    shutil.rmtree(project / "build" / "lambda" / "layer" / "artifacts")
    make_project({"tinyutil": "1.1.0"})
    outcome = cli("upload", "--project", project, "--layer-name", layer_name, "--s3dir",
                  f"s3://{bucket}/a/")  # fmt: skip
    assert outcome.error == (
        f"{project}/build/lambda/layer/layer.zip was packaged from another requirements.txt "
        f"than the one in {project}: run `layer-builder build` and `layer-builder package` "
        f"again (or `layer-builder run`) before uploading"
    )
    assert bucket_keys(aws, bucket) == set()


@pytest.mark.usefixtures("aws_env")
def test_missing_bucket(make_project: MakeProject, layer_name: str, cli: Any) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    outcome = cli(
        "run", "--project", project, "--layer-name", layer_name, "--s3dir", "s3://no-such-bkt/a/"
    )
    assert outcome.error == (
        "S3 bucket 'no-such-bkt' does not exist: create it or pass another --s3dir"
    )
    assert_nothing_built(project)


@pytest.mark.usefixtures("aws_env")
def test_no_credentials(
    make_project: MakeProject,
    bucket: str,
    layer_name: str,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    project = make_project({"tinyutil": "1.0.0"})
    outcome = cli(
        "run", "--project", project, "--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"
    )
    assert outcome.error == (
        f"checking S3 bucket {bucket!r} failed: no AWS credentials found: configure a profile "
        f"or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables, or try --local"
    )
    assert_nothing_built(project)


@pytest.mark.usefixtures("aws_env")
def test_unknown_aws_profile(
    make_project: MakeProject,
    bucket: str,
    layer_name: str,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    project = make_project({"tinyutil": "1.0.0"})
    outcome = cli(
        "run", "--project", project, "--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"
    )
    assert outcome.error == (
        "the AWS profile 'no-such-profile' (AWS_PROFILE) is not in your AWS configuration "
        "(~/.aws/config, ~/.aws/credentials, or the files AWS_CONFIG_FILE and "
        "AWS_SHARED_CREDENTIALS_FILE name): check its name with `aws configure list-profiles`"
    )
    assert_nothing_built(project)
    outcome = cli("run", "--project", project, "--layer-name", layer_name, "--s3dir",
                  f"s3://{bucket}/a/", "--profile", "other-profile")  # fmt: skip
    assert outcome.error.startswith("the AWS profile 'other-profile' (--profile) is not in your")
    assert_nothing_built(project)


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("command", ["run", "upload", "publish"])
def test_missing_region(
    make_project: MakeProject,
    bucket: str,
    layer_name: str,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    monkeypatch.delenv("AWS_REGION")
    project = make_project({"tinyutil": "1.0.0"})
    outcome = cli(
        command, "--project", project, "--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"
    )
    assert outcome.error == (
        "no AWS region is configured: set AWS_REGION (or AWS_DEFAULT_REGION), or a region in "
        "your AWS profile"
    )
    assert_nothing_built(project)


def test_errors_in_a_subprocess_exit_1_with_one_line(tmp_path: Path) -> None:
    outcome = run_subprocess(
        "run", "--project", tmp_path / "missing", "--layer-name", "x", "--s3dir", "s3://bkt/a/",
        "--json",
    )  # fmt: skip
    assert outcome.code == 1
    assert outcome.out == ""
    assert outcome.err == (
        f"layer-builder: error: project folder {tmp_path / 'missing'} does not exist: "
        f"check --project\n"
    )


def test_usage_errors_exit_2_without_a_traceback() -> None:
    for args in ([], ["deploy"], ["run", "--no-such-flag"]):
        outcome = run_subprocess(*args)
        assert outcome.code == 2
        assert outcome.out == ""
        assert outcome.err.startswith("usage: layer-builder")
        assert "Traceback" not in outcome.err


def test_console_script_prints_its_version() -> None:
    script = Path(sys.executable).with_name("layer-builder")
    if not script.is_file():
        pytest.skip("the console script is not installed next to this interpreter")
    from layer_builder import __version__

    process = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert process.returncode == 0
    assert process.stdout == f"layer-builder {__version__}\n"


# -- steps run alone refuse results of another build ------------------------------------------


def test_package_takes_the_target_of_the_build(make_project: MakeProject, cli: Any) -> None:
    project = make_project({"fastcalc": "1.0.0"})
    assert cli("build", "--project", project, "--arch", "arm64").code == 0
    packaged = cli("package", "--project", project)
    assert packaged.code == 0
    assert "layer-builder: using python3.12 arm64 from the last build\n" in packaged.err
    assert ARM_SO in zip_names(project / "build" / "lambda" / "layer" / "layer.zip")
    dir_python = project / "build" / "lambda" / "layer" / "artifacts" / "python"
    # Only a given flag that contradicts the build is refused, in one line naming both.
    outcome = cli("package", "--project", project, "--arch", "x86_64")
    assert outcome.error == (
        f"{dir_python} was built for python3.12 arm64, but --arch x86_64 asks for python3.12 "
        f"x86_64: drop it to use the built target, or run `layer-builder build` with it first"
    )
    both = cli("package", "--project", project, "--python", "3.11", "--arch", "x86_64")
    assert both.error.startswith(
        f"{dir_python} was built for python3.12 arm64, but --python 3.11 and --arch x86_64 asks "
        f"for python3.11 x86_64: "
    )
    agreeing = cli("package", "--project", project, "--python", "3.12", "--arch", "arm64")
    assert agreeing.code == 0 and "from the last build" not in agreeing.err, "all was given"


def test_a_config_key_that_contradicts_the_build_is_named(
    make_project: MakeProject, cli: Any
) -> None:
    project = make_project(
        {"tinyutil": "1.0.0"}, pyproject_extra='\n[tool.layer_builder]\narch = "x86_64"\n'
    )
    assert cli("build", "--project", project, "--arch", "arm64").code == 0
    outcome = cli("package", "--project", project)
    assert outcome.error.endswith(
        ' was built for python3.12 arm64, but arch = "x86_64" in [tool.layer_builder] asks for '
        "python3.12 x86_64: drop it to use the built target, or run `layer-builder build` with "
        "it first"
    )


def test_a_tree_recorded_without_its_target_is_recognised_by_its_fingerprint(
    make_project: MakeProject, cli: Any
) -> None:
    # A build record written before the target was part of it: the fingerprint tells.
    project = make_project({"tinyutil": "1.0.0"})
    assert cli("build", "--project", project, "--python", "3.11").code == 0
    record_path = project / "build" / "lambda" / "layer" / "artifacts" / "build-record.json"
    record = json.loads(record_path.read_text())
    del record["runtime"], record["architecture"]
    record_path.write_text(json.dumps(record))
    packaged = cli("package", "--project", project, "--json")
    assert "using python3.11 x86_64 from the last build" in packaged.err
    sbom = json.loads(Path(packaged.json["sbom"]).read_text())
    properties = {p["name"]: p["value"] for p in sbom["metadata"]["component"]["properties"]}
    assert properties["layer-builder:runtime"] == "python3.11"


@pytest.mark.usefixtures("aws_env")
def test_upload_takes_the_target_of_the_zip_and_labels_it(
    make_project: MakeProject, aws: AwsClients, bucket: str, cli: Any
) -> None:
    project = make_project({"fastcalc": "1.0.0"})
    arm = ["--project", project, "--python", "3.11", "--arch", "arm64"]
    assert cli("build", *arm).code == 0
    assert cli("package", *arm).code == 0
    remote = ["--s3dir", f"s3://{bucket}/a/"]
    outcome = cli("upload", "--project", project, *remote, "--python", "3.12")
    assert outcome.error == (
        f"{project / 'build' / 'lambda' / 'layer' / 'layer.zip'} was packaged for python3.11 "
        f"arm64, but --python 3.12 asks for python3.12 arm64: drop it to use the packaged "
        f"target, or build and package again with it"
    )
    assert bucket_keys(aws, bucket) == set()
    uploaded = cli("upload", "--project", project, *remote)
    assert uploaded.code == 0
    assert "using python3.11 arm64 from the last package" in uploaded.err
    head = aws.s3.head_object(Bucket=bucket, Key="a/layer/layer.zip")
    assert (head["Metadata"]["runtime"], head["Metadata"]["architecture"]) == (
        "python3.11",
        "arm64",
    )


@pytest.mark.usefixtures("aws_env")
def test_publish_without_a_tree_takes_the_target_of_the_upload(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str, cli: Any
) -> None:
    project = make_project({"fastcalc": "1.0.0"})
    remote = ["--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"]
    for command in ("build", "package"):
        assert cli(command, "--project", project, "--arch", "arm64").code == 0
    assert cli("upload", "--project", project, *remote).code == 0
    shutil.rmtree(project / "build")  # the publish job of a CI runs on another machine
    staged = f"s3://{bucket}/a/layer/layer.zip"
    outcome = cli("publish", "--project", project, *remote, "--arch", "x86_64")
    assert outcome.error == (
        f"{staged} was uploaded for python3.12 arm64, but --arch x86_64 asks for python3.12 "
        f"x86_64: drop it to publish what was uploaded, or upload again for that target"
    )
    assert aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"] == []
    published = cli("publish", "--project", project, *remote, "--json")
    assert f"using python3.12 arm64 from the upload staged at {staged}" in published.err
    assert published.json["published"] is True
    version = aws.lambda_.get_layer_version(LayerName=layer_name, VersionNumber=1)
    assert version["CompatibleArchitectures"] == ["arm64"]


@pytest.mark.usefixtures("aws_env")
def test_publish_refuses_an_unlabelled_upload_for_another_target(
    make_project: MakeProject, aws: AwsClients, bucket: str, layer_name: str, cli: Any
) -> None:
    project = make_project({"fastcalc": "1.0.0"})
    remote = ["--layer-name", layer_name, "--s3dir", f"s3://{bucket}/a/"]
    for command in ("build", "package"):
        assert cli(command, "--project", project, "--arch", "arm64").code == 0
    assert cli("upload", "--project", project, *remote).code == 0
    # As an older layer-builder staged it: labels without the target.
    key = "a/layer/layer.zip"
    metadata = aws.s3.head_object(Bucket=bucket, Key=key)["Metadata"]
    del metadata["runtime"], metadata["architecture"]
    aws.s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key},
                       Metadata=metadata, MetadataDirective="REPLACE")  # fmt: skip
    shutil.rmtree(project / "build")
    outcome = cli("publish", "--project", project, *remote)
    assert re.fullmatch(
        rf"s3://{bucket}/a/layer/zips/[0-9a-f]{{64}}\.zip was built for another target or "
        rf"package options than python3\.12 x86_64 \(manylinux glibc <= 2\.34\): pass the "
        rf"--python, --arch and --exclude it was built with, or run `layer-builder run`",
        outcome.error,
    )
    assert aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"] == []
    published = cli("publish", "--project", project, "--arch", "arm64", *remote, "--json")
    assert published.json["published"] is True


STALE_TREE = (
    "{dir_python} was built from another requirements.txt or with other options (--python, "
    "--arch, --tool, extras, groups, container) than this command's: pass the options "
    "given to `layer-builder build`, or build again"
)


def test_package_refuses_a_tree_of_older_requirements(make_project: MakeProject, cli: Any) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    assert cli("build", "--project", project).code == 0
    make_project({"tinyutil": "1.1.0"})
    outcome = cli("package", "--project", project)
    dir_python = project / "build" / "lambda" / "layer" / "artifacts" / "python"
    assert outcome.error == STALE_TREE.format(dir_python=dir_python)
    assert not (project / "build" / "lambda" / "layer" / "layer.zip").exists()


def test_package_refuses_a_tree_built_with_other_options(
    make_project: MakeProject, cli: Any
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    assert cli("build", "--project", project).code == 0
    outcome = cli("package", "--project", project, "--allow-source", "tinyutil")
    dir_python = project / "build" / "lambda" / "layer" / "artifacts" / "python"
    assert outcome.error == STALE_TREE.format(dir_python=dir_python)


def test_main_leaves_logging_as_it_found_it(make_project: MakeProject, cli: Any) -> None:
    import logging

    logger = logging.getLogger("layer_builder")
    before = (list(logger.handlers), logger.propagate, logger.level)
    assert cli("build", "--project", make_project({"tinyutil": "1.0.0"}), "-v").code == 0
    assert cli("build", "--project", "/nonexistent/project").code == 1
    assert (list(logger.handlers), logger.propagate, logger.level) == before


# -- the embedded endpoint (--local) ----------------------------------------------------------


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_local_run_keeps_its_state_across_processes(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --local needs no AWS configuration, and ignores an endpoint the shell points at.
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port_url())
    project = make_project(PINS)
    args = [
        "run", "--project", project, "--layer-name", "local_deps",
        "--s3dir", "s3://local-bucket/app/lambda/", "--arch", "arm64", "--local", "--json",
    ]  # fmt: skip
    first = run_subprocess(*args)
    assert first.code == 0, first.err
    data = first.json
    assert data["published"] is True
    assert data["layer_version"] == 1
    assert data["layer_version_arn"].endswith(":layer:local_deps:1")
    assert data["s3_uri"] == f"s3://local-bucket/app/lambda/layer/zips/{data['zip_sha256']}.zip"
    state = project / "build" / "lambda" / "local-aws"
    assert sorted(p.name for p in state.iterdir()) == ["state.blobs", "state.jsonl"]
    assert ARM_SO in zip_names(project / "build" / "lambda" / "layer" / "layer.zip")

    second = run_subprocess(*args)
    assert second.code == 0, second.err
    again = second.json
    assert again["published"] is False
    assert again["layer_version"] == 1
    assert again["layer_version_arn"] == data["layer_version_arn"]
    assert again["zip_sha256"] == data["zip_sha256"]

    # A changed manifest is version 2 of the same local layer.
    make_project({"tinyutil": "1.1.0"})
    third = run_subprocess(*args)
    assert third.code == 0, third.err
    assert third.json["published"] is True
    assert third.json["layer_version"] == 2
    assert third.json["s3_uri_manifest"] == (
        "s3://local-bucket/app/lambda/layer/000002/requirements.txt"
    )


def test_local_bad_input_starts_no_endpoint(make_project: MakeProject, cli: Any) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    outcome = cli(
        "run", "--project", project, "--layer-name", "bad name", "--s3dir", "s3://bkt/a/", "--local"
    )
    assert outcome.error.startswith("invalid layer name 'bad name': ")
    assert "local AWS endpoint" not in outcome.err
    assert_nothing_built(project)


def test_local_is_a_flag_of_the_aws_commands_only(make_project: MakeProject, cli: Any) -> None:
    # build and package never talk to AWS: --local there is a mistake, not a no-op.
    project = make_project({"tinyutil": "1.0.0"})
    outcome = cli("build", "--project", project, "--local", "--json")
    assert outcome.code == 2
    assert "unrecognized arguments: --local" in outcome.err
    assert not (project / "build").exists()


@pytest.mark.parametrize(
    ("command", "foreign"),
    [
        ("build", ["--yes"]),
        ("build", ["--grant-public"]),
        ("build", ["--layer-name", "x"]),
        ("build", ["--slim"]),
        ("package", ["--index-url", "http://127.0.0.1:1/simple/"]),
        ("package", ["--s3dir", "s3://bucket/a/"]),
        ("upload", ["--force"]),
        ("upload", ["--compress-level", "9"]),
        ("publish", ["--replicate-to", "eu-west-1=s3://bucket-eu/a/"]),
        ("package", ["--region", "eu-west-1"]),
        ("package", ["--s3-tag", "team=data"]),
        ("prune", ["--sse-kms-key-id", "alias/x"]),
        ("publish", ["--rebuild"]),
        ("run", ["--keep-last", "3"]),
        ("plan", ["--yes"]),
        ("prune", ["--python", "3.12"]),
        ("prune", ["--force"]),
    ],
)
def test_a_flag_of_another_command_is_refused(
    make_project: MakeProject, cli: Any, command: str, foreign: list[str]
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    outcome = cli(command, "--project", project, *foreign)
    assert outcome.code == 2
    assert f"unrecognized arguments: {' '.join(foreign)}" in outcome.err
    assert not (project / "build").exists()


def test_help_lists_only_the_commands_own_flags(cli: Any) -> None:
    run_help = cli("run", "--help").out
    assert "--grant-public" in run_help and "--slim" in run_help
    assert "--keep-last" not in run_help and "--yes" not in run_help
    build_help = cli("build", "--help").out
    assert "--index-url" in build_help
    assert "--layer-name" not in build_help and "--slim" not in build_help


def test_local_steps_one_process_each(make_project: MakeProject) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    remote = ["--layer-name", "local_steps", "--s3dir", "s3://local-steps/a/", "--local"]
    for command in ("build", "package"):
        assert run_subprocess(command, "--project", project).code == 0
    upload = run_subprocess("upload", "--project", project, *remote, "--json")
    assert upload.code == 0, upload.err
    publish = run_subprocess("publish", "--project", project, *remote, "--json")
    assert publish.code == 0, publish.err
    data = publish.json
    assert data["published"] is True
    assert data["layer_version"] == 1
    assert data["zip_sha256"] == upload.json["zip_sha256"]
    again = run_subprocess("publish", "--project", project, *remote, "--json")
    assert again.json["published"] is False
    assert again.json["layer_version_arn"] == data["layer_version_arn"]


def test_local_endpoint_refusing_the_bucket_is_one_line(
    make_project: MakeProject, cli: Any
) -> None:
    project = make_project({"tinyutil": "1.0.0"})
    name = "b" * 64  # botocore accepts it, S3 (and moto) refuse to create it
    outcome = cli(
        "run", "--project", project, "--layer-name", "x", "--s3dir", f"s3://{name}/a/", "--local"
    )
    if importlib.metadata.version("s3pathlib").startswith("2."):
        # s3pathlib 2.3 (on Python 3.10) checks the name itself, before any endpoint.
        assert outcome.error == (
            f"invalid S3 folder 's3://{name}/a/': Bucket names must be between 3 and 63 "
            f"characters long. (e.g. s3://my-bucket/app/lambda/)"
        )
    else:
        assert outcome.error == (
            f"creating S3 bucket {name!r} on the local endpoint failed: InvalidBucketName The "
            f"specified bucket is not valid.: use 3 to 63 lowercase letters, digits, '.' and "
            f"'-' (--s3dir)"
        )
    assert not (project / "build" / "lambda" / "layer").exists()


def test_console_script_defaults_to_the_current_folder(make_project: MakeProject) -> None:
    script = Path(sys.executable).with_name("layer-builder")
    if not script.is_file():
        pytest.skip("the console script is not installed next to this interpreter")
    project = make_project(
        {"fastcalc": "1.0.0"}, pyproject_extra='\n[tool.layer_builder]\narch = "arm64"\n'
    )
    process = subprocess.run(
        [script, "build", "--json"], cwd=project, capture_output=True, text=True, check=False
    )
    assert process.returncode == 0, process.stderr
    outcome = Outcome(process.returncode, process.stdout, process.stderr)
    assert outcome.json["architecture"] == "arm64"
    assert outcome.json["dir_python"] == str(
        project.resolve() / "build" / "lambda" / "layer" / "artifacts" / "python"
    )
    assert "installing requirements.txt for python3.12 arm64" in process.stderr


def test_the_index_is_not_part_of_the_build_record(
    make_project: MakeProject, cli: Any, wheel_index: Any
) -> None:
    # Hashes pin the files whatever index serves them, and a CodeArtifact URL carries a token
    # that changes every build: packaging without the build's index options is accepted.
    project = make_project({"tinyutil": "1.0.0"})
    assert cli("build", "--project", project, "--index-url", wheel_index.url).code == 0
    package = cli("package", "--project", project)
    assert package.code == 0, package.err
    other_target = cli("package", "--project", project, "--python", "3.11")
    assert other_target.error.endswith(
        "drop it to use the built target, or run `layer-builder build` with it first"
    )


def test_main_called_in_process_leaves_the_garbage_collector_alone(cli: Any) -> None:
    # Only the script's exit (console_main) freezes the objects it made: a host process
    # that calls main() keeps collecting them.
    frozen = gc.get_freeze_count()
    assert cli("--version").code == 0
    assert cli("build", "--project", "/nonexistent/project").code == 1
    assert gc.get_freeze_count() == frozen


def test_the_script_exits_with_main_s_code() -> None:
    refused = run_subprocess("build", "--project", "/nonexistent/project")
    assert refused.code == 1
    assert refused.err.startswith("layer-builder: error: ")
    assert run_subprocess("--version").code == 0
