"""``[tool.layer_builder]`` in pyproject.toml: accepted keys, types and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from layer_builder import ConfigurationError
from layer_builder.cli.config import KNOWN_KEYS, load_project_config


def project_with(tmp_path: Path, pyproject: str | bytes) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    path = project / "pyproject.toml"
    if isinstance(pyproject, bytes):
        path.write_bytes(pyproject)
    else:
        path.write_text(pyproject)
    return project


def test_every_key_is_read(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        '[project]\nname = "app"\n\n[tool.layer_builder]\n'
        'layer_name = "app_deps"\ns3dir = "s3://bucket/app/lambda/"\npython = "3.11"\n'
        'arch = "arm64"\ntool = "pip"\nexclude = ["boto3", "numpy"]\n'
        'description = "app dependencies"\nlicense_info = "MIT"\n',
    )
    assert load_project_config(project) == {
        "layer_name": "app_deps",
        "s3dir": "s3://bucket/app/lambda/",
        "python": "3.11",
        "arch": "arm64",
        "tool": "pip",
        "exclude": ["boto3", "numpy"],
        "description": "app dependencies",
        "license_info": "MIT",
    }
    assert set(KNOWN_KEYS) >= {
        "layer_name",
        "s3dir",
        "python",
        "arch",
        "tool",
        "exclude",
        "description",
        "license_info",
    }


def test_no_pyproject_or_no_table_means_no_defaults(tmp_path: Path) -> None:
    assert load_project_config(tmp_path) == {}
    project = project_with(tmp_path, '[project]\nname = "app"\n[tool.ruff]\nline-length = 100\n')
    assert load_project_config(project) == {}


def test_values_of_alternative_types_are_kept(tmp_path: Path) -> None:
    project = project_with(tmp_path, '[tool.layer_builder]\nreserve = "10MB"\nslim = true\n')
    assert load_project_config(project) == {"reserve": "10MB", "slim": True}
    (project / "pyproject.toml").write_text("[tool.layer_builder]\nreserve = 1000\n")
    assert load_project_config(project) == {"reserve": 1000}


def test_an_empty_exclude_list_is_kept(tmp_path: Path) -> None:
    project = project_with(tmp_path, "[tool.layer_builder]\nexclude = []\n")
    assert load_project_config(project) == {"exclude": []}


def test_unknown_key_lists_the_known_ones(tmp_path: Path) -> None:
    project = project_with(tmp_path, '[tool.layer_builder]\nlayer-name = "x"\n')
    with pytest.raises(ConfigurationError) as info:
        load_project_config(project)
    assert str(info.value) == (
        f"unknown key 'layer-name' in [tool.layer_builder] of {project / 'pyproject.toml'}: "
        f"known keys are {', '.join(KNOWN_KEYS)}"
    )
    assert "known keys are layer_name, s3dir, python, arch, tool, exclude, " in str(info.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("python = 3.12", "python in {path} must be a string, not a float"),
        ('exclude = "boto3"', "exclude in {path} must be an array, not a string"),
        ("layer_name = 7", "layer_name in {path} must be a string, not an integer"),
        ("arch = ['arm64']", "arch in {path} must be a string, not an array"),
        (
            "compress_level = true",
            "compress_level in {path} must be an integer, not a boolean (true or false)",
        ),
        ("reserve = 1.5", "reserve in {path} must be an integer or a string, not a float"),
        (
            "reserve = false",
            "reserve in {path} must be an integer or a string, not a boolean (true or false)",
        ),
        ("slim = 1", "slim in {path} must be a boolean (true or false), not an integer"),
    ],
)
def test_wrong_types_name_the_key_and_the_type(tmp_path: Path, line: str, message: str) -> None:
    project = project_with(tmp_path, f"[tool.layer_builder]\n{line}\n")
    with pytest.raises(ConfigurationError) as info:
        load_project_config(project)
    path = project / "pyproject.toml"
    assert str(info.value) == "[tool.layer_builder] " + message.format(path=path)


def test_exclude_items_must_be_strings(tmp_path: Path) -> None:
    project = project_with(tmp_path, '[tool.layer_builder]\nexclude = ["boto3", 1]\n')
    with pytest.raises(ConfigurationError) as info:
        load_project_config(project)
    assert str(info.value) == (
        f"[tool.layer_builder] exclude in {project / 'pyproject.toml'} must be a list of "
        f'strings (e.g. exclude = ["boto3", "botocore"])'
    )


def test_layer_builder_must_be_a_table(tmp_path: Path) -> None:
    project = project_with(tmp_path, '[tool]\nlayer_builder = "yes"\n')
    with pytest.raises(ConfigurationError) as info:
        load_project_config(project)
    assert str(info.value) == (
        f"tool.layer_builder in {project / 'pyproject.toml'} must be a table: write it as "
        f"[tool.layer_builder] followed by key = value lines"
    )


def test_invalid_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    project = project_with(tmp_path, "[tool.layer_builder]\nlayer_name = \n")
    with pytest.raises(ConfigurationError) as info:
        load_project_config(project)
    message = str(info.value)
    assert message.startswith(f"{project / 'pyproject.toml'} is not valid TOML: ")
    assert "line 2" in message
    assert message.endswith(": fix the file")
    assert "\n" not in message


def test_a_file_that_is_not_utf8_is_a_configuration_error(tmp_path: Path) -> None:
    project = project_with(tmp_path, b'[tool.layer_builder]\nlayer_name = "caf\xe9"\n')
    with pytest.raises(ConfigurationError, match=r"is not valid TOML: .*utf-8"):
        load_project_config(project)
