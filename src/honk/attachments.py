"""Files that come with a request (a screenshot of the broken screen, a log, a stack trace): each is
checked on its own and either kept, in a form the agent can use, or refused with a reason a person can
act on. Pure: bytes in, a decision out; the front doors and the store do the rest.

- Images (PNG, JPEG, GIF, WebP, recognised by their bytes, never by the name) are decoded with Pillow
  and, when larger than the model takes, downscaled rather than refused: a phone screenshot is
  1170×2532 and several MB, and the model reads at most about 1568 px on the long edge.
- Text-like files (logs, traces, CSV, JSON: valid UTF-8 without NUL bytes) are kept whole and reach the
  agent as a bounded extract: the start and, mostly, the end, where a log's error is.
- Anything else, anything past the hard size cap, and a file that says it is an image but does not
  decode, is refused; the request goes on with the rest.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from honk.domain import MAX_ATTACHMENTS, AttachmentKind

MAX_FILE_BYTES = 20 * 1024 * 1024  # past this a file is refused, not shrunk
MAX_IMAGE_EDGE = 1568  # the long edge the model reads images at; larger ones are scaled to it
MAX_IMAGE_BYTES = 3_750_000  # what the model takes per image (5 MB once base64-encoded)
MAX_IMAGE_PIXELS = 50_000_000  # a larger picture is a decompression bomb, not a screenshot
TEXT_HEAD_CHARS = 4_000
TEXT_TAIL_CHARS = 12_000
MAX_NAME_CHARS = 120

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
    (b"GIF87a", "image/gif", "GIF"),
    (b"GIF89a", "image/gif", "GIF"),
)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Incoming:
    """A file as a front door received it. `data` may stop after MAX_FILE_BYTES + 1 bytes (nothing
    more is read of a file that will be refused); `size` is then its whole size, when known."""

    name: str
    data: bytes
    size: int | None = None
    problem: str | None = None  # why it could not be fetched (a download that failed)


@dataclass(frozen=True)
class Kept:
    """A file Honk keeps for the task: its bytes as the agent will get them."""

    name: str
    kind: AttachmentKind
    media_type: str
    data: bytes
    note: str = ""  # what Honk did to it, said to the person and the agent


@dataclass(frozen=True)
class Refused:
    name: str
    reason: str


def safe_name(name: str, index: int) -> str:
    """A file name that is safe as a path component anywhere (no directories, no dot-files)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _SAFE_NAME.sub("-", base).strip(".-")[:MAX_NAME_CHARS]
    return base or f"attachment-{index + 1}"


def accept(files: list[Incoming]) -> tuple[list[Kept], list[Refused]]:
    """Each file judged on its own, in order; past MAX_ATTACHMENTS the rest are refused by count."""
    kept: list[Kept] = []
    refused: list[Refused] = []
    names: set[str] = set()
    for i, incoming in enumerate(files):
        name = _unique(safe_name(incoming.name, i), names)
        if i >= MAX_ATTACHMENTS:
            refused.append(Refused(name, f"only {MAX_ATTACHMENTS} files are taken per request"))
            continue
        if incoming.problem is not None:
            refused.append(Refused(name, incoming.problem))
            continue
        outcome = judge(name, incoming.data, incoming.size)
        (kept if isinstance(outcome, Kept) else refused).append(outcome)  # type: ignore[arg-type]
    return kept, refused


def judge(name: str, data: bytes, size: int | None = None) -> Kept | Refused:
    size = max(size or 0, len(data))
    if size > MAX_FILE_BYTES:
        return Refused(name, f"it is {_mb(size)}; the limit is {_mb(MAX_FILE_BYTES)}")
    if not data:
        return Refused(name, "it is empty")
    if (image := _image_type(data)) is not None:
        return _image(name, data, *image)
    if (text := _text(data)) is not None:
        return Kept(name, "text", "text/plain; charset=utf-8", data, _text_note(text))
    return Refused(name, "it is neither an image (PNG, JPEG, GIF, WebP) nor a text file")


def extract(text: str) -> str:
    """What of a text file goes into the prompt: all of a short one; the start and the end of a long one."""
    if len(text) <= TEXT_HEAD_CHARS + TEXT_TAIL_CHARS:
        return text
    cut = len(text) - TEXT_HEAD_CHARS - TEXT_TAIL_CHARS
    return f"{text[:TEXT_HEAD_CHARS]}\n[… {cut:,} characters cut …]\n{text[-TEXT_TAIL_CHARS:]}"


def _image_type(data: bytes) -> tuple[str, str] | None:
    for magic, media_type, fmt in _IMAGE_MAGIC:
        if data.startswith(magic):
            return media_type, fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "WEBP"
    return None


def _image(name: str, data: bytes, media_type: str, fmt: str) -> Kept | Refused:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                return Refused(name, f"the picture has more than {MAX_IMAGE_PIXELS:,} pixels ({width}×{height})")
            img.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        return Refused(name, f"the picture has more than {MAX_IMAGE_PIXELS:,} pixels")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        return Refused(name, f"it says it is {fmt} but does not decode as one ({type(e).__name__})")
    if max(width, height) <= MAX_IMAGE_EDGE and len(data) <= MAX_IMAGE_BYTES and fmt != "GIF":
        return Kept(name, "image", media_type, data)
    # Larger than the model reads, or an animation: one frame, scaled to the model's long edge.
    img = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
    img.thumbnail((MAX_IMAGE_EDGE, MAX_IMAGE_EDGE), Image.Resampling.LANCZOS)
    out, media_type = _encode(img)
    note = f"scaled from {width}×{height} to {img.width}×{img.height}" if (width, height) != img.size else ""
    return Kept(_with_suffix(name, media_type), "image", media_type, out, note)


def _encode(img: Image.Image) -> tuple[bytes, str]:
    """PNG keeps text in screenshots sharp; a photo that is still too big as PNG goes as JPEG."""
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    if buf.tell() <= MAX_IMAGE_BYTES:
        return buf.getvalue(), "image/png"
    for quality in (85, 70, 50):
        buf = io.BytesIO()
        img.convert("RGB").save(buf, "JPEG", quality=quality)
        if buf.tell() <= MAX_IMAGE_BYTES:
            break
    return buf.getvalue(), "image/jpeg"


def _text(data: bytes) -> str | None:
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _text_note(text: str) -> str:
    if len(text) <= TEXT_HEAD_CHARS + TEXT_TAIL_CHARS:
        return ""
    return f"the agent reads its first {TEXT_HEAD_CHARS:,} and last {TEXT_TAIL_CHARS:,} of {len(text):,} characters"


def _with_suffix(name: str, media_type: str) -> str:
    suffix = ".png" if media_type == "image/png" else ".jpg"
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem + suffix


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
    taken.add(candidate)
    return candidate


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"
