"""The packaging flags of ``layer-builder``: slimming, stripping, compression, size report."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from layer_builder.cli.config import setting
from layer_builder.cli.flag_values import BACKENDS, STRIP_MODES

# The package step is imported by the functions that use it, not by the parser that adds
# these flags (`--help` starts at once).
if TYPE_CHECKING:
    from layer_builder.steps.package.size_report import DistributionSize
    from layer_builder.steps.package.slimming import Saving
    from layer_builder.steps.package.step import PackageOptions, PackageResult


def add_package_identity_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that change what ``layer.zip`` holds (part of the fingerprint)."""
    parser.add_argument("--slim", action="store_true",
                        help="leave out __pycache__, dependencies' tests, C/C++ headers, "
                             "Cython sources and type stubs")  # fmt: skip
    parser.add_argument("--strip", nargs="?", const="debug", choices=STRIP_MODES,
                        metavar="MODE", help="strip copies of shared objects: debug "
                        "(--strip-debug, default) or unneeded (also symbol tables)")  # fmt: skip
    parser.add_argument("--compile-bytecode", action="store_true",
                        help="add unchecked-hash .pyc files (needs the target Python)")  # fmt: skip


def add_package_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that change how ``layer.zip`` is written, not what it holds."""
    parser.add_argument("--compress-level", type=int, metavar="N",
                        help="0 (store) to 12, 9 with zlib (default: 6)")  # fmt: skip
    parser.add_argument("--deflate-backend", choices=BACKENDS,
                        help="libdeflate (default: bundled, the same bytes on any host) or "
                             "zlib (the host's)")  # fmt: skip
    parser.add_argument("--reserve", metavar="SIZE",
                        help="room the function's own code needs within Lambda's unzipped "
                             "limit, e.g. 20MB")  # fmt: skip
    parser.add_argument("--deny-license", action="append", dest="deny_licenses",
                        metavar="SPDX", help="refuse to ship a distribution under this "
                        "licence: an SPDX identifier or pattern, e.g. 'AGPL-*' "
                        "(repeatable)")  # fmt: skip


def package_options(
    args: argparse.Namespace, config: dict[str, Any], excludes: Any
) -> PackageOptions:
    """``PackageOptions`` from the flags, else ``[tool.layer_builder]``, else the defaults."""
    from layer_builder.steps.package.size_report import parse_size
    from layer_builder.steps.package.step import PackageOptions

    settings: dict[str, Any] = {}
    if excludes is not None:
        settings["excludes"] = excludes
    for flag, key, field in (
        ("slim", "slim", "slim"),
        ("compile_bytecode", "compile_bytecode", "compile_bytecode"),
        ("compress_level", "compress_level", "compresslevel"),
        ("deflate_backend", "deflate_backend", "backend"),
    ):
        value = setting(args, config, flag, key)
        if value is not None:
            settings[field] = value
    strip = setting(args, config, "strip", "strip")
    if strip:
        settings["strip"] = True
        settings["strip_mode"] = "debug" if strip is True else strip
    reserve = setting(args, config, "reserve", "reserve")
    if reserve is not None:
        settings["reserve"] = parse_size(reserve)
    deny = setting(args, config, "deny_licenses", "deny_licenses")
    if deny:
        settings["deny_licenses"] = deny
    return PackageOptions(**settings)


def package_json(result: PackageResult) -> dict[str, Any]:
    """The size report and slimming of a package run, for ``--json``."""
    return {
        "size_report": [_distribution_json(d) for d in result.distributions],
        "savings": [_saving_json(s) for s in result.savings],
        "reused_members": result.reused,
        "size_limit": result.size_limit,
        "licenses": [
            {
                "name": lic.name,
                "version": lic.version,
                "expression": lic.expression,
                "text": lic.text,
                "source": lic.source,
            }
            for lic in result.licenses
        ],
        "sbom": str(result.path_sbom) if result.path_sbom else None,
        "smoke_test": result.smoke_test,
        "smoke_test_seconds": round(result.smoke_test_seconds, 3),
        "smoke_test_wait_seconds": round(result.smoke_test_wait_seconds, 3),
        "smoke_test_interpreter": result.smoke_test_interpreter,
    }


def _saving_json(saving: Saving) -> dict[str, Any]:
    return {
        "what": saving.what,
        "files": saving.files,
        "bytes_saved": saving.bytes_saved,
        "kept_files": saving.kept_files,
        "kept_bytes": saving.kept_bytes,
    }


def _distribution_json(size: DistributionSize) -> dict[str, Any]:
    return {
        "name": size.name,
        "version": size.version,
        "files": size.files,
        "unzipped_size": size.unzipped_size,
        "zipped_size": size.zipped_size,
    }


def package_lines(data: dict[str, Any]) -> list[str]:
    """Human lines for ``layer-builder package``: the zip, the size report, the savings."""
    from layer_builder.steps.package.size_report import (
        DistributionSize,
        format_size,
        format_table,
    )

    limit = data.get("size_limit") or 0
    share = f", {100 * data['unzipped_size'] / limit:.0f} % of the limit" if limit else ""
    lines = [
        f"{data['path']} ({data['zip_size']:,} bytes, sha256 {data['zip_sha256']})",
        f"{data['files']} files, {format_size(data['unzipped_size'])} unzipped{share}",
    ]
    sizes = [DistributionSize(**d) for d in data.get("size_report", [])]
    lines += format_table(sizes)
    for saving in data.get("savings", []):
        line = f"saved {format_size(saving['bytes_saved'])} ({saving['files']} files): "
        line += saving["what"]
        if saving.get("kept_files"):
            kept = format_size(saving["kept_bytes"])
            line += f"; {saving['kept_files']} files ({kept}) kept as they were"
        lines.append(line)
    lines += license_lines(data.get("licenses", []))
    by = f" ({data['smoke_test_interpreter']})" if data.get("smoke_test_interpreter") else ""
    if data.get("smoke_test") == "passed":
        lines.append(f"import smoke test{by}: passed in {data['smoke_test_seconds']:.1f} s")
    elif data.get("smoke_test") == "reused":
        lines.append(f"import smoke test{by}: passed before by this very zip, not run again")
    if data.get("sbom"):
        lines.append(f"SBOM (CycloneDX): {data['sbom']}")
    if data.get("report"):
        lines.append(f"size report: {data['report']}")
    return lines


def license_lines(licenses: list[dict[str, Any]]) -> list[str]:
    """The licence report as aligned text lines: distribution, licence, where it was read."""
    if not licenses:
        return []
    labels = [f"{d['name']} {d['version']}" for d in licenses]
    width = max(len("distribution"), *(len(label) for label in labels))
    lines = [f"{'distribution':<{width}}  licence (source)"]
    for label, d in zip(labels, licenses, strict=True):
        licence = d["expression"] or d["text"] or "unknown"
        source = f" ({d['source']})" if d["source"] else ""
        lines.append(f"{label:<{width}}  {licence}{source}")
    return lines
