import aws_lambda_artifact_builder.api as aws_lambda_artifact_builder
from settings import settings, teardown_aws_lambda_artifact_builder

LayerBuildToolEnum = aws_lambda_artifact_builder.LayerBuildToolEnum

zipper = aws_lambda_artifact_builder.LambdaLayerZipper(
    path_pyproject_toml=settings.path_pyproject_toml,
    layer_build_tool=LayerBuildToolEnum(settings.layer_build_tool),
    ignore_package_list=None,
    verbose=True,
)
zipper.run()

teardown_aws_lambda_artifact_builder()
