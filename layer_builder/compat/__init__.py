"""Façades that let scripts written for another tool's API run on layer_builder's steps.

``layer_builder.compat.artifact_builder`` answers to the layer API of
``aws_lambda_artifact_builder`` 0.1.x (see the page "Coming from aws_lambda_artifact_builder").
Nothing here is imported by ``import layer_builder`` or by the command line: a script imports
the façade it needs.
"""
