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

import importlib.util
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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


@asynccontextmanager
async def confined_browser(
    sandbox: Sandbox,
    area: Path,
    chromium: Path,
    reach: tuple[tuple[int, Path], ...],
    egress: EgressPolicy | None = None,
) -> AsyncIterator[Browser]:
    """Chromium, started through the sandbox launcher (phase "preview") in `area` (its own HOME and
    working directory there, removed after), reaching only the `reach` ports (each passed to its unix
    socket) and the egress proxy; closed, with anything it left, on the way out."""
    # Imported here: a worker without playwright starts, and browser_problem tells its operator.
    from playwright.async_api import Error, async_playwright

    work = area / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(area / "sandbox-home", ignore_errors=True)  # nothing kept from an earlier round
    work.mkdir(parents=True)
    launcher = sandbox.launcher(area, work, [], "preview", egress=egress, reach=reach)
    args: list[str] = [*ARGS]
    if launcher.gateway is not None and launcher.spec is not None:
        # Loopback (the previews) is never proxied: Chromium bypasses it implicitly (not Playwright's
        # `proxy` option, which sends loopback through the proxy too).
        args.append(f"--proxy-server=http://127.0.0.1:{EGRESS_PORT}")
    if launcher.gateway is not None:
        launcher.gateway.command = "the screenshot browser"  # what a refusal is recorded against
    try:
        program = launcher.program(chromium, pass_env=())
        async with async_playwright() as p:
            try:
                browser = await p.chromium.launch(
                    executable_path=str(program), args=args, env={}, timeout=LAUNCH_TIMEOUT_S * 1000
                )
            except Error as e:  # Chromium did not start (or not in time)
                raise NoBrowser(f"Chromium did not start for screenshots: {str(e).splitlines()[0][:300]}") from e
            try:
                yield browser
            finally:
                await browser.close()
    finally:
        launcher.close()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(area / "sandbox-home", ignore_errors=True)
