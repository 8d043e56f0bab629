"""prune: keep the last N and/or recent versions, never the latest, dry run unless --yes."""

from __future__ import annotations

import datetime

import pytest

from layer_builder import AwsClients, ConfigurationError
from layer_builder.operations.retention import RetentionPolicy, list_layer_versions, prune
from tests.aws_helpers import count_calls

LATER = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=10)


@pytest.fixture
def five_versions(aws: AwsClients, bucket: str, layer_name: str) -> str:
    aws.s3.put_object(Bucket=bucket, Key="layer.zip", Body=b"PK")
    for _ in range(5):
        aws.lambda_.publish_layer_version(
            LayerName=layer_name, Content={"S3Bucket": bucket, "S3Key": "layer.zip"}
        )
    return layer_name


def _existing(aws: AwsClients, layer_name: str) -> list[int]:
    return [v.version for v in list_layer_versions(aws.lambda_, layer_name)]


def test_dry_run_lists_what_it_would_delete_and_deletes_nothing(
    aws: AwsClients, five_versions: str
) -> None:
    calls = count_calls(aws)
    result = prune(aws.lambda_, five_versions, RetentionPolicy(keep_last=2))

    assert result.dry_run
    assert [v.version for v in result.kept] == [5, 4]
    assert [v.version for v in result.deleted] == [3, 2, 1]
    assert calls["DeleteLayerVersion"] == 0
    assert _existing(aws, five_versions) == [5, 4, 3, 2, 1]


def test_yes_deletes_all_but_the_last_n(aws: AwsClients, five_versions: str) -> None:
    result = prune(aws.lambda_, five_versions, RetentionPolicy(keep_last=2), yes=True)

    assert not result.dry_run
    assert [v.version for v in result.deleted] == [3, 2, 1]
    assert _existing(aws, five_versions) == [5, 4]
    again = prune(aws.lambda_, five_versions, RetentionPolicy(keep_last=2), yes=True)
    assert again.deleted == ()


def test_age_rule_keeps_recent_versions(aws: AwsClients, five_versions: str) -> None:
    recent = prune(aws.lambda_, five_versions, RetentionPolicy(newer_than_days=3), yes=True)
    assert recent.deleted == ()

    # Ten days on, all are old: only the latest survives.
    old = prune(aws.lambda_, five_versions, RetentionPolicy(newer_than_days=3), yes=True, now=LATER)
    assert [v.version for v in old.kept] == [5]
    assert _existing(aws, five_versions) == [5]


def test_either_rule_keeps_a_version(aws: AwsClients, five_versions: str) -> None:
    policy = RetentionPolicy(keep_last=3, newer_than_days=3)
    result = prune(aws.lambda_, five_versions, policy, now=LATER)
    assert [v.version for v in result.kept] == [5, 4, 3]
    now = prune(aws.lambda_, five_versions, policy)
    assert now.deleted == ()


def test_the_latest_version_is_never_deleted(aws: AwsClients, five_versions: str) -> None:
    result = prune(
        aws.lambda_, five_versions, RetentionPolicy(newer_than_days=0), yes=True, now=LATER
    )
    assert [v.version for v in result.kept] == [5]


def test_each_target_keeps_its_newest_versions(
    aws: AwsClients, bucket: str, layer_name: str
) -> None:
    aws.s3.put_object(Bucket=bucket, Key="layer.zip", Body=b"PK")
    targets = [
        (["python3.12"], ["x86_64"]),  # 1
        (["python3.13"], ["arm64"]),  # 2
        (["python3.12"], ["x86_64"]),  # 3
        (["python3.12"], ["x86_64"]),  # 4
        (["python3.12", "python3.13"], ["x86_64"]),  # 5: serves python3.13 x86_64 only here
        (["python3.12"], ["x86_64"]),  # 6
    ]
    for runtimes, architectures in targets:
        aws.lambda_.publish_layer_version(
            LayerName=layer_name, Content={"S3Bucket": bucket, "S3Key": "layer.zip"},
            CompatibleRuntimes=runtimes, CompatibleArchitectures=architectures,
        )  # fmt: skip

    result = prune(aws.lambda_, layer_name, RetentionPolicy(keep_last=1), yes=True)

    # The newest version of each target stays: functions of each may use it.
    assert [v.version for v in result.kept] == [6, 5, 2]
    assert _existing(aws, layer_name) == [6, 5, 2]
    kept = prune(aws.lambda_, layer_name, RetentionPolicy(keep_last=2), now=LATER)
    assert kept.deleted == ()


def test_a_layer_without_versions_prunes_nothing(aws: AwsClients, layer_name: str) -> None:
    result = prune(aws.lambda_, layer_name, RetentionPolicy(keep_last=1), yes=True)
    assert (result.kept, result.deleted) == ((), ())


def test_a_rule_is_required() -> None:
    with pytest.raises(ConfigurationError) as info:
        RetentionPolicy()
    assert str(info.value) == "prune needs a rule: --keep-last N and/or --newer-than-days D"


def test_keep_last_zero_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        RetentionPolicy(keep_last=0)
    assert str(info.value) == "--keep-last must be at least 1, not 0"


def test_negative_age_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        RetentionPolicy(newer_than_days=-1)
    assert str(info.value) == "--newer-than-days must be at least 0, not -1"
