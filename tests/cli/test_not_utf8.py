"""A requirements file that is not UTF-8 (a latin-1 byte, a UTF-16 file): every command says so
in one line naming it, before anything is built, planned or uploaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.conftest import MakeProject


class Project(NamedTuple):
    path: Path
    message: str


ENCODINGS = {
    "latin-1": ("is not UTF-8 (byte 0xe9 on line 2)", lambda text: text.encode() + b"# caf\xe9\n"),
    "utf-16": ("is UTF-16, not UTF-8", lambda text: text.encode("utf-16")),
}


@pytest.fixture(params=list(ENCODINGS))
def project(request: pytest.FixtureRequest, make_project: MakeProject, cli: Any) -> Project:
    """A project built with a UTF-8 file, which was then saved in another encoding; the
    message that names it."""
    project = make_project({"tinyutil": "1.0.0"})
    assert cli("build", "--project", project).code == 0
    path = project / "requirements.txt"
    problem, encode = ENCODINGS[request.param]
    path.write_bytes(encode(path.read_text()))
    return Project(project, f"{path} {problem}: save it as UTF-8")


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize(
    "command",
    [["build"], ["package"], ["plan", "--layer-name", "x", "--s3dir", "s3://{bucket}/a/"],
     ["run", "--layer-name", "x", "--s3dir", "s3://{bucket}/a/"],
     ["upload", "--s3dir", "s3://{bucket}/a/"]],
    ids=lambda command: command[0],
)  # fmt: skip
def test_every_command_names_the_file(
    project: Project, cli: Any, bucket: str, command: list[str]
) -> None:
    args = [a.format(bucket=bucket) for a in command]

    outcome = cli(*args, "--project", project.path)

    assert outcome.error == project.message


def test_run_local_names_the_file(project: Project, cli: Any) -> None:
    outcome = cli("run", "--project", project.path, "--layer-name", "x", "--s3dir",
                  "s3://local-bucket/a/", "--local")  # fmt: skip
    assert outcome.error == project.message
    assert not (project.path / "build" / "lambda" / "layer" / "layer.zip").exists()
