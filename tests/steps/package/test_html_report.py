"""``package --report``: the treemap's rectangles match the bytes, the page stands alone, and a
real browser draws it."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from layer_builder import (
    BuildStep,
    LayerPathLayout,
    LayerTarget,
    Manifest,
    PackageError,
    PackageOptions,
    PackageResult,
    PackageStep,
)
from layer_builder.steps.package.html_report import HEIGHT, WIDTH, html_report, write_html_report
from tests.conftest import WheelIndex

PINS = "tinyhttp==2.0.0\ntinyutil==1.0.0\nTiny-YAML==6.0.0\nfastcalc==1.0.0\n"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class _Page(HTMLParser):
    """The rectangles of the treemap and every attribute that could load something."""

    def __init__(self) -> None:
        super().__init__()
        self.rects: list[dict[str, str]] = []
        self.tags: list[str] = []
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attributes}
        self.tags.append(tag)
        if tag == "rect":
            self.rects.append(values)
        self.links += [(k, v) for k, v in values.items() if k in ("src", "href", "xlink:href")]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory, wheel_index: WheelIndex) -> PackageResult:
    project = tmp_path_factory.mktemp("report") / "app"
    project.mkdir()
    (project / "requirements.txt").write_text(PINS)
    (project / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0.1.0"\n')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_CONFIG_FILE", os.devnull)
        mp.setenv("PIP_INDEX_URL", wheel_index.url)
        layout = LayerPathLayout(project)
        build = BuildStep(LayerTarget("3.12"), Manifest.from_project(project), layout).run()
    tests_dir = build.dir_python / "tinyhttp" / "tests"
    tests_dir.mkdir()
    (tests_dir / "test_get.py").write_bytes(b"def test(): pass\n" * 40)
    layout.path_build_record.unlink()  # a tree changed by hand: no build vouches for it
    options = PackageOptions(slim=True, reserve=262_140_000)
    return PackageStep(layout.path_layer_zip, options).run(build)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def test_rectangle_areas_are_the_bytes_and_sum_to_the_tree(result: PackageResult) -> None:
    page = _parse(html_report(result))
    dists = [r for r in page.rects if r.get("class") == "dist"]
    assert [r["data-name"] for r in dists] == [d.name for d in result.distributions]
    sizes = [int(r["data-bytes"]) for r in dists]
    assert sum(sizes) == result.unzipped_size
    scale = WIDTH * HEIGHT / result.unzipped_size
    areas = [float(r["width"]) * float(r["height"]) for r in dists]
    for size, area in zip(sizes, areas, strict=True):
        assert area == pytest.approx(size * scale, rel=1e-3, abs=0.01)
    assert sum(areas) == pytest.approx(WIDTH * HEIGHT, rel=1e-4)
    # Every rectangle stays inside the picture.
    for r in page.rects:
        x, y, w, h = (float(r[k]) for k in ("x", "y", "width", "height"))
        assert x >= -0.01 and y >= -0.01 and x + w <= WIDTH + 0.01 and y + h <= HEIGHT + 0.01


def test_folders_split_each_distribution(result: PackageResult) -> None:
    page = _parse(html_report(result))
    folders = [int(r["data-bytes"]) for r in page.rects if r.get("class") == "folder"]
    assert sum(folders) == result.unzipped_size
    assert sum(f.unzipped_size for f in result.folders) == result.unzipped_size
    assert {(f.distribution, f.folder) for f in result.folders} >= {
        ("tinyhttp", "tinyhttp/"),
        ("tinyhttp", "tinyhttp-2.0.0.dist-info/"),
        ("Tiny-YAML", "_tiny_yaml.py"),
    }


def test_page_stands_alone_and_says_what_slimming_removed(result: PackageResult) -> None:
    text = html_report(result)
    page = _parse(text)
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert page.links == []
    assert "url(" not in text and "@import" not in text
    assert "<td>tests/ and test/ folders</td><td>1</td><td>0.7 kB</td>" in text
    # The headroom: 4,000 bytes left of the limit after the 262,140,000-byte reserve.
    assert (
        "of <b>4.0 kB</b> (4,000 bytes, what is left of Lambda's 262.1 MB after the reserve)"
        in (text)
    )
    assert "MIT" in text, "the licence column"


def test_a_result_without_sizes_is_refused(result: PackageResult, tmp_path: Path) -> None:
    bare = PackageResult.from_zip(result.path_zip)
    with pytest.raises(PackageError) as caught:
        write_html_report(bare, tmp_path / "r.html")
    assert str(caught.value) == (
        f"the package result for {result.path_zip} has no size breakdown (it was read back "
        f"from the zip): run `layer-builder package --report FILE.html` to make one"
    )


def _png_pixels(data: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct colours of an 8-bit RGB(A) PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    channels = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(idat), width * channels
    previous, colours = bytearray(stride), set()
    for row in range(height):
        kind, line = (
            raw[row * (stride + 1)],
            bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (
                    line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)
                ) & 255
        colours.update(bytes(line[i : i + 3]) for i in range(0, stride, channels * 8))
        previous = line
    return width, height, colours


@pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)"
)
def test_a_real_browser_draws_the_page(result: PackageResult, tmp_path: Path) -> None:
    page = write_html_report(result, tmp_path / "report.html")
    screenshot = tmp_path / "shot.png"
    assert CHROMIUM is not None
    process = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=800,600",
         "--hide-scrollbars", f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    width, height, colours = _png_pixels(screenshot.read_bytes())
    assert (width, height) == (800, 600)
    # A blank page has one colour; this one has text, the headroom bar and the treemap.
    assert len(colours) > 20
