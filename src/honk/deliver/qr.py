"""The QR code beside a delivered app's Install button: a PNG for the Slack thread (an image block
needs a file) and an inline SVG for the install page (crisp at any size, no request of its own).

Made with `qrcode` (already Honk's for the preview and `make up` codes, so no second QR library), at
error-correction level M: a phone's camera reads it off a laptop screen with a little glare, and an
install link of about 150 characters still fits version 8 (49 modules), which stays readable at the
size Slack shows an image. The SVG has a white background of its own, so it reads on a dark page.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
import qrcode.image.pure
from qrcode.image.svg import SvgPathFillImage

from honk.domain import MAX_URL_CHARS

BORDER = 2  # modules of quiet zone: enough for phone cameras, less than the spec's 4 on a busy page
BOX = 8  # pixels per module in the PNG


def code(url: str, box: int = BOX) -> qrcode.QRCode:
    """The QR code of `url` (the smallest version that holds it at level M); ValueError when the link is
    longer than any link Honk posts."""
    if not url or len(url) > MAX_URL_CHARS:
        raise ValueError(f"a QR code is made for a link of 1 to {MAX_URL_CHARS} characters")
    made = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=BORDER, box_size=box)
    made.add_data(url.encode("utf-8"))
    made.make(fit=True)
    return made


def qr_png(url: str) -> bytes:
    out = io.BytesIO()
    code(url).make_image(image_factory=qrcode.image.pure.PyPNGImage).save(out)
    return out.getvalue()


def qr_svg(url: str) -> str:
    """An `<svg>` element to put in a page as it is (no XML declaration, no fixed size: the page's CSS
    sizes it; `viewBox` counts modules)."""
    # qrcode's SVG unit is box_size/10 mm: 10 makes one module one unit of the viewBox.
    svg = code(url, box=10).make_image(image_factory=SvgPathFillImage).to_string(encoding="unicode")
    if svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2 :].lstrip()
    head, rest = svg.split(">", 1)
    head = " ".join(p for p in head.split(" ") if not p.startswith(("width=", "height=")))
    return f'{head} role="img" aria-label="QR code of the install link">{rest}'
