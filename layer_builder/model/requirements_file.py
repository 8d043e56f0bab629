"""A requirements file read as pip reads it, so that every installer gets the same set.

pip's format, as pip 24-26 implement it: lines joined at a trailing backslash, comments
from `` #``, ``${VAR}`` taken from the environment, ``-r``/``-c`` files followed (relative
to the file that names them), and each line split into the requirement and its options at
the first word starting with ``-``. Options on a requirement line are parsed like those of
a line of their own: ``--hash`` and ``--config-settings`` belong to the requirement;
``--no-binary``/``--only-binary`` change the format control of the whole install, wherever
they stand (pip applies them through a shared object); anything pip does not know is an
error, as in pip.

What this module does not do is decide anything for a target: that is
:mod:`layer_builder.installers.target_requirements`.
"""

from __future__ import annotations

import argparse
import codecs
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import attrs
from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from layer_builder.errors import ProjectError

#: ``--no-binary``/``--only-binary`` value naming every package.
ALL = ":all:"

_ENV_VAR = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\}")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_ARCHIVE = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar")
_EGG = re.compile(r"[#&]egg=(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")


class _Refused(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Refused(message)


def _option_parser() -> _Parser:
    parser = _Parser(add_help=False, allow_abbrev=False, prog="requirements file")
    append = {"action": "append", "default": []}
    for flags, dest in (
        (("-r", "--requirement"), "requirements"),
        (("-c", "--constraint"), "constraints"),
        (("-e", "--editable"), "editables"),
        (("-f", "--find-links"), "find_links"),
        (("--extra-index-url",), "extra_index_urls"),
        (("--no-binary",), "no_binary"),
        (("--only-binary",), "only_binary"),
        (("--trusted-host",), "trusted_hosts"),
        (("--use-feature",), "features"),
        (("--hash",), "hashes"),
        (("-C", "--config-settings"), "config_settings"),
        # Removed in pip 25.3; earlier pips take it: read so that such files still parse.
        (("--global-option",), "global_options"),
        (("--all-releases", "--only-final"), "release_control"),
    ):
        parser.add_argument(*flags, dest=dest, **append)  # type: ignore[arg-type]
    parser.add_argument("-i", "--index-url", dest="index_url")
    for flag in ("--no-index", "--prefer-binary", "--require-hashes", "--no-require-hashes",
                 "--pre"):  # fmt: skip
        parser.add_argument(flag, action="store_true")
    return parser


_PARSER = _option_parser()


@attrs.frozen
class RequirementLine:
    """One requirement of the file: a name with a version range, a URL or a local path."""

    #: The requirement as written (``${VAR}`` expanded), without its marker and options.
    spec: str
    #: Where it was read, e.g. ``requirements.txt:3``.
    where: str
    #: The canonical name, when the line says it (a path or URL without ``#egg=`` does not).
    name: NormalizedName | None = None
    marker: Marker | None = None
    #: ``name[extras] specifier`` lines; None for a URL or a path.
    requirement: Requirement | None = None
    #: A local file or folder (resolved; relative paths are pip's: from the current folder).
    path: Path | None = None
    hashes: tuple[str, ...] = ()
    config_settings: tuple[str, ...] = ()
    global_options: tuple[str, ...] = ()
    editable: bool = False

    @property
    def is_url(self) -> bool:
        """Whether it names a URL (an archive, a VCS repository) rather than a path or name."""
        return self.requirement is None and self.path is None

    def applies(self, environments: list[dict[str, str]]) -> bool:
        """Whether its marker holds in any of the marker ``environments``."""
        return self.marker is None or any(self.marker.evaluate(e) for e in environments)


@attrs.frozen
class RequirementsFile:
    """The requirements and options of a file and of every file it includes."""

    path: Path
    requirements: tuple[RequirementLine, ...]
    constraints: tuple[RequirementLine, ...] = ()
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    no_index: bool = False
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    pre: bool = False
    require_hashes: bool = False
    #: Canonical names pip must not take a wheel of (or ``:all:``), and the reverse.
    no_binary: frozenset[str] = frozenset()
    only_binary: frozenset[str] = frozenset()
    #: What pip reads but ignores, one sentence each (a format-control value naming nothing).
    ignored: tuple[str, ...] = ()

    def builds_from_source(self, name: str) -> bool:
        """Whether pip would take only a source distribution of ``name`` (its precedence:
        a name in either set before ``:all:``, ``--only-binary`` first)."""
        key = canonicalize_name(name)
        if key in self.only_binary:
            return False
        if key in self.no_binary:
            return True
        return ALL not in self.only_binary and ALL in self.no_binary


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(first line number, line)`` with continuations joined, comments and blanks dropped."""
    pending: list[str] = []
    first = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.endswith("\\") and not _COMMENT.match(raw):
            first = first or number
            pending.append(raw[:-1])
            continue
        line = "".join([*pending, raw])
        start, pending, first = first or number, [], 0
        line = _COMMENT.sub("", line).strip()
        if line:
            yield start, line
    if pending:
        line = _COMMENT.sub("", "".join(pending)).strip()
        if line:
            yield first, line


def _split(line: str) -> tuple[str, str]:
    """pip's split of a line into the requirement and the options (at the first ``-`` word)."""
    words = line.split(" ")
    for index, word in enumerate(words):
        if word.startswith("-"):
            return " ".join(words[:index]).strip(), " ".join(words[index:])
    return line.strip(), ""


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or spec.startswith(".") or os.sep in spec or spec.endswith(_ARCHIVE)


def _is_path(spec: str) -> bool:
    """pip's test: a folder or an archive, unless it reads as ``name @ url``."""
    location = spec.split(";", 1)[0].strip()
    before_at = location.split("@", 1)[0]
    if "@" in location and not _looks_like_path(before_at.strip()):
        return False
    return _looks_like_path(location)


def parse_requirement(spec: str, where: str, base: Path, editable: bool = False) -> RequirementLine:
    """One requirement as pip's ``install_req_from_line`` tells names, URLs and paths apart."""
    if _URL.match(spec) or _is_path(spec):
        separator = "; " if _URL.match(spec) else ";"
        location, _, marker_text = spec.partition(separator)
        location = location.strip()
        try:
            marker = Marker(marker_text) if marker_text.strip() else None
        except InvalidMarker as exc:
            raise ProjectError(f"{where}: invalid marker ({exc}): fix the line") from None
        egg = _EGG.search(location)
        name = canonicalize_name(egg["name"]) if egg else None
        path = None
        if location.startswith("file:"):
            from urllib.parse import unquote, urlsplit

            path = Path(unquote(urlsplit(location).path))
        elif not _URL.match(location):
            path = (base / location).resolve()
        if path is not None and not path.exists():
            raise ProjectError(
                f"{where}: {location} names the path {path}, which does not exist: fix the "
                f"path (relative paths start from the project folder, as for pip)"
            )
        return RequirementLine(location, where, name, marker, path=path, editable=editable)
    try:
        requirement = Requirement(spec)
    except InvalidRequirement as exc:
        raise ProjectError(f"{where}: {spec!r} is not a requirement pip reads ({exc})") from None
    marker, bare = requirement.marker, Requirement(spec)
    bare.marker = None
    if requirement.url:
        return RequirementLine(str(bare), where, canonicalize_name(requirement.name), marker)
    return RequirementLine(
        str(bare), where, canonicalize_name(requirement.name), marker, requirement=bare
    )


def _format_control(values: list[str], target: set[str], other: set[str], ignored: list[str],
                    flag: str, where: str) -> None:  # fmt: skip
    """pip's reading of a ``--no-binary``/``--only-binary`` value into the two sets."""
    for value in values:
        for name in value.split(","):
            if name == ALL:
                target.clear()
                other.clear()
                target.add(ALL)
            elif name == ":none:":
                target.clear()
            elif name.startswith(":") or not name:
                ignored.append(
                    f"{where}: {flag}={value} names no package ({name!r} is not a name, "
                    f":all: or :none:), so pip ignores it"
                )
            else:
                key = canonicalize_name(name)
                other.discard(key)
                target.add(key)


class _Reader:
    """Reads one top-level file and everything it includes, in pip's order."""

    def __init__(self, project_dir: Path):
        self.project_dir = project_dir
        self.values: dict[str, object] = {"index_url": None, "no_index": False, "pre": False,
                                          "require_hashes": False}  # fmt: skip
        self.lists: dict[str, list[str]] = {"extra_index_urls": [], "find_links": [],
                                             "trusted_hosts": []}  # fmt: skip
        self.requirements: list[RequirementLine] = []
        self.constraints: list[RequirementLine] = []
        self.no_binary: set[str] = set()
        self.only_binary: set[str] = set()
        self.ignored: list[str] = []
        self.seen: list[Path] = []

    def read(self, path: Path, constraint: bool = False) -> None:
        if path in self.seen:
            return  # pip raises on a cycle only; a file read twice adds nothing new
        self.seen.append(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ProjectError(f"{path} does not exist: fix the -r/-c line naming it") from None
        except OSError as exc:
            raise ProjectError(
                f"cannot read {path} ({exc.strerror or exc}): make it a readable file, or fix "
                f"the -r/-c line naming it"
            ) from None
        text = decode_requirements(data, path)
        for number, line in logical_lines(text):
            self._line(path, number, _ENV_VAR.sub(_expand, line), constraint)

    def _line(self, path: Path, number: int, line: str, constraint: bool) -> None:
        where = f"{path.name}:{number}"
        spec, options_text = _split(line)
        try:
            options = _PARSER.parse_args(shlex.split(options_text))
        except (_Refused, ValueError) as exc:
            raise ProjectError(
                f"{where}: {exc} in {line!r}, which pip refuses too: remove or fix the option"
            ) from None
        _format_control(options.no_binary, self.no_binary, self.only_binary, self.ignored,
                        "--no-binary", where)  # fmt: skip
        _format_control(options.only_binary, self.only_binary, self.no_binary, self.ignored,
                        "--only-binary", where)  # fmt: skip
        for included in options.requirements:
            self.read((path.parent / included).resolve(), constraint)
        for included in options.constraints:
            self.read((path.parent / included).resolve(), True)
        written = [(spec, False)] if spec else []
        written += [(editable, True) for editable in options.editables]
        found = [
            attrs.evolve(
                parse_requirement(text, where, self.project_dir, editable=editable),
                hashes=tuple(options.hashes),
                config_settings=tuple(options.config_settings),
                global_options=tuple(options.global_options),
            )
            for text, editable in written
        ]
        (self.constraints if constraint else self.requirements).extend(found)
        if spec:
            return  # global options on a requirement line are not the finder's (pip ignores them)
        if options.index_url:
            self.values["index_url"] = options.index_url
        for flag in ("no_index", "pre", "require_hashes"):
            if getattr(options, flag):
                self.values[flag] = True
        self.lists["extra_index_urls"] += options.extra_index_urls
        self.lists["trusted_hosts"] += options.trusted_hosts
        for link in options.find_links:
            beside = path.parent / link
            self.lists["find_links"].append(str(beside) if beside.exists() else link)

    def result(self, path: Path) -> RequirementsFile:
        return RequirementsFile(
            path=path,
            requirements=tuple(self.requirements),
            constraints=tuple(self.constraints),
            index_url=self.values["index_url"],  # type: ignore[arg-type]
            extra_index_urls=tuple(self.lists["extra_index_urls"]),
            no_index=bool(self.values["no_index"]),
            find_links=tuple(self.lists["find_links"]),
            trusted_hosts=tuple(self.lists["trusted_hosts"]),
            pre=bool(self.values["pre"]),
            require_hashes=bool(self.values["require_hashes"]),
            no_binary=frozenset(self.no_binary),
            only_binary=frozenset(self.only_binary),
            ignored=tuple(self.ignored),
        )


def decode_requirements(data: bytes, path: Path) -> str:
    """The text of the requirements file ``path`` (``data``: its bytes), without a UTF-8
    byte-order mark; a ``ProjectError`` naming it when it is not UTF-8 (the one encoding
    this reader, pip and uv all read alike)."""
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            found = "is UTF-16, not UTF-8"
        else:
            line = body[: exc.start].count(b"\n") + 1
            found = f"is not UTF-8 (byte {body[exc.start]:#04x} on line {line})"
        raise ProjectError(f"{path} {found}: save it as UTF-8") from None


def _expand(match: re.Match[str]) -> str:
    return os.environ.get(match["name"], match[0])


def read_requirements_file(path: Path, project_dir: Path | None = None) -> RequirementsFile:
    """``path`` and the files it includes, read as pip reads them (relative requirement paths
    from ``project_dir``, the folder the installer runs in; default: the file's folder)."""
    reader = _Reader((project_dir or path.parent).resolve())
    reader.read(path.resolve())
    return reader.result(path)
