"""The browser that takes before/after screenshots: finding Chromium, checking for it when Honk starts,
and running it confined.

Chromium renders code the agent wrote, so it runs through the sandbox launcher like the repo's own
code: its own namespaces, Honk's data dir hidden, and only these ways out: each preview it is to show,
at 127.0.0.1:<port> on the namespace's own loopback (the bridge passes the port to the preview's unix
socket), and the egress proxy (the "preview" phase's policy). A page that reaches for a port on the
host's loopback reaches the namespace's, where nothing listens.

Playwright drives it from the worker: its driver starts the launcher's script (`SandboxLauncher.program`)
as the browser's executable and speaks to Chromium over the pipes it passes as fds 3 and 4, which
bubblewrap and the bridge keep open for their child. Only Chromium is confined; the driver is Honk's
own dependency and reads nothing but the protocol's messages and the pictures.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from honk.errors import UserFacingError
from honk.network import EgressPolicy
from honk.sandbox import Sandbox
from honk.sandbox.sandbox import EGRESS_PORT
from honk.settings import Settings

if TYPE_CHECKING:
    from playwright.async_api import Browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
INSTALL = "apt-get install -y chromium"
OFF = ("off", "none")  # HONK_PREVIEW_CHROMIUM=off: no screenshots on this worker
ARGS = (
    "--no-sandbox",  # Chromium's own sandbox needs namespaces bubblewrap already took
    "--disable-gpu",
    # Without these Chromium reaches for outside hosts at start (refused, and noted as refusals).
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Debian's build still asks update.googleapis.com for components despite the flag above: sent to a
    # port on the namespace's loopback where nothing listens, it fails quietly instead of being a
    # refusal in every round's record. (Not --disable-features: it would replace Playwright's list.)
    "--component-updater=url-source=http://127.0.0.1:9/",
)
LAUNCH_TIMEOUT_S = 30.0
FIRST_PORT = 47301  # the previews' ports on the namespace's own loopback: 47301, 47302, ...


class NoBrowser(UserFacingError):
    pass


def find_chromium(configured: str | None) -> Path | None:
    """The Chromium to use: the configured one (a path or a name on PATH), else the first of BROWSERS on
    PATH; None when there is none (or screenshots are off)."""
    if configured is not None and configured.strip().lower() in OFF:
        return None
    names = (configured,) if configured else BROWSERS
    found = next((path for name in names if (path := shutil.which(name))), None)
    return Path(found) if found else None


def browser_problem(settings: Settings) -> str | None:
    """Why this worker cannot take screenshots, with the command that fixes it; None when it can (or
    the operator turned them off). Checked when Honk starts, so the first task does not find out."""
    configured = settings.previews.chromium
    if configured is not None and configured.strip().lower() in OFF:
        return None
    chromium = find_chromium(configured)
    if chromium is None:
        where = f"HONK_PREVIEW_CHROMIUM names {configured!r}, which is not there" if configured else "none on PATH"
        return (
            f"Before/after screenshots need Chromium ({where}). Install it: `{INSTALL}` (Debian/Ubuntu), "
            "or set HONK_PREVIEW_CHROMIUM to its path, or to `off` for no screenshots."
        )
    if importlib.util.find_spec("playwright") is None:
        return "Before/after screenshots need the Python package playwright in Honk's environment: `pip install playwright`."
    try:
        res = subprocess.run([str(chromium), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{chromium} does not start ({e}). Reinstall it: `{INSTALL}`."
    if res.returncode != 0:
        said = (res.stderr.strip() or res.stdout.strip())[-300:]
        return f"{chromium} does not start (exit {res.returncode}: {said}). Reinstall it: `{INSTALL}`."
    return None


def require_chromium(configured: str | None) -> Path:
    chromium = find_chromium(configured)
    if chromium is None:
        if configured is not None and configured.strip().lower() in OFF:
            raise NoBrowser("Screenshots are off on this worker (HONK_PREVIEW_CHROMIUM=off).")
        raise NoBrowser(f"No Chromium here for before/after screenshots. Install it: `{INSTALL}` (Debian/Ubuntu).")
    return chromium


@dataclass(frozen=True)
class Confined:
    browser: Browser
    origins: list[str]  # where the browser loads each preview it was given, in their order


@asynccontextmanager
async def confined_browser(
    sandbox: Sandbox,
    area: Path,
    chromium: Path,
    previews: Sequence[Path] = (),
    egress: EgressPolicy | None = None,
) -> AsyncIterator[Confined]:
    """Chromium, started through the sandbox launcher (phase "preview") in `area` (its own HOME and
    working directory there, removed after), reaching only `previews` (unix sockets, each at its own
    origin) and the egress proxy; closed, with anything it left, on the way out."""
    # Imported here: a worker without playwright starts, and browser_problem tells its operator.
    from playwright.async_api import Error, async_playwright

    work = area / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(area / "sandbox-home", ignore_errors=True)  # nothing kept from an earlier round
    work.mkdir(parents=True)
    # Distinct ports, distinct origins: no preview's storage or service worker is another's.
    reach = tuple((FIRST_PORT + i, socket) for i, socket in enumerate(previews))
    launcher = sandbox.launcher(area, work, [], "preview", egress=egress, reach=reach)
    relays: list[asyncio.Server] = []
    args: list[str] = [*ARGS]
    # Loopback (the previews) is never proxied: Chromium bypasses it implicitly (not Playwright's `proxy`
    # option, which sends loopback through the proxy too).
    if launcher.gateway is not None and launcher.spec is not None:
        args.append(f"--proxy-server=http://127.0.0.1:{EGRESS_PORT}")
    elif launcher.gateway is not None and launcher.gateway.address is not None:  # HONK_SANDBOX=off
        args.append(f"--proxy-server=http://127.0.0.1:{launcher.gateway.address[1]}")
    if launcher.gateway is not None:
        launcher.gateway.command = "the screenshot browser"  # what a refusal is recorded against
    env: dict[str, str | float | bool] = {}  # for the script; it passes on only what pass_env names
    try:
        if launcher.spec is not None:
            origins = [f"http://127.0.0.1:{port}" for port, _ in reach]
        else:  # unsandboxed: no bridge inside; the same ways in, from the host's loopback
            relays = [await _relay(socket) for socket in previews]
            origins = [f"http://127.0.0.1:{r.sockets[0].getsockname()[1]}" for r in relays]
            # A short TMPDIR: Chromium's singleton socket is made in it (at most 107 bytes of path).
            env["TMPDIR"] = tempfile.mkdtemp(prefix="honk-shots-")
        program = launcher.program(chromium, pass_env=tuple(env))
        async with async_playwright() as p:
            try:
                browser = await p.chromium.launch(
                    executable_path=str(program), args=args, env=env, timeout=LAUNCH_TIMEOUT_S * 1000
                )
            except Error as e:  # Chromium did not start (or not in time)
                raise NoBrowser(f"Chromium did not start for screenshots: {str(e).splitlines()[0][:300]}") from e
            try:
                yield Confined(browser, origins)
            finally:
                await browser.close()
    finally:
        for relay in relays:
            relay.close()
        if "TMPDIR" in env:
            shutil.rmtree(str(env["TMPDIR"]), ignore_errors=True)
        launcher.close()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(area / "sandbox-home", ignore_errors=True)


async def _relay(socket: Path) -> asyncio.Server:
    """A port on the host's loopback passed to a preview's socket (what the bridge does inside a sandbox)."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            app_reader, app_writer = await asyncio.open_unix_connection(str(socket))
        except OSError:
            writer.close()
            return
        try:  # until both sides are done (the browser closes its connections when it closes)
            await asyncio.gather(_pipe(reader, app_writer), _pipe(app_reader, writer))
        finally:
            writer.close()
            app_writer.close()

    return await asyncio.start_server(connection, "127.0.0.1", 0)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        pass
