"""Race real ``layer-builder run`` processes, then check every published version's bytes.

    .venv/bin/python benchmarks/stress_integrity.py [--runs 4] [--rounds 5]

Four scenarios against one moto server on 127.0.0.1 (an unversioned bucket, the harder case)
and a local wheel index (offline):

- ``one folder``: each round changes the project's manifest, then starts ``--runs`` CLI
  processes at once in that one folder (the first round from no build at all): they share the
  build tree, the zip and the layer;
- ``one layer, two manifests``: two project folders with different manifests publish to the
  same layer name and S3 folder; each round changes both manifests and starts ``--runs``
  processes split between the folders;
- ``replaced on S3`` (issue 19, reproduction 1): each round ``build``, ``package`` and
  ``upload``, then the zip's object on S3 is replaced by another zip, its metadata kept (S3's
  default CRC checksum); ``publish`` must refuse it, then ``run`` uploads and publishes the
  zip's own bytes;
- ``foreign zip`` (reproduction 2): each round another project's zip, given this project's
  identity comment, is copied over ``layer.zip`` after ``package``; ``upload`` must refuse
  it, then ``run`` packages, uploads and publishes the real zip.

A replayed reproduction that is not refused as it should be counts in ``unrefused``.
Afterwards every layer version is checked against what the runs report and what the folders
hold: its ``CodeSha256`` is the zip its own run built (``mismatched`` otherwise), that zip is
sound and holds exactly the distributions of the manifest named by the version's label
(``corrupt`` / ``mismatched`` otherwise), and every round published exactly one version per
manifest (``duplicates``). The script prints the counts and exits 1 unless all are 0.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from layer_builder import AwsClients, LocalAwsEndpoint  # noqa: E402
from tests.wheelhouse import IndexServer, WheelSpec, build_index, make_wheel  # noqa: E402

BUCKET = "layer-builder-stress"
STAMP = re.compile(r"manifest-sha256=([0-9a-f]{64})")
#: Enough bytes that zipping takes a while, so that runs overlap in the zip writer.
BULK = WheelSpec(
    "bulkdata",
    "1.0.0",
    files={f"bulkdata/part{i:03d}.bin": os.urandom(16 * 1024) for i in range(200)},
)
#: The distribution sets the rounds cycle through (name -> version).
PIN_SETS: tuple[Mapping[str, str], ...] = (
    {"tinyutil": "1.0.0", "bulkdata": "1.0.0"},
    {"tinyutil": "1.1.0", "bulkdata": "1.0.0"},
    {"tinyutil": "1.0.0", "tinyhttp": "2.0.0", "bulkdata": "1.0.0"},
    {"tinyutil": "1.1.0", "tiny-yaml": "6.0.0", "bulkdata": "1.0.0"},
)


@attrs.frozen
class RunOutcome:
    """What one CLI process reported."""

    folder: str
    round: int
    code: int
    data: Mapping[str, Any]
    stderr: str


@attrs.define
class Counts:
    runs: int = 0
    failed_runs: int = 0
    versions_checked: int = 0
    mismatched: int = 0
    corrupt: int = 0
    duplicates: int = 0
    replays: int = 0
    unrefused: int = 0
    problems: list[str] = attrs.Factory(list)

    def problem(self, kind: str, text: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.problems.append(f"{kind}: {text}")


def write_manifest(project: Path, pins: Mapping[str, str], tag: str) -> bytes:
    """A requirements.txt of ``pins``; ``tag`` (a comment) makes every round's bytes new."""
    lines = [f"# {tag}", *(f"{name}=={version}" for name, version in sorted(pins.items()))]
    content = ("\n".join(lines) + "\n").encode()
    (project / "requirements.txt").write_bytes(content)
    return content


def make_project(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "pyproject.toml").write_text(f'[project]\nname = "{path.name}"\nversion = "0"\n')
    return path


def run_cli(
    project: Path, layer_name: str, env: Mapping[str, str], command: str = "run"
) -> tuple[int, str, str]:
    """``layer-builder COMMAND --json`` on ``project`` (with the layer's name and S3 folder
    unless it is ``build`` or ``package``)."""
    remote = ["--layer-name", layer_name, "--s3dir", f"s3://{BUCKET}/{layer_name}/lambda/"]
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "layer_builder.cli",
            command,
            "--project",
            str(project),
            *(remote if command not in ("build", "package") else []),
            "--json",
            "-q",
        ],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=600,
        check=False,
    )
    return process.returncode, process.stdout, process.stderr


def outcome_of(
    folder: Path, r: int, result: tuple[int, str, str], counts: Counts, what: str
) -> RunOutcome:
    """``result`` of one command as a ``RunOutcome``, counted (a failure as ``failed_runs``)."""
    code, out, err = result
    counts.runs += 1
    if code != 0:
        last = err.strip().splitlines()[-1:] or ["(no output)"]
        counts.problem("failed_runs", f"{what} round {r} {folder.name}: {last[0]}")
    data = json.loads(out) if code == 0 and out.strip() else {}
    return RunOutcome(folder.name, r, code, data, err)


def expect_refusal(
    result: tuple[int, str, str], says: str, counts: Counts, what: str
) -> RunOutcome | None:
    """Count a replayed reproduction: refused in one line that ``says``, or ``unrefused``;
    a command that went through is returned (its version is checked with the others)."""
    code, out, err = result
    counts.replays += 1
    if code == 0:
        counts.problem("unrefused", f"{what}: went through")
        data = json.loads(out) if out.strip() else {}
        return RunOutcome(what, -1, code, data, err)
    last = (err.strip().splitlines() or ["(no output)"])[-1]
    if says not in last:
        counts.problem("unrefused", f"{what}: refused otherwise: {last}")
    return None


def zip_with_comment(source: Path, comment: bytes) -> bytes:
    """The bytes of the zip ``source`` with the archive comment ``comment``."""
    buffer = io.BytesIO(source.read_bytes())
    with zipfile.ZipFile(buffer, "a") as zf:
        zf.comment = comment
    return buffer.getvalue()


def other_zip(r: int) -> bytes:
    """A sound zip that is no build of ours, to put in place of one."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("python/replaced.py", f"ROUND = {r}\n")
    return buffer.getvalue()


def race(
    jobs: Sequence[tuple[Path, int]], layer_name: str, env: Mapping[str, str]
) -> list[RunOutcome]:
    """Start every (folder, round) job at once; wait for all."""
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        futures = {pool.submit(run_cli, folder, layer_name, env): (folder, r) for folder, r in jobs}
        outcomes = []
        for future in concurrent.futures.as_completed(futures):
            folder, r = futures[future]
            code, out, err = future.result()
            data = json.loads(out) if code == 0 and out.strip() else {}
            outcomes.append(RunOutcome(folder.name, r, code, data, err))
    return outcomes


def dist_versions(zip_bytes: bytes) -> dict[str, str]:
    """``{canonical name: version}`` from the ``*.dist-info`` folders in a layer zip."""
    found = {}
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        for name in zf.namelist():
            match = re.fullmatch(r"python/([^/]+)-([^/-]+)\.dist-info/METADATA", name)
            if match:
                found[match[1].lower().replace("_", "-")] = match[2]
    return found


def check_versions(
    aws: AwsClients,
    layer_name: str,
    outcomes: Sequence[RunOutcome],
    zips: Mapping[str, bytes],
    manifests: Mapping[str, Mapping[str, str]],
    expected_versions: int | None,
    counts: Counts,
) -> None:
    """Check every version of ``layer_name`` (see the module docstring); with
    ``expected_versions``, also that no manifest was published twice."""
    publishers = {o.data["layer_version"]: o for o in outcomes if o.data.get("published")}
    versions = aws.lambda_.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    if expected_versions is not None and len(versions) != expected_versions:
        counts.problem(
            "duplicates",
            f"{layer_name}: {len(versions)} versions for {expected_versions} manifests",
        )
    for version in versions:
        counts.versions_checked += 1
        number = version["Version"]
        detail = aws.lambda_.get_layer_version(LayerName=layer_name, VersionNumber=number)
        code_sha = base64.b64decode(detail["Content"]["CodeSha256"]).hex()
        run = publishers.get(number)
        if run is None:
            counts.problem("mismatched", f"{layer_name}:{number} has no run that published it")
            continue
        if code_sha != run.data.get("zip_sha256"):
            counts.problem(
                "mismatched",
                f"{layer_name}:{number}: CodeSha256 {code_sha[:12]} but its run built "
                f"{str(run.data.get('zip_sha256'))[:12]}",
            )
        body = zips.get(code_sha)
        if body is None:
            counts.problem("corrupt", f"{layer_name}:{number}: no sound zip has its CodeSha256")
            continue
        label = STAMP.search(version.get("Description", ""))
        pins = manifests.get(label[1]) if label else None
        if pins is None:
            counts.problem("mismatched", f"{layer_name}:{number}: label names no known manifest")
            continue
        held = dist_versions(body)
        if held != dict(pins):
            counts.problem(
                "mismatched", f"{layer_name}:{number}: labelled {dict(pins)}, holds {held}"
            )


def collect_zip(project: Path, zips: dict[str, bytes], counts: Counts) -> None:
    """Keep the zip a folder holds after a round (every run there built the same bytes)."""
    path = project / "build" / "lambda" / "layer" / "layer.zip"
    if not path.is_file():
        return
    body = path.read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            bad = zf.testzip()
    except zipfile.BadZipFile as exc:
        bad = str(exc)
    if bad is not None:
        counts.problem("corrupt", f"{path}: unreadable member {bad}")
        return
    zips[hashlib.sha256(body).hexdigest()] = body


def scenario(
    name: str,
    folders: Sequence[Path],
    runs: int,
    rounds: int,
    aws: AwsClients,
    env: Mapping[str, str],
    counts: Counts,
) -> None:
    layer_name = f"stress_{name}"
    zips: dict[str, bytes] = {}
    manifests: dict[str, Mapping[str, str]] = {}
    outcomes: list[RunOutcome] = []
    for r in range(rounds):
        for i, folder in enumerate(folders):
            pins = PIN_SETS[(r + 2 * i) % len(PIN_SETS)]
            content = write_manifest(folder, pins, f"{name} round {r} folder {i}")
            manifests[hashlib.sha256(content).hexdigest()] = pins
        if len(folders) == 1 and r % 2:
            # A warm build: the runs then race straight to the zip.
            subprocess.run([sys.executable, "-m", "layer_builder.cli", "build", "--project",
                            str(folders[0]), "-q"], env=dict(env), check=True,
                           capture_output=True)  # fmt: skip
        jobs = [(folders[j % len(folders)], r) for j in range(runs)]
        round_outcomes = race(jobs, layer_name, env)
        outcomes += round_outcomes
        for outcome in round_outcomes:
            counts.runs += 1
            if outcome.code != 0:
                last = outcome.stderr.strip().splitlines()[-1:] or ["(no output)"]
                counts.problem("failed_runs", f"{name} round {r} {outcome.folder}: {last[0]}")
        for folder in folders:
            collect_zip(folder, zips, counts)
    # One folder: each round's manifest makes exactly one version. Two manifests on one layer
    # may each publish again after the other (only the latest version is compared), so
    # there only the bytes and labels are checked.
    expected = rounds if len(folders) == 1 else None
    check_versions(aws, layer_name, outcomes, zips, manifests, expected, counts)


def replay_replaced_on_s3(
    work: Path, rounds: int, aws: AwsClients, env: Mapping[str, str], counts: Counts
) -> None:
    """Reproduction 1: the zip replaced on S3 between ``upload`` and ``publish``."""
    name = "replaced_on_s3"
    layer_name = f"stress_{name}"
    project = make_project(work / name)
    zips: dict[str, bytes] = {}
    manifests: dict[str, Mapping[str, str]] = {}
    outcomes: list[RunOutcome] = []
    for r in range(rounds):
        content = write_manifest(project, PIN_SETS[r % len(PIN_SETS)], f"{name} round {r}")
        manifests[hashlib.sha256(content).hexdigest()] = PIN_SETS[r % len(PIN_SETS)]
        for command in ("build", "package", "upload"):
            done = outcome_of(project, r, run_cli(project, layer_name, env, command), counts, name)
        key = str(done.data.get("s3_uri", "")).removeprefix(f"s3://{BUCKET}/")
        if key:
            head = aws.s3.head_object(Bucket=BUCKET, Key=key)
            # As `aws s3 cp --metadata ...` would: other bytes, the labels kept, a CRC only.
            aws.s3.put_object(Bucket=BUCKET, Key=key, Body=other_zip(r), Metadata=head["Metadata"])
        published = run_cli(project, layer_name, env, "publish")
        went = expect_refusal(published, "changed after it was uploaded", counts, f"{name} {r}")
        outcomes += [went] if went else []
        outcomes.append(outcome_of(project, r, run_cli(project, layer_name, env), counts, name))
        collect_zip(project, zips, counts)
    check_versions(aws, layer_name, outcomes, zips, manifests, rounds, counts)


def replay_foreign_zip(
    work: Path, rounds: int, aws: AwsClients, env: Mapping[str, str], counts: Counts
) -> None:
    """Reproduction 2: another project's zip, with this one's identity, over ``layer.zip``."""
    name = "foreign_zip"
    layer_name = f"stress_{name}"
    mine, other = make_project(work / f"{name}-mine"), make_project(work / f"{name}-other")
    zips: dict[str, bytes] = {}
    manifests: dict[str, Mapping[str, str]] = {}
    outcomes: list[RunOutcome] = []
    for r in range(rounds):
        for i, folder in enumerate((mine, other)):
            pins = PIN_SETS[(r + i) % len(PIN_SETS)]
            content = write_manifest(folder, pins, f"{name} round {r} folder {i}")
            manifests[hashlib.sha256(content).hexdigest()] = pins
            for command in ("build", "package"):
                outcome_of(folder, r, run_cli(folder, layer_name, env, command), counts, name)
        path_zip = mine / "build" / "lambda" / "layer" / "layer.zip"
        with zipfile.ZipFile(path_zip) as zf:
            comment = zf.comment
        foreign = zip_with_comment(other / "build" / "lambda" / "layer" / "layer.zip", comment)
        path_zip.write_bytes(foreign)
        uploaded = run_cli(mine, layer_name, env, "upload")
        says = "is not the zip `layer-builder package` wrote"
        if expect_refusal(uploaded, says, counts, f"{name} {r}") is not None:
            went = outcome_of(mine, r, run_cli(mine, layer_name, env, "publish"), counts, name)
            outcomes.append(went)
            zips[hashlib.sha256(foreign).hexdigest()] = foreign
        outcomes.append(outcome_of(mine, r, run_cli(mine, layer_name, env), counts, name))
        collect_zip(mine, zips, counts)
    check_versions(aws, layer_name, outcomes, zips, manifests, rounds, counts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=4, help="concurrent runs per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    counts = Counts()
    with tempfile.TemporaryDirectory() as tmp, LocalAwsEndpoint() as endpoint:
        work = Path(tmp)
        build_index(work / "index")
        make_wheel(BULK, work / "index" / "files")
        extra = work / "index" / "simple" / "bulkdata"
        extra.mkdir()
        wheel = BULK.filename
        extra.joinpath("index.html").write_text(f'<a href="../../files/{wheel}">{wheel}</a>\n')
        server = IndexServer(work / "index").start()
        aws = endpoint.clients()
        aws.s3.create_bucket(Bucket=BUCKET)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIP_"))},
            "PIP_INDEX_URL": server.url,
            "UV_CACHE_DIR": str(work / "uv-cache"),
            "AWS_ENDPOINT_URL": endpoint.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        }
        try:
            one = make_project(work / "one-folder")
            scenario("one_folder", [one], args.runs, args.rounds, aws, env, counts)
            two = [make_project(work / "manifest-a"), make_project(work / "manifest-b")]
            scenario("two_manifests", two, args.runs, args.rounds, aws, env, counts)
            replay_replaced_on_s3(work, args.rounds, aws, env, counts)
            replay_foreign_zip(work, args.rounds, aws, env, counts)
        finally:
            server.stop()
    print(
        f"runs               {counts.runs} ({args.runs} at once, {args.rounds} rounds, "
        f"2 race scenarios, 2 replays)"
    )
    print(f"failed runs        {counts.failed_runs}")
    print(f"versions checked   {counts.versions_checked}")
    print(f"mismatched         {counts.mismatched}")
    print(f"corrupt            {counts.corrupt}")
    print(f"duplicates         {counts.duplicates}")
    print(f"replays            {counts.replays}")
    print(f"unrefused          {counts.unrefused}")
    for problem in counts.problems:
        print(f"  {problem}")
    bad = (
        counts.failed_runs + counts.mismatched + counts.corrupt + counts.duplicates
        + counts.unrefused
    )  # fmt: skip
    return 1 if bad or not counts.versions_checked else 0


if __name__ == "__main__":
    sys.exit(main())
