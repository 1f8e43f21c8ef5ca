"""The pixel difference between a route's before and after screenshots, and a picture of it.

pixelmatch (perceptual: a YIQ colour distance with a threshold; anti-aliased edges are not counted) is
pure Python: about 8 s for a whole phone screenshot here, 25 s for a desktop one. So Pillow first finds
where pixels differ at all (C speed): nowhere means nothing changed, at once; otherwise, band by band
(strips of BAND rows), the box around the differing pixels goes to pixelmatch with a small margin (its
anti-aliasing test looks at neighbours), so a header and a footer that changed cost two small boxes, not
the page between them. When the boxes hold more than BUDGET pixels (a new theme: everything differs),
a page that changed that much is marked by Pillow alone: each pixel whose colour moved by more than
TOLERANCE in a channel. The picture a person sees is the after-shot in faded grey, the changed pixels
tinted red, and a red rectangle around them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw
from pixelmatch.contrib.PIL import pixelmatch

THRESHOLD = 0.1  # pixelmatch's default: smaller is more sensitive
MARGIN = 8  # pixels around a box that pixelmatch also sees (anti-aliasing looks at neighbours)
BAND = 64  # rows per strip searched for its own box
BUDGET = 150_000  # pixels given to pixelmatch at most (~3 s here); beyond: Pillow alone
TOLERANCE = 24  # Pillow alone: a channel moved by more than this (about pixelmatch's threshold in grey)
RED = (255, 0, 0)
OUTLINE = 3  # the rectangle's width, drawn just outside the changed pixels
FADE = 0.35  # how much of the after-shot shows (in grey, so that only the marks are red)
MARK = 0.7  # how red a changed pixel is drawn: the after-shot's shapes still show through

Box = tuple[int, int, int, int]  # left, top, right, bottom (exclusive), as Pillow's getbbox


@dataclass(frozen=True)
class Difference:
    changed: float  # differing pixels / all pixels (of the larger canvas when sizes differ), 0..1
    region: Box | None  # the box around the differing pixels; None: nothing differs
    image: Image.Image  # the after-shot faded, changed pixels red, `region` outlined


def compare(before: Image.Image, after: Image.Image) -> Difference:
    """Compares two screenshots. Images of different sizes are compared over their common area; the
    rest of the larger canvas counts as changed."""
    a, b = before.convert("RGB"), after.convert("RGB")
    width, height = min(a.width, b.width), min(a.height, b.height)
    canvas = (max(a.width, b.width), max(a.height, b.height))
    a_common, b_common = a.crop((0, 0, width, height)), b.crop((0, 0, width, height))
    delta = _largest_channel(ImageChops.difference(a_common, b_common))
    marks = Image.new("L", canvas, 0)  # 255 where a pixel changed
    boxes = _boxes(delta)
    if sum(_area(_grow(box, width, height)) for box in boxes) <= BUDGET:
        count = sum(_pixelmatch(a_common, b_common, box, marks) for box in boxes)
    else:
        moved = delta.point([255 if v > TOLERANCE else 0 for v in range(256)])
        marks.paste(moved, (0, 0))
        count = moved.histogram()[255]
    outside = canvas[0] * canvas[1] - width * height
    if canvas[0] > width:
        marks.paste(255, (width, 0, *canvas))
    if canvas[1] > height:
        marks.paste(255, (0, height, *canvas))
    region = marks.getbbox()
    return Difference((count + outside) / (canvas[0] * canvas[1]), region, _picture(b, canvas, marks, region))


def _largest_channel(difference: Image.Image) -> Image.Image:
    r, g, b = difference.split()
    return ImageChops.lighter(ImageChops.lighter(r, g), b)


def _boxes(delta: Image.Image) -> list[Box]:
    """Per strip of BAND rows, the box around its differing pixels (strips without any: none)."""
    boxes = []
    for top in range(0, delta.height, BAND):
        found = delta.crop((0, top, delta.width, min(top + BAND, delta.height))).getbbox()
        if found is not None:
            boxes.append((found[0], top + found[1], found[2], top + found[3]))
    return boxes


def _grow(box: Box, width: int, height: int) -> Box:
    left, top, right, bottom = box
    return max(left - MARGIN, 0), max(top - MARGIN, 0), min(right + MARGIN, width), min(bottom + MARGIN, height)


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _pixelmatch(a: Image.Image, b: Image.Image, box: Box, marks: Image.Image) -> int:
    """pixelmatch over `box` and its margin; the pixels it marks inside `box` (the margins overlap the
    next strip's, which counts its own) go into `marks`, and their number is returned."""
    near = _grow(box, a.width, a.height)
    drawn = Image.new("RGBA", (near[2] - near[0], near[3] - near[1]))
    pixelmatch(a.crop(near), b.crop(near), drawn, threshold=THRESHOLD, diff_mask=True)
    inner = (box[0] - near[0], box[1] - near[1], box[2] - near[0], box[3] - near[1])
    found = drawn.getchannel("A").crop(inner)
    marks.paste(found, box[:2])
    return found.histogram()[255]


def _picture(after: Image.Image, canvas: tuple[int, int], marks: Image.Image, region: Box | None) -> Image.Image:
    white = Image.new("RGB", canvas, (255, 255, 255))
    grey = white.copy()
    grey.paste(after.convert("L").convert("RGB"))
    image = Image.blend(white, grey, FADE)
    image.paste(RED, (0, 0, *canvas), marks.point([round(v * MARK) for v in range(256)]))
    if region is not None:
        left, top, right, bottom = region
        frame = (left - OUTLINE, top - OUTLINE, right - 1 + OUTLINE, bottom - 1 + OUTLINE)
        ImageDraw.Draw(image).rectangle(frame, outline=RED, width=OUTLINE)
    return image
