import aws_lambda_artifact_builder.api as aws_lambda_artifact_builder
from settings import settings, teardown_aws_lambda_artifact_builder

LayerBuildToolEnum = aws_lambda_artifact_builder.LayerBuildToolEnum

publisher = aws_lambda_artifact_builder.LambdaLayerVersionPublisher(
    s3_client=settings.bsm.s3_client,
    lambda_client=settings.bsm.lambda_client,
    path_pyproject_toml=settings.path_pyproject_toml,
    s3dir_lambda=settings.s3dir_lambda,
    layer_build_tool=LayerBuildToolEnum(settings.layer_build_tool),
    layer_name=settings.layer_name,
    verbose=True,
)
publisher.run()

teardown_aws_lambda_artifact_builder()
