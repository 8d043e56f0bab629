"""``package --report FILE.html``: where the layer's bytes go, as one self-contained page.

A treemap of the unzipped layer (each distribution a rectangle whose area is its share of the
bytes, split into its top-level folders), laid out by ``squarify``; what ``--slim`` and
``--strip`` removed; and the room left under Lambda's unzipped limit. Plain SVG and CSS: no
script and nothing fetched, so the page opens from a CI artefact or a mail attachment, and
each rectangle's ``<title>`` gives its numbers on hover.
"""

from __future__ import annotations

import html
import zlib
from collections.abc import Sequence
from pathlib import Path

import attrs
import squarify

from layer_builder.errors import PackageError
from layer_builder.steps.package.size_report import (
    LAMBDA_UNZIPPED_LIMIT,
    WARN_FRACTION,
    DistributionSize,
    FolderSize,
    format_size,
)
from layer_builder.steps.package.slimming import Saving
from layer_builder.steps.package.step import PackageResult

#: The treemap's size in CSS pixels.
WIDTH, HEIGHT = 1200, 640
#: Height of a distribution's name strip, and the gap around its folders.
_HEADER, _PAD = 16, 2


@attrs.frozen
class Box:
    """A rectangle of the treemap."""

    x: float
    y: float
    dx: float
    dy: float

    @property
    def area(self) -> float:
        """The rectangle's area in square pixels."""
        return self.dx * self.dy


def layout(sizes: Sequence[int], box: Box) -> list[Box]:
    """``squarify``'s rectangles for ``sizes`` (largest first, all > 0) filling ``box``: each
    area is its size's share of the box."""
    if not sizes:
        return []
    normalised = squarify.normalize_sizes(list(sizes), box.dx, box.dy)
    rects = squarify.squarify(normalised, box.x, box.y, box.dx, box.dy)
    return [Box(r["x"], r["y"], r["dx"], r["dy"]) for r in rects]


def _hue(name: str) -> int:
    return zlib.crc32(name.encode()) % 360


def _fits(label: str, box: Box, font: float = 12) -> str:
    """``label``, shortened to what ``box`` can show (empty when nothing fits)."""
    if box.dy < font + 4 or box.dx < 4 * font:
        return ""
    chars = int((box.dx - 6) / (0.6 * font))
    return label if len(label) <= chars else label[: max(chars - 1, 0)] + "…"


def _text(box: Box, label: str, size: float, cls: str) -> str:
    shown = _fits(label, box, size)
    if not shown:
        return ""
    return (
        f'<text class="{cls}" x="{box.x + 4:.2f}" y="{box.y + size + 1:.2f}">'
        f"{html.escape(shown)}</text>"
    )


def _distribution_svg(dist: DistributionSize, box: Box, folders: Sequence[FolderSize]) -> str:
    hue = _hue(dist.name)
    label = f"{dist.name} {dist.version}".strip()
    tip = (
        f"{label}: {format_size(dist.unzipped_size)} unzipped, {format_size(dist.zipped_size)} "
        f"zipped, {dist.files:,} files"
    )
    parts = [
        f'<g class="dist-group"><rect class="dist" data-name="{html.escape(dist.name)}" '
        f'data-bytes="{dist.unzipped_size}" x="{box.x:.3f}" y="{box.y:.3f}" '
        f'width="{box.dx:.3f}" height="{box.dy:.3f}" fill="hsl({hue},45%,42%)">'
        f"<title>{html.escape(tip)}</title></rect>"
    ]
    inner = Box(box.x + _PAD, box.y + _HEADER, box.dx - 2 * _PAD, box.dy - _HEADER - _PAD)
    shown = [f for f in folders if f.unzipped_size > 0]
    if inner.dx > 8 and inner.dy > 8 and shown:
        for folder, rect in zip(
            shown, layout([f.unzipped_size for f in shown], inner), strict=True
        ):
            tip = (
                f"{dist.name}: {folder.folder} {format_size(folder.unzipped_size)} unzipped, "
                f"{format_size(folder.zipped_size)} zipped, {folder.files:,} files"
            )
            parts.append(
                f'<rect class="folder" data-bytes="{folder.unzipped_size}" x="{rect.x:.3f}" '
                f'y="{rect.y:.3f}" width="{rect.dx:.3f}" height="{rect.dy:.3f}" '
                f'fill="hsl({hue},55%,{72 if len(parts) % 2 else 66}%)">'
                f"<title>{html.escape(tip)}</title></rect>"
            )
            sizes = (
                f"{format_size(folder.unzipped_size)} ({format_size(folder.zipped_size)} zipped)"
            )
            parts.append(_text(rect, f"{folder.folder} {sizes}", 10, "small"))
    sizes = f"{format_size(dist.unzipped_size)} ({format_size(dist.zipped_size)} zipped)"
    parts.append(_text(box, f"{label} · {sizes}", 12, "head"))
    parts.append("</g>")
    return "".join(parts)


def treemap_svg(result: PackageResult) -> str:
    """The treemap of ``result`` as an inline ``<svg>`` element."""
    dists = [d for d in result.distributions if d.unzipped_size > 0]
    boxes = layout([d.unzipped_size for d in dists], Box(0, 0, WIDTH, HEIGHT))
    by_distribution: dict[str, list[FolderSize]] = {}
    for folder in result.folders:
        by_distribution.setdefault(folder.distribution, []).append(folder)
    body = "".join(
        _distribution_svg(d, box, by_distribution.get(d.name, []))
        for d, box in zip(dists, boxes, strict=True)
    )
    return (
        f'<svg class="treemap" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="treemap of the unzipped layer">{body}</svg>'
    )


def _headroom(result: PackageResult) -> str:
    limit = result.size_limit or LAMBDA_UNZIPPED_LIMIT
    used = result.unzipped_size
    share = min(used / limit, 1.0)
    left = limit - used
    state = "over" if left < 0 else "warn" if share >= WARN_FRACTION else "ok"
    limit_note = (
        "Lambda's limit for a function and all its layers"
        if limit == LAMBDA_UNZIPPED_LIMIT
        else f"what is left of Lambda's {format_size(LAMBDA_UNZIPPED_LIMIT)} after the reserve"
    )
    words = (
        f"{format_size(-left)} over the limit"
        if left < 0
        else f"{format_size(left)} of headroom ({100 * left / limit:.0f} %)"
    )
    return (
        f'<div class="headroom {state}"><div class="bar"><div class="used" '
        f'style="width:{100 * share:.2f}%"></div></div>'
        f"<p>The layer takes <b>{format_size(used)}</b> unzipped of <b>{format_size(limit)}</b> "
        f"({limit:,} bytes, {limit_note}): <b>{words}</b> for the function's code and its "
        f"other layers.</p></div>"
    )


def _kept(saving: Saving) -> str:
    if not saving.kept_files:
        return ""
    return f"; {saving.kept_files:,} files ({format_size(saving.kept_bytes)}) kept as they were"


def _savings(result: PackageResult) -> str:
    removed = [s for s in result.savings if s.files or s.bytes_saved or s.kept_files]
    if not removed:
        return (
            "<p>Nothing was removed: the layer was packaged without <code>--slim</code> or "
            "<code>--strip</code>, or they found nothing to remove.</p>"
        )
    rows = "".join(
        f"<tr><td>{html.escape(s.what)}{_kept(s)}</td><td>{s.files:,}</td>"
        f"<td>{format_size(s.bytes_saved)}</td></tr>"
        for s in removed
    )
    total = sum(s.bytes_saved for s in removed)
    return (
        "<table><thead><tr><th>removed</th><th>files</th><th>bytes saved</th></tr></thead>"
        f"<tbody>{rows}</tbody><tfoot><tr><td>total</td><td></td>"
        f"<td>{format_size(total)}</td></tr></tfoot></table>"
    )


def _distribution_table(result: PackageResult) -> str:
    licence_of = {(lic.name, lic.version): lic.label for lic in result.licenses}
    total = result.unzipped_size or 1
    rows = "".join(
        f'<tr><td><span class="swatch" style="background:hsl({_hue(d.name)},45%,42%)"></span>'
        f"{html.escape(d.name)}</td><td>{html.escape(d.version)}</td><td>{d.files:,}</td>"
        f"<td>{format_size(d.unzipped_size)}</td><td>{100 * d.unzipped_size / total:.1f} %</td>"
        f"<td>{format_size(d.zipped_size)}</td>"
        f"<td>{html.escape(licence_of.get((d.name, d.version), ''))}</td></tr>"
        for d in result.distributions
    )
    return (
        "<table><thead><tr><th>distribution</th><th>version</th><th>files</th>"
        "<th>unzipped</th><th>share</th><th>zipped</th><th>licence</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2330}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.meta{color:#5a6272;margin:0 0 12px}code{font-size:12px}
.treemap{display:block;max-width:100%;height:auto;border:1px solid #ccd}
.treemap rect{stroke:#fff;stroke-width:1}.treemap rect.dist{stroke-width:2}
.treemap text{pointer-events:none;fill:#fff}.treemap text.small{fill:#1d2330;font-size:10px}
.treemap text.head{font-size:12px;font-weight:600}
.treemap rect.folder:hover{fill-opacity:.75}
.headroom .bar{height:18px;width:100%;max-width:1200px;background:#e3e7ee;border-radius:3px}
.headroom .used{height:100%;background:#2f7d4a;border-radius:3px}
.headroom.warn .used{background:#c58a00}.headroom.over .used{background:#b3261e}
table{border-collapse:collapse;margin:4px 0}td,th{padding:3px 10px;text-align:right}
td:first-child,th:first-child,td:last-child,th:last-child{text-align:left}
thead th{border-bottom:1px solid #99a}tfoot td{border-top:1px solid #99a;font-weight:600}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
"""


def html_report(result: PackageResult, title: str = "") -> str:
    """The page for ``result`` (needs its ``distributions`` and ``folders``, which
    ``PackageStep`` fills; a result rebuilt from a zip alone has neither)."""
    if result.files and not (result.distributions and result.folders):
        raise PackageError(
            f"the package result for {result.path_zip} has no size breakdown (it was read "
            f"back from the zip): run `layer-builder package --report FILE.html` to make one"
        )
    heading = title or f"{result.path_zip.name}: where the bytes go"
    compression = result.zip_size / result.unzipped_size if result.unzipped_size else 0.0
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(heading)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(heading)}</h1>"
        f'<p class="meta">{html.escape(str(result.path_zip))}: {result.files:,} files, '
        f"<b>{format_size(result.unzipped_size)}</b> unzipped, "
        f"<b>{format_size(result.zip_size)}</b> zipped ({100 * compression:.0f} %), sha256 "
        f"<code>{result.sha256}</code></p>"
        f"<h2>Headroom under Lambda's limit</h2>{_headroom(result)}"
        "<h2>The unzipped layer by distribution and top-level folder</h2>"
        f"{treemap_svg(result)}"
        f"<h2>What slimming removed</h2>{_savings(result)}"
        f"<h2>Distributions</h2>{_distribution_table(result)}"
        "</body></html>\n"
    )


def write_html_report(result: PackageResult, path: Path, title: str = "") -> Path:
    """Write ``html_report(result)`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_report(result, title), encoding="utf-8")
    return path
