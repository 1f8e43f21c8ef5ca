"""Before/after screenshots of previews in real Chromium, confined by real bubblewrap, of two real HTTP
servers on unix sockets (the target branch's version and the task's): the diff marks the changed
button; identical pages are no change; a route that 500s or hangs is an error entry; the phone picture
is 390 wide; a page reaches neither the host's loopback (directly or through the egress proxy) nor the
files Honk hides; no Chromium is an error that says how to install it."""

from __future__ import annotations

import shutil
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image, ImageChops

from honk.domain import PreviewEndpoint
from honk.egress.proxy import EgressProxy
from honk.errors import UserFacingError
from honk.network import EgressPolicy, Rule
from honk.preview.browser import browser_problem, confined_browser, find_chromium
from honk.preview.shots import Shots
from honk.sandbox import Sandbox, SandboxConfig
from honk.settings import Settings

pytestmark = pytest.mark.skipif(
    find_chromium(None) is None or shutil.which("bwrap") is None, reason="needs Chromium and bubblewrap"
)

Page = tuple[int, str]  # status, HTML
HEAD = "<!doctype html><meta name=viewport content='width=device-width'><style>body{margin:0;background:#fff}</style>"
GREY = "<button style='position:absolute;left:40px;top:120px;width:160px;height:48px;background:#9ca3af;border:0'>Send</button>"
BLUE = "<button style='position:absolute;left:40px;top:200px;width:160px;height:48px;background:#2563eb;border:0'>Send</button>"
BUTTONS = (40, 120, 200, 248)  # left, top, right, bottom of both buttons' places together


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class App:
    """A tiny web app on a unix socket, as a preview answers: route → (status, HTML); a route whose
    page is None never answers (until the test ends). What it was asked is in `asked`."""

    def __init__(self, folder: Path, pages: dict[str, Page | None]) -> None:
        folder.mkdir(parents=True)
        self.socket, self.pages, self.asked = folder / "app.sock", pages, []
        self.release = threading.Event()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                app.asked.append(self.path)
                page = app.pages.get(urlsplit(self.path).path, (404, "<h1>Not found</h1>"))
                if page is None:
                    app.release.wait(60)
                    return
                body = page[1].encode()
                self.send_response(page[0])
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def address_string(self) -> str:
                return "unix"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
                pass

        self.server = _Server(str(self.socket), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> PreviewEndpoint:
        return PreviewEndpoint(address=f"unix:{self.socket}")

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[Callable[[str, dict[str, Page | None]], App]]:
    made: list[App] = []

    def make(name: str, pages: dict[str, Page | None]) -> App:
        made.append(App(tmp_path / name, pages))
        return made[-1]

    yield make
    for app in made:
        app.close()


def _world(tmp_path: Path, sandbox: SandboxConfig | None = None, **kwargs: float) -> tuple[Shots, Path]:
    data = tmp_path / "data"
    box = Sandbox(sandbox or SandboxConfig(hidden=(data,)))
    return Shots(box, data / "agent-homes", data / "shots", **kwargs), data  # type: ignore[arg-type]


def _running_in(area: Path) -> list[str]:
    """The processes whose command line names `area` (the browser's bubblewrap binds its directories)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(area) in line:
            found.append(line[:200])
    return found


def _red(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The box around the pixels drawn red (the changed pixels and the rectangle around them)."""
    r, g, b = image.convert("RGB").split()
    strong = r.point([255 if v > 200 else 0 for v in range(256)])
    low = [255 if v < 100 else 0 for v in range(256)]
    low_g, low_b = g.point(low), b.point(low)
    return ImageChops.multiply(ImageChops.multiply(strong, low_g), low_b).getbbox()


async def test_the_diff_marks_the_changed_button_and_identical_pages_are_no_change(tmp_path: Path, apps) -> None:
    same = (200, HEAD + "<h1>Settings</h1>" + GREY)
    before = apps("before", {"/": (200, HEAD + GREY), "/settings": same})
    after = apps("after", {"/": (200, HEAD + BLUE), "/settings": same})
    shots, data = _world(tmp_path)
    started = time.perf_counter()
    found = await shots.compare("t-1", before.endpoint, after.endpoint, ["/", "/settings"])
    took = time.perf_counter() - started
    folder = data / "shots" / "t-1"
    assert [r.route for r in found] == ["/", "/settings"]
    root, settings = found
    assert [p.viewport for p in root.shots] == ["phone", "desktop"]
    for pair, size in zip(root.shots, [(390, 844), (1280, 800)], strict=True):
        assert pair.error == "" and pair.before and pair.after and pair.diff
        assert Image.open(folder / pair.before).size == size
        assert Image.open(folder / pair.after).size == size
        assert 0 < pair.changed < 0.1, pair.changed
        diff = Image.open(folder / pair.diff)
        assert diff.size == size
        marked = _red(diff)
        assert marked is not None, "the changed button is marked"
        # Everything red (the changed pixels, the rectangle 3 px outside them) is on the buttons' places.
        left, top, right, bottom = BUTTONS
        assert left - 3 <= marked[0] and top - 3 <= marked[1] and marked[2] <= right + 3 and marked[3] <= bottom + 3
        assert marked[1] <= 123 and marked[3] >= 245, f"both the old and the new place are marked: {marked}"
    assert root.changed == max(p.changed for p in root.shots)
    for pair in settings.shots:
        assert pair.error == "" and pair.changed == 0.0 and pair.diff
        assert _red(Image.open(folder / pair.diff)) is None
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{route}-{viewport}-{side}.png"
        for route in ("root", "settings")
        for viewport in ("phone", "desktop")
        for side in ("before", "after", "diff")
    )
    assert took < 60, took
    assert _running_in(data / "agent-homes" / "t-1") == [], "the browser and its sandbox are gone"

    # A follow-up's round replaces the last one: a route no longer asked for leaves nothing behind.
    again = await shots.compare("t-1", before.endpoint, after.endpoint, ["/settings"])
    assert [r.route for r in again] == ["/settings"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"settings-{viewport}-{side}.png" for viewport in ("phone", "desktop") for side in ("before", "after", "diff")
    )
    assert not list((data / "shots").glob(".t-1*")), "no half-written round is left"


async def test_a_route_that_500s_or_hangs_is_an_error_entry_and_the_others_are_taken(tmp_path: Path, apps) -> None:
    before = apps("before", {"/": (200, HEAD + GREY), "/broken": (200, HEAD + GREY), "/slow": (200, HEAD)})
    after = apps("after", {"/": (200, HEAD + BLUE), "/broken": (500, "Traceback ..."), "/slow": None})
    shots, data = _world(tmp_path, load_timeout_s=3.0, settle_s=1.0)
    root, broken, slow = await shots.compare("t-2", before.endpoint, after.endpoint, ["/", "/broken", "/slow"])
    assert all(p.error == "" and p.changed > 0 for p in root.shots)
    for pair in broken.shots:
        assert pair.error == "after: answered 500"
        assert pair.before is not None and pair.after is None and pair.diff is None and pair.changed == 0.0
        assert (data / "shots" / "t-2" / pair.before).is_file()
    for pair in slow.shots:
        assert pair.error == "after: did not load within 3s" and pair.after is None and pair.diff is None


async def test_without_a_before_version_only_the_after_shots_are_taken(tmp_path: Path, apps) -> None:
    after = apps("after", {"/": (200, HEAD + BLUE)})
    shots, data = _world(tmp_path)
    gone = PreviewEndpoint(address=f"unix:{tmp_path / 'gone' / 'app.sock'}")
    [without] = await shots.compare("t-3", None, after.endpoint, ["/"])
    [stopped] = await shots.compare("t-3", gone, after.endpoint, ["/"])
    for pair in without.shots:
        assert pair.after and pair.before is None and pair.diff is None and pair.error == ""
    for pair in stopped.shots:
        assert pair.after and pair.before is None and pair.error == "before: not running (no socket)"
    assert (data / "shots" / "t-3" / "root-phone-after.png").is_file()


async def test_unsandboxed_the_browser_reaches_the_previews_through_relays_on_loopback(tmp_path: Path, apps) -> None:
    before = apps("before", {"/": (200, HEAD + GREY)})
    after = apps("after", {"/": (200, HEAD + BLUE)})
    shots, data = _world(tmp_path, SandboxConfig(mode="off"))
    [root] = await shots.compare("t-7", before.endpoint, after.endpoint, ["/"])
    assert all(p.error == "" and p.diff and p.changed > 0 for p in root.shots), root
    assert before.asked[:1] == after.asked[:1] == ["/"]


class _Names:
    """The egress proxy's name service: the one hostile name the policy allows points at the host's loopback."""

    def __init__(self, port: int) -> None:
        self.port = port

    def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        if host == "sneaky.test":
            return [("127.0.0.1", self.port)]
        raise OSError(f"{host}: no such name")


async def test_a_previewed_page_reaches_nothing_on_the_host_directly_or_through_the_egress_proxy(
    tmp_path: Path, apps
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    # Synchronous requests, so they are done before the load event (and the screenshot); what each got
    # is reported to the page's own server.
    probe = f"""<script>
    function ask(url) {{
      const x = new XMLHttpRequest();
      try {{ x.open('GET', url, false); x.send(); return String(x.status); }} catch (e) {{ return 'failed'; }}
    }}
    const got = ['http://127.0.0.1:{port}/direct', 'http://localhost:{port}/by-name',
                 'http://sneaky.test:{port}/proxied'].map(ask);
    ask('/report?' + got.join(','));
    </script>"""
    before = apps("before", {"/": (200, HEAD + GREY)})
    after = apps("after", {"/": (200, HEAD + BLUE + probe)})
    proxy = EgressProxy(resolver=_Names(port)).start()
    data = tmp_path / "data"
    shots, _ = _world(tmp_path, SandboxConfig(hidden=(data,), egress=proxy))
    policy = EgressPolicy("preview", (Rule("sneaky.test", port, frozenset({"GET"}), "network.preview[0]"),))
    try:
        [root] = await shots.compare("t-4", before.endpoint, after.endpoint, ["/"], egress=policy)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing reached the host's loopback
    finally:
        listener.close()
        proxy.stop()
    assert all(p.error == "" and p.after for p in root.shots)
    # The page ran its probe at each viewport (each request failed: nothing listens on the namespace's
    # loopback, and what the proxy answered is another origin's), and the proxy refused the named one:
    # it resolves to a private address.
    reports = [a for a in after.asked if a.startswith("/report")]
    assert reports == ["/report?failed,failed,failed"] * 2, after.asked
    refused = Sandbox.blocked(data / "agent-homes" / "t-4" / "shots")
    assert {(b.host, b.reason) for b in refused} == {("sneaky.test", "private_address")}


async def test_the_browser_cannot_read_the_files_honk_hides(tmp_path: Path) -> None:
    from playwright.async_api import Error

    data = tmp_path / "data"
    secret = data / "secrets" / "key.txt"
    secret.parent.mkdir(parents=True)
    secret.write_text("TOP-SECRET-VALUE")
    chromium = find_chromium(None)
    assert chromium is not None
    box = Sandbox(SandboxConfig(hidden=(data,)))
    async with confined_browser(box, data / "agent-homes" / "t-5" / "shots", chromium) as confined:
        for hidden in (secret, secret.parent):
            page = await confined.browser.new_page()
            with pytest.raises(Error, match="ERR_FILE_NOT_FOUND"):
                await page.goto(f"file://{hidden}")
            await page.close()
        page = await confined.browser.new_page()  # the system is shown read-only: the way the test would see a leak
        await page.goto("file:///etc/os-release")
        assert "ID=" in await page.content()
    assert not (data / "agent-homes" / "t-5" / "shots" / "work").exists(), "the browser's files are gone"


async def test_no_chromium_is_an_error_that_names_the_install_command(tmp_path: Path, apps) -> None:
    after = apps("after", {"/": (200, HEAD)})
    shots, _ = _world(tmp_path)
    shots.chromium = str(tmp_path / "no-chromium")
    with pytest.raises(UserFacingError, match="apt-get install -y chromium"):
        await shots.compare("t-6", None, after.endpoint, ["/"])
    problem = browser_problem(Settings().changed(preview_chromium=str(tmp_path / "no-chromium")))
    assert problem is not None and "apt-get install -y chromium" in problem
    assert browser_problem(Settings().changed(preview_chromium=None)) is None
    assert browser_problem(Settings().changed(preview_chromium="off")) is None


async def test_a_task_id_cannot_name_a_folder_outside_the_shots_directory(tmp_path: Path, apps) -> None:
    after = apps("after", {"/": (200, HEAD)})
    shots, data = _world(tmp_path)
    for forged in ("../x", "a/b", "..", ".hidden", ""):
        with pytest.raises(ValueError, match="not a task id"):
            await shots.compare(forged, None, after.endpoint, ["/"])
    assert not (data / "shots").exists() or not any((data / "shots").iterdir())
