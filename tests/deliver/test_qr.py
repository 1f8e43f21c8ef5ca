"""The delivery QR code: the PNG the thread shows and the SVG the page inlines both draw exactly the
code's modules, at the size the QR spec gives a link of that length at level M (no decoder is
installed here, so the image is read back module by module instead)."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from honk.deliver.qr import BORDER, BOX, code, qr_png, qr_svg

URL = "https://testflight.apple.com/join/AbC123"
SVG = "{http://www.w3.org/2000/svg}"


def dark_modules(url: str) -> set[tuple[int, int]]:
    matrix = code(url).get_matrix()  # with its quiet zone
    return {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}


@pytest.mark.parametrize(
    ("length", "version"),
    # Byte-mode capacity at level M (ISO/IEC 18004, table 7): v2 holds 26 bytes, v3 42, v5 84, v7 122, v8 152.
    [(26, 2), (27, 3), (42, 3), (84, 5), (122, 7), (123, 8), (152, 8)],
)
def test_the_version_is_the_smallest_the_spec_allows_at_level_m(length: int, version: int) -> None:
    url = "https://a.example.com/" + "x" * (length - 22)
    made = code(url)
    assert made.version == version
    assert len(made.get_matrix()) == 17 + 4 * version + 2 * BORDER
    assert made.data_list[0].data == url.encode(), "the link itself, byte for byte"


def test_the_png_draws_every_module_of_the_code() -> None:
    image = Image.open(io.BytesIO(qr_png(URL))).convert("L")
    modules = len(code(URL).get_matrix())
    assert image.size == (modules * BOX, modules * BOX)
    seen = {
        (x, y)
        for y in range(modules)
        for x in range(modules)
        if image.getpixel((x * BOX + BOX // 2, y * BOX + BOX // 2)) < 128  # type: ignore[operator]
    }
    assert seen == dark_modules(URL)


def test_the_svg_is_an_inline_element_with_a_background_that_draws_every_module() -> None:
    svg = qr_svg(URL)
    assert svg.startswith("<svg ") and "<?xml" not in svg and 'width="' not in svg.split(">", 1)[0]
    root = ET.fromstring(svg)
    modules = len(code(URL).get_matrix())
    assert root.get("viewBox") == f"0 0 {modules} {modules}"
    assert root.get("role") == "img"
    rect = root.find(f"{SVG}rect")
    assert rect is not None and rect.get("fill") == "white", "readable on a dark page"
    path = root.find(f"{SVG}path")
    assert path is not None
    drawn = {(int(x), int(y)) for x, y in re.findall(r"M(\d+),(\d+)H", path.get("d", ""))}
    assert drawn == dark_modules(URL)


@pytest.mark.parametrize("url", ["", "https://a.example.com/" + "x" * 2000])
def test_no_code_for_an_empty_or_overlong_link(url: str) -> None:
    with pytest.raises(ValueError, match="a QR code is made for a link of 1 to 2000 characters"):
        qr_png(url)


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_any_text_up_to_a_long_link_makes_a_code(text: str) -> None:
    assert qr_png(text).startswith(b"\x89PNG") and qr_svg(text).startswith("<svg ")
