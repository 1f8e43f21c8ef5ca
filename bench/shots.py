"""Before/after screenshots: a route's phone and desktop shots of two previews in confined Chromium, and
the pixel diff of a small change (Pillow finds where, pixelmatch judges only there) vs pixelmatch over
the whole picture."""

from __future__ import annotations

import asyncio
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from PIL import Image, ImageDraw
from pixelmatch.contrib.PIL import pixelmatch

from bench.common import Row, Section, fmt_s, median, scratch
from honk.domain import DESKTOP_VIEWPORT, PHONE_VIEWPORT, PreviewEndpoint
from honk.preview.browser import find_chromium
from honk.preview.diff import compare
from honk.preview.shots import Shots
from honk.sandbox import Sandbox, SandboxConfig

HEAD = "<!doctype html><meta name=viewport content='width=device-width'><h1>Settings</h1>"
BUTTON = "<button style='position:absolute;left:40px;top:{top}px;width:160px;height:48px;background:{bg};border:0'>Save</button>"


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _app(socket: Path, html: str) -> _Server:
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def address_string(self) -> str:
            return "unix"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    socket.parent.mkdir(parents=True)
    server = _Server(str(socket), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _pictures(size: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
    before = Image.new("RGB", size, "white")
    ImageDraw.Draw(before).text((16, 16), "Settings " * 8, fill="black")
    after = before.copy()
    ImageDraw.Draw(before).rectangle((40, 120, 199, 167), fill=(156, 163, 175))
    ImageDraw.Draw(after).rectangle((40, 200, 199, 247), fill=(37, 99, 235))
    return before, after


def _timed(f, runs: int) -> list[float]:  # noqa: ANN001 - any callable
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return times


async def _rounds(root: Path, mode: str, runs: int) -> list[float]:
    data = root / f"data-{mode}"
    shots = Shots(Sandbox(SandboxConfig(mode=mode, hidden=(data,))), data / "areas", data / "shots")  # type: ignore[arg-type]
    before = PreviewEndpoint(address=f"unix:{root / 'before' / 'app.sock'}")
    after = PreviewEndpoint(address=f"unix:{root / 'after' / 'app.sock'}")
    times = []
    for _ in range(runs + 1):  # the first warms the page cache
        t = time.perf_counter()
        [found] = await shots.compare("bench", before, after, ["/"])
        times.append(time.perf_counter() - t)
        assert all(p.error == "" and p.changed > 0 for p in found.shots), found
    return times[1:]


def run(quick: bool = False, log=print) -> Section:  # noqa: ANN001 - a print-like callable
    runs = 3 if quick else 7
    sec = Section("shots", "Before/after screenshots and their pixel diff")
    started = time.perf_counter()
    phone, desktop = _pictures(PHONE_VIEWPORT), _pictures(DESKTOP_VIEWPORT)
    d_phone = median(_timed(lambda: compare(*phone), runs))
    d_desktop = median(_timed(lambda: compare(*desktop), runs))
    whole = _timed(lambda: pixelmatch(*phone, Image.new("RGBA", PHONE_VIEWPORT)), 1)[0]
    log(f"  diff phone {fmt_s(d_phone)} (whole-picture pixelmatch {fmt_s(whole)}), desktop {fmt_s(d_desktop)}")
    sec.rows = [
        Row("Diff of a moved button, phone (390×844)", fmt_s(d_phone), fmt_s(whole), f"{d_phone / whole:.2f}×"),
        Row("Diff of a moved button, desktop (1280×800)", fmt_s(d_desktop)),
    ]
    if find_chromium(None) is not None and Sandbox(SandboxConfig()).problem() is None:
        with scratch("shots") as root:
            servers = [
                _app(root / "before" / "app.sock", HEAD + BUTTON.format(top=120, bg="#9ca3af")),
                _app(root / "after" / "app.sock", HEAD + BUTTON.format(top=200, bg="#2563eb")),
            ]
            try:
                confined = asyncio.run(_rounds(root, "bwrap", runs))
                open_ = asyncio.run(_rounds(root, "off", runs))
            finally:
                for s in servers:
                    s.shutdown()
                    s.server_close()
        c, o = median(confined), median(open_)
        log(f"  one route, phone + desktop, before + after: confined {fmt_s(c)}, unconfined {fmt_s(o)}")
        sec.rows.append(Row("One route: phone + desktop, before + after, diffs", fmt_s(c), fmt_s(o), f"{c / o:.2f}×"))
        sec.setup.append(
            "Route: `Shots.compare` of one route of two tiny apps on unix sockets (a button moved and recoloured): "
            "Chromium's start, four fresh contexts (two at a time), load + network idle + screenshot each, two "
            f"diffs, files written; median of {runs} after one warm-up. Baseline: the same with HONK_SANDBOX=off "
            "(no bubblewrap; relays on loopback instead of the bridge)."
        )
    sec.setup.insert(
        0,
        f"Diff: `honk.preview.diff.compare` of two drawn screenshots where a 160×48 button moved 80 px and changed "
        f"colour, median of {runs}. Baseline: pixelmatch (pure Python) over the whole phone picture, once.",
    )
    sec.seconds = time.perf_counter() - started
    return sec
