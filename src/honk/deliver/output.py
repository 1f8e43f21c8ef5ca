"""What a team's delivery command tells Honk: the `$HONK_OUTPUT` file (like GitHub's `$GITHUB_OUTPUT`),
or a link printed in its output that `[deliver] link_pattern` (or the kind's usual link) finds.

`$HONK_OUTPUT` holds `key=value` lines: `url` (https only: a person taps it on a phone, so a loopback or
plain-HTTP link would be useless or worse, and never `javascript:`), `label` (the button's words),
`title`, `version`, `build`, `message` and `status` (`processing` or `delivered`). Blank lines and `#`
comments are skipped, unknown keys ignored, a later line wins, values are stripped of surrounding
spaces, and an empty value is as if the key were not written (`echo "url=$LINK"` with no link). The file is the command's, so it is hostile input: it is bounded (size, lines, each value),
must be UTF-8, and a control character anywhere (a second line smuggled into a value, a terminal escape,
a bidi override that turns a link around in Slack) refuses the whole file rather than being guessed at.
Parsing is pure and never raises: a refusal is data (`DeliveryRefused`). Documented in docs/delivery.md.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from honk.domain import MAX_URL_CHARS, DeliveryRefused, DeliveryState, Record

MAX_OUTPUT_BYTES = 64 * 1024
MAX_LINES = 200
# Per key: what the thread can show. `label` is a Slack button's text (at most 75 characters there).
LIMITS: dict[str, int] = {
    "url": MAX_URL_CHARS,
    "label": 75,
    "title": 200,
    "version": 100,
    "build": 100,
    "message": 1000,
    "status": 20,
}
STATUSES: tuple[DeliveryState, ...] = ("processing", "delivered")
# What a link found in a tool's output may not end with: the prose around it ("see https://…/x.").
_TRAILING = ".,;:!?)]}>'\"`"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]")
# Scanning a tool's output for its link: lines longer than this are cut (a minified bundle printed by
# mistake must not make a repo's pattern run for minutes), and at most this much of the output is read.
MAX_SCAN_LINE = 4000
MAX_SCAN_CHARS = 1024 * 1024
# Invisible characters that reorder or hide text: in a link or a label they make Slack show one thing
# while the phone opens another.
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c")


class HonkOutput(Record):
    """What `$HONK_OUTPUT` said, each key only when it was written."""

    url: str | None = None
    label: str = ""
    title: str = ""
    version: str = ""
    build: str = ""
    message: str = ""
    status: DeliveryState | None = None


def _control(text: str) -> str | None:
    """The first control or invisible-reordering character in `text`, described, else None."""
    for c in text:
        if ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in _BIDI or c in "\u2028\u2029":
            return f"U+{ord(c):04X}"
    return None


def https_url(value: str) -> str | None:
    """Why `value` is not a link Honk posts for a person to tap, or None when it is one: https, a host,
    no user or password in it, printable, bounded."""
    if len(value) > MAX_URL_CHARS:
        return f"is longer than {MAX_URL_CHARS} characters"
    if not value or any(c.isspace() for c in value) or _control(value) is not None or not value.isprintable():
        return "must be one link without spaces or control characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return "is not a valid URL"
    if parts.scheme.lower() != "https":
        return "must be an https:// link (a phone opens it from the thread)"
    if not parts.hostname:
        return "must name a host"
    if "@" in parts.netloc:
        return "must not carry a user or password"
    return None


def parse_output(data: bytes) -> HonkOutput | DeliveryRefused:
    """`$HONK_OUTPUT`'s contents, read; a refusal saying what to fix when they break the contract."""
    if len(data) > MAX_OUTPUT_BYTES:
        return DeliveryRefused(why=f"$HONK_OUTPUT is larger than {MAX_OUTPUT_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return DeliveryRefused(why="$HONK_OUTPUT is not UTF-8 text")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > MAX_LINES:
        return DeliveryRefused(why=f"$HONK_OUTPUT has more than {MAX_LINES} lines")
    found: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        line = line.removesuffix("\r")  # written on Windows, or by a tool that thinks it is
        if (bad := _control(line)) is not None:
            return DeliveryRefused(why=f"$HONK_OUTPUT line {number} has a control character ({bad})")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if not eq:
            return DeliveryRefused(why=f"$HONK_OUTPUT line {number} is not key=value (one value per line)")
        key, value = key.strip(), value.strip()
        if key not in LIMITS:
            continue  # another tool's key, or one a later Honk reads
        if len(value) > LIMITS[key]:
            return DeliveryRefused(why=f"$HONK_OUTPUT's {key} is longer than {LIMITS[key]} characters")
        if value:
            found[key] = value
        else:
            found.pop(key, None)  # `echo "url=$LINK"` with no link: as if not written
    url = found.pop("url", None)
    if url is not None and (why := https_url(url)) is not None:
        return DeliveryRefused(why=f"$HONK_OUTPUT's url {why}")
    status = found.pop("status", None)
    if status is not None and status not in STATUSES:
        return DeliveryRefused(why='$HONK_OUTPUT\'s status must be "processing" or "delivered"')
    return HonkOutput(
        url=url or None,
        status=next((s for s in STATUSES if s == status), None),
        label=found.get("label", ""),
        title=found.get("title", ""),
        version=found.get("version", ""),
        build=found.get("build", ""),
        message=found.get("message", ""),
    )


def find_link(output: str, pattern: str) -> str | None:
    """The first link `pattern` finds in a tool's output (its one group, else the whole match) that is an
    https link Honk would post; colour codes are taken out first, and prose punctuation off its end."""
    compiled = re.compile(pattern)
    for raw in output[-MAX_SCAN_CHARS:].splitlines():
        line = _ANSI.sub("", raw)[:MAX_SCAN_LINE]
        for match in compiled.finditer(line):
            link = (match.group(1) if compiled.groups else match.group(0)) or ""
            link = link.rstrip(_TRAILING)
            if https_url(link) is None:
                return link
    return None
