"""The façade is loaded only by a script that imports it: not by ``import layer_builder``,
not by the command line, and importing it loads no AWS library until a step needs one."""

from __future__ import annotations

import textwrap

from tests.test_startup import CLI, aws_modules, loaded_by


def test_the_package_and_the_cli_do_not_load_the_facade() -> None:
    modules = loaded_by(CLI, "build", "--help")
    assert not [m for m in modules if m.startswith("layer_builder.compat")]
    code = textwrap.dedent(
        """
        import json, sys
        import layer_builder
        from layer_builder import LayerWorkflow
        print("\\nMODULES " + json.dumps({"code": 0, "modules": sorted(sys.modules)}))
        """
    )
    assert not [m for m in loaded_by(code) if m.startswith("layer_builder.compat")]


def test_importing_the_facade_loads_no_aws_library() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        import layer_builder.compat.artifact_builder as aws_lambda_artifact_builder
        aws_lambda_artifact_builder.LayerPathLayout("pyproject.toml").path_build_lambda_layer_zip
        print("\\nMODULES " + json.dumps({"code": 0, "modules": sorted(sys.modules)}))
        """
    )
    assert aws_modules(loaded_by(code)) == []
