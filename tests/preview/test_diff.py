"""The pixel diff of two screenshots, without a browser: what changed is counted and marked, nothing
else is; a difference nobody sees is no change; a header and a footer that changed cost pixelmatch two
small boxes; identical pictures and a page that changed everywhere cost it nothing; images of different
sizes count what only one of them has. (pixelmatch, a library, is watched for what it is given; its
time is measured in bench/preview.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import Image, ImageChops, ImageDraw

from honk.preview import diff
from honk.preview.diff import OUTLINE, compare

PHONE = (390, 844)


def _page(size: tuple[int, int] = PHONE, button: tuple[int, int, int, int] | None = None, colour=(156, 163, 175)):
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.text((16, 16), "Settings", fill=(17, 24, 39))
    if button is not None:
        draw.rectangle(button, fill=colour)
    return image


@pytest.fixture
def given(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int]]]:
    """The sizes of the pictures pixelmatch is given (it still does the work)."""
    seen: list[tuple[int, int]] = []
    real = diff.pixelmatch

    def watched(a: Image.Image, b: Image.Image, *args, **kwargs) -> int:
        seen.append(a.size)
        return real(a, b, *args, **kwargs)

    monkeypatch.setattr(diff, "pixelmatch", watched)
    yield seen


def _red(image: Image.Image) -> Image.Image:
    """255 where the picture is drawn red (a changed pixel or the rectangle), else 0."""
    r, g, b = image.convert("RGB").split()
    low = [255 if v < 100 else 0 for v in range(256)]
    strong = r.point([255 if v > 200 else 0 for v in range(256)])
    return ImageChops.multiply(ImageChops.multiply(strong, g.point(low)), b.point(low))


def test_a_changed_button_is_counted_marked_and_outlined_and_nothing_else() -> None:
    before = _page(button=(40, 120, 199, 167))
    after = _page(button=(40, 120, 199, 167), colour=(37, 99, 235))
    d = compare(before, after)
    assert d.region == (40, 120, 200, 168)
    assert d.changed == 160 * 48 / (390 * 844)
    assert d.image.size == PHONE
    red = _red(d.image)
    assert red.getbbox() == (40 - OUTLINE, 120 - OUTLINE, 200 + OUTLINE, 168 + OUTLINE)
    assert red.getpixel((100, 140)) == 255, "a changed pixel"
    assert red.getpixel((40 - 2, 140)) == 255, "the rectangle, just outside"
    assert red.getpixel((40 - OUTLINE - 1, 140)) == 0, "nothing beyond it"
    # Under the marks, the after-shot in grey: its text is still there to see, and is not red.
    grey = d.image.crop((0, 0, 390, 100))
    assert grey.getbbox() is not None and _red(grey).getbbox() is None
    r, g, b = d.image.getpixel((20, 20))  # type: ignore[misc]
    assert r == g == b


def test_identical_pictures_are_no_change_and_are_not_marked(given: list[tuple[int, int]]) -> None:
    page = _page(button=(40, 120, 199, 167))
    d = compare(page, page.copy())
    assert given == [], "Pillow's answer: pixelmatch was not needed"
    assert d.changed == 0.0 and d.region is None
    assert _red(d.image).getbbox() is None


def test_a_difference_nobody_sees_is_no_change(given: list[tuple[int, int]]) -> None:
    before = _page(button=(40, 120, 199, 167))
    after = _page(button=(40, 120, 199, 167), colour=(158, 163, 175))  # 2 levels more red
    d = compare(before, after)
    # Pillow saw it; pixelmatch, given the button and its margin (in two bands), did not.
    assert given and sum(w * h for w, h in given) <= 176 * 80, given
    assert d.changed == 0.0 and d.region is None and _red(d.image).getbbox() is None


def test_a_header_and_a_footer_that_changed_are_two_small_boxes_not_the_page_between(
    given: list[tuple[int, int]],
) -> None:
    before, after = _page(button=(40, 20, 120, 40)), _page(button=(40, 20, 120, 40))
    ImageDraw.Draw(after).rectangle((40, 20, 120, 40), fill=(220, 38, 38))
    ImageDraw.Draw(after).rectangle((40, 800, 120, 820), fill=(220, 38, 38))
    d = compare(before, after)
    assert d.region == (40, 20, 121, 821)
    assert d.changed == 2 * 81 * 21 / (390 * 844)
    assert given == [(97, 37), (97, 37)], "each box and its margin; the page is 390x844"


def test_a_page_that_changed_everywhere_is_marked_by_pillow_alone(given: list[tuple[int, int]]) -> None:
    before = _page((1280, 800))
    after = Image.new("RGB", (1280, 800), (17, 24, 39))  # a dark theme
    ImageDraw.Draw(after).text((16, 16), "Settings", fill="white")
    d = compare(before, after)
    assert given == [], "pixelmatch would take ~25 s over the whole page here"
    assert d.changed > 0.99 and d.region == (0, 0, 1280, 800)


def test_pictures_of_different_sizes_count_what_only_one_has_as_changed() -> None:
    before, after = _page((390, 844)), _page((390, 900))
    d = compare(before, after)
    assert d.image.size == (390, 900)
    assert d.changed == 390 * 56 / (390 * 900)
    assert d.region == (0, 844, 390, 900)
    wider = compare(_page((400, 844)), _page((390, 844)))
    assert wider.changed == 10 * 844 / (400 * 844) and wider.region == (390, 0, 400, 844)
