"""Granting lambda:GetLayerVersion, read back with GetLayerVersionPolicy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from layer_builder import AwsClients, ConfigurationError
from layer_builder.operations.sharing import Grant, share_version
from tests.aws_helpers import HandmadeWorkflow, count_calls, make_manifest

GRANTS = [Grant.account("210987654321"), Grant.organization("o-a1b2c3d4e5"), Grant.everyone()]


def _policy(aws: AwsClients, layer_name: str, version: int = 1) -> list[dict[str, Any]]:
    response = aws.lambda_.get_layer_version_policy(LayerName=layer_name, VersionNumber=version)
    return list(json.loads(response["Policy"])["Statement"])


def _workflow(tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str) -> HandmadeWorkflow:
    project = tmp_path / "project"
    if not project.exists():
        make_manifest(project)
    return HandmadeWorkflow(project, layer_name, f"s3://{bucket}/app/", aws=aws, grants=GRANTS)


def test_run_grants_accounts_an_organization_and_everyone(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    result = _workflow(tmp_path, aws, bucket, layer_name).run()

    assert [g.added for g in result.grants] == [True, True, True]
    assert {g.layer_version_arn for g in result.grants} == {result.publish.layer_version_arn}
    statements = {s["Sid"]: s for s in _policy(aws, layer_name)}
    assert sorted(statements) == [
        "layer-builder-account-210987654321",
        "layer-builder-org-o-a1b2c3d4e5",
        "layer-builder-public",
    ]
    assert all(s["Action"] == "lambda:GetLayerVersion" for s in statements.values())
    assert "210987654321" in json.dumps(statements["layer-builder-account-210987654321"])
    assert "o-a1b2c3d4e5" in json.dumps(statements["layer-builder-org-o-a1b2c3d4e5"])
    assert statements["layer-builder-public"]["Principal"] == "*"
    for grant in GRANTS:
        assert grant.matches(statements[grant.statement_id])


def test_granting_again_adds_no_statement(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    _workflow(tmp_path, aws, bucket, layer_name).run()
    calls = count_calls(aws)

    result = _workflow(tmp_path, aws, bucket, layer_name).run()

    assert result.skipped
    assert [g.added for g in result.grants] == [False, False, False]
    assert calls["AddLayerVersionPermission"] == 0
    assert len(_policy(aws, layer_name)) == 3


def test_grant_added_later_reaches_the_unchanged_version(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    make_manifest(tmp_path / "project")
    HandmadeWorkflow(tmp_path / "project", layer_name, f"s3://{bucket}/app/", aws=aws).run()

    result = _workflow(tmp_path, aws, bucket, layer_name).run()

    assert result.skipped
    assert len(_policy(aws, layer_name)) == 3


def test_statement_edited_by_hand_is_replaced(
    tmp_path: Path, aws: AwsClients, bucket: str, layer_name: str
) -> None:
    publish = _workflow(tmp_path, aws, bucket, layer_name).run().publish
    account = Grant.account("210987654321")
    aws.lambda_.remove_layer_version_permission(
        LayerName=layer_name, VersionNumber=1, StatementId=account.statement_id
    )
    aws.lambda_.add_layer_version_permission(
        LayerName=layer_name, VersionNumber=1, StatementId=account.statement_id,
        Action="lambda:GetLayerVersion", Principal="111111111111",
    )  # fmt: skip

    [result] = share_version(aws.lambda_, layer_name, 1, publish.layer_version_arn, [account])

    assert result.added
    statements = {s["Sid"]: s for s in _policy(aws, layer_name)}
    assert "210987654321" in json.dumps(statements[account.statement_id])
    assert len(statements) == 3


@pytest.mark.parametrize("value", ["12345", "12345678901a", "", "١٢٣٤٥٦٧٨٩٠١٢"])
def test_bad_account_id_says_the_form(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Grant.account(value)
    assert str(info.value) == (
        f"invalid AWS account id {value!r}: expected 12 digits (e.g. --grant-account 123456789012)"
    )


@pytest.mark.parametrize("value", ["o-short", "org-a1b2c3d4e5", "o-A1B2C3D4E5"])
def test_bad_organization_id_says_the_form(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Grant.organization(value)
    assert str(info.value) == (
        f"invalid organization id {value!r}: expected o- and 10 to 32 lowercase letters or "
        "digits (e.g. --grant-org o-a1b2c3d4e5)"
    )
